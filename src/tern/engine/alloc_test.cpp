// Counts what the engine allocates. An idle connection: 1,000 clients
// connect (3.1.1, clean session, keep alive) and stay idle; the bytes still
// allocated, per connection, must fit the budget below: the endpoint, its
// client_session (client id included) and its share of the worker's session
// tables, nothing else. Fan-out: in steady state, routing a QoS 0 or QoS 1
// message allocates nothing per subscriber. A separate executable: it
// replaces the global operator new.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/heap_counter.hpp"
#include "tern/engine/engine.hpp"
#include "tern/codec/codec.hpp"

namespace tern::engine {
namespace {

struct quiet_endpoint final : endpoint {
  using endpoint::endpoint;
  void wake() override {}
  std::string peer_address() const override { return "127.0.0.1:50000"; }
};

// The budget of an idle connection of a clean session, in heap bytes: its
// endpoint (the session::connection plus at most 32 bytes, engine.cpp
// asserts it; the network layer's connection derives from it and adds its
// own few bytes), its client_session (at most 88 bytes, plus the client id
// in the same block) and its share of the worker's tables (a pointer in
// sessions_, one in slots_, with their spare capacity). Nothing else: no
// copy of the peer's address, no user name, no CONNECT kept, no output.
// Measured (1,000 connections): 128 + 100 + 26 = 254 (the tables: about 17
// bytes in sessions_, 8 in slots_).
constexpr std::size_t id_length = 12;  // "client-00042": kept in the session's block
constexpr std::size_t tables_budget = 32;
constexpr std::size_t budget = sizeof(session::connection) + 32 + 88 + id_length + tables_budget;

TEST(Memory, AnIdleConnectionHoldsOnlyItsEndpointAndSession) {
  constexpr int n = 1000;
  const time_point now{std::chrono::hours(1)};
  hooks h;
  auto store = storage::make_memory_store();
  options o;
  o.sys_interval = std::chrono::seconds(0);
  engine eng(o, h, *store, 1, now);
  auto& w = eng.worker_at(0);

  std::vector<std::vector<std::byte>> connects;
  for (int i = 0; i < n; ++i) {
    connect_packet c;
    c.version = protocol_version::v3_1_1;
    const auto number = std::to_string(i);
    c.client_id = "client-" + std::string(5 - number.size(), '0') + number;
    ASSERT_EQ(c.client_id.size(), id_length);
    c.clean_start = true;
    c.keep_alive = 60;
    connects.push_back(encode(packet{std::move(c)}, protocol_version::v3_1_1));
  }
  std::vector<std::unique_ptr<endpoint>> endpoints;
  endpoints.reserve(n);

  const long before = test::heap::live_bytes();
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<endpoint> ep = std::make_unique<quiet_endpoint>(w, now);
    ep->receive(connects[static_cast<std::size_t>(i)], now);
    ASSERT_TRUE(ep->connect_pending());
    eng.worker_at(eng.owner_of(*ep)).admit(*ep, now);
    ASSERT_TRUE(w.commit());
    ASSERT_TRUE(ep->connection().connected());
    ASSERT_FALSE(ep->output().empty());  // the CONNACK
    ep->output() = write_buffer{};       // written: the network layer takes the output
    endpoints.push_back(std::move(ep));
  }
  const long held = test::heap::live_bytes() - before;
  ASSERT_EQ(w.sessions(), static_cast<std::size_t>(n));

  const auto per_connection = static_cast<std::size_t>(held) / n;
  std::printf("idle connection: %zu heap bytes (endpoint %zu = session::connection %zu + %zu; "
              "client_session <= 88 + id %zu; tables and the rest %zu); budget %zu\n",
              per_connection, sizeof(endpoint), sizeof(session::connection),
              sizeof(endpoint) - sizeof(session::connection), id_length,
              per_connection - sizeof(endpoint) - 88 - id_length, budget);
  EXPECT_LE(per_connection, budget);

  // Everything goes with the connections (the tables keep their capacity).
  endpoints.clear();
  EXPECT_EQ(w.sessions(), 0u);
  EXPECT_LE(test::heap::live_bytes() - before, static_cast<long>(n * tables_budget));
}

// One worker, one publisher and `n` subscribers (3.1.1, clean sessions,
// connected), subscribed to one filter at the QoS of the messages, as
// engine_bench's BM_FanOut. A message goes the whole way a network layer
// takes it in one loop turn: the PUBLISH is read, the worker commits, the
// publisher's output is written; every subscriber's output is written, and
// (QoS 1) its PUBACK read, then the worker commits again.
class fan_out {
 public:
  // PUBACKs for the packet ids 1..max_messages, encoded before any count.
  static constexpr std::uint16_t max_messages = 2'000;

  fan_out(std::size_t n, qos q) : q_(q), eng_(engine_options(), hooks_, *store_, 1, now_) {
    for (std::size_t i = 0; i < n; ++i) {
      auto ep = connect("subscriber-" + std::to_string(i));
      subscribe_packet s;
      s.packet_id = 1;
      s.entries.push_back({"fan/out", subscribe_options{q, false, false, retain_handling::dont_send}});
      ep->receive(encode(packet{std::move(s)}, v_), now_);
      EXPECT_TRUE(eng_.worker_at(0).commit());
      ep->output() = write_buffer{};  // the SUBACK
      subs_.push_back(std::move(ep));
    }
    pub_ = connect("publisher");
    publish_packet m("fan/out", shared_bytes::copy(std::string(64, 'x')), q);
    if (q != qos::at_most_once) m.packet_id = 1;  // acknowledged at once: reusable
    publish_ = encode(packet{m}, v_);
    if (q != qos::at_most_once)
      for (std::uint32_t id = 1; id <= max_messages; ++id)
        acks_.push_back(encode(packet{puback_packet{static_cast<std::uint16_t>(id), reason::success, {}, {}}}, v_));
  }

  // One message, start to end. free_outputs: every output written is
  // dropped, as the network layer does after a complete write (an idle
  // connection holds no write buffer), rather than cleared for reuse.
  void publish_once(bool free_outputs) {
    auto& w = eng_.worker_at(0);
    pub_->receive(publish_, now_);
    EXPECT_TRUE(w.commit());
    drain(*pub_, free_outputs);
    for (auto& s : subs_) {
      EXPECT_FALSE(s->output().empty());  // the message (not dropped, not queued)
      drain(*s, free_outputs);
      if (!acks_.empty()) s->receive(acks_[next_id_ - 1], now_);
    }
    if (!acks_.empty()) {
      EXPECT_TRUE(w.commit());
      ASSERT_LT(next_id_, max_messages);
      ++next_id_;
    }
  }

  // Every subscriber has everything it was sent acknowledged (QoS 1).
  bool settled() {
    for (const auto& s : subs_)
      if (s->connection().session()->inflight() != 0 || !s->connection().session()->queue().empty()) return false;
    return eng_.stats().messages_dropped.load() == 0;
  }

 private:
  static options engine_options() {
    options o;
    o.sys_interval = std::chrono::seconds(0);
    return o;
  }
  static void drain(endpoint& ep, bool free_outputs) {
    (void)ep.output().buffers();  // what the network layer writes
    if (free_outputs) ep.output() = write_buffer{};
    else ep.output().clear();
  }
  std::unique_ptr<endpoint> connect(std::string id) {
    connect_packet c;
    c.version = v_;
    c.client_id = std::move(id);
    c.clean_start = true;
    std::unique_ptr<endpoint> ep = std::make_unique<quiet_endpoint>(eng_.worker_at(0), now_);
    ep->receive(encode(packet{std::move(c)}, v_), now_);
    EXPECT_TRUE(ep->connect_pending());
    eng_.worker_at(0).admit(*ep, now_);
    EXPECT_TRUE(eng_.worker_at(0).commit());
    EXPECT_TRUE(ep->connection().connected());
    ep->output() = write_buffer{};  // the CONNACK
    return ep;
  }

  const protocol_version v_ = protocol_version::v3_1_1;
  const time_point now_{std::chrono::hours(1)};
  qos q_;
  hooks hooks_;
  std::unique_ptr<storage::store> store_ = storage::make_memory_store();
  engine eng_;
  std::vector<std::unique_ptr<endpoint>> subs_;  // after eng_: they go first
  std::unique_ptr<endpoint> pub_;
  std::vector<std::byte> publish_;
  std::vector<std::vector<std::byte>> acks_;
  std::uint16_t next_id_ = 1;
};

// Heap blocks allocated while `messages` messages go out, after `warm_up`
// more have grown the tables (routing's working space, the in-flight
// tables, the write buffers when kept).
constexpr int warm_up = 300;
constexpr int messages = 600;  // over 256: what a std::deque allocates every 256 shows
long allocations(std::size_t subscribers, qos q, bool free_outputs) {
  fan_out f(subscribers, q);
  for (int i = 0; i < warm_up; ++i) f.publish_once(free_outputs);
  const long n = test::heap::count([&] {
    for (int i = 0; i < messages; ++i) f.publish_once(free_outputs);
  });
  EXPECT_TRUE(f.settled());
  return n;
}

// What a write buffer allocates to carry one such message to one
// subscriber when it is dropped after every write: its block, and the
// vector of views buffers() fills (a buffer that is kept keeps both).
long write_buffer_allocations() {
  const publish_packet m("fan/out", shared_bytes::copy(std::string(64, 'x')), qos::at_least_once, false);
  write_buffer w;
  return test::heap::count([&] {
    w.append(m, protocol_version::v3_1_1);
    (void)w.buffers();
    w = write_buffer{};
  });
}

TEST(Memory, FanOutAllocatesNothingPerSubscriber) {
  for (auto q : {qos::at_most_once, qos::at_least_once}) {
    const int qn = static_cast<int>(q);
    // Outputs cleared after each write: what the engine and the session
    // allocate. The same for 10 and 1,000 subscribers: the block the
    // PUBLISH is decoded into, and nothing else.
    const long few = allocations(10, q, false);
    const long many = allocations(1000, q, false);
    std::printf("QoS %d, outputs kept: %.3f allocations per message to 10 subscribers, %.3f to 1,000\n", qn,
                static_cast<double>(few) / messages, static_cast<double>(many) / messages);
    EXPECT_EQ(few, many) << "QoS " << qn;
    EXPECT_EQ(many, messages) << "QoS " << qn;

    // Outputs dropped after each write, as the network layer does (an idle
    // connection holds no write buffer): per subscriber, the write
    // buffer's own allocations, nothing more.
    const long few_freed = allocations(10, q, true);
    const long many_freed = allocations(1000, q, true);
    const long wb = write_buffer_allocations();
    std::printf("QoS %d, outputs dropped after each write: %.3f to 10, %.3f to 1,000: %.3f per subscriber "
                "(a write buffer's: %ld)\n",
                qn, static_cast<double>(few_freed) / messages, static_cast<double>(many_freed) / messages,
                static_cast<double>(many_freed - few_freed) / (990.0 * messages), wb);
    EXPECT_EQ(many_freed - few_freed, 990L * messages * wb) << "QoS " << qn;
  }
}

}  // namespace
}  // namespace tern::engine
