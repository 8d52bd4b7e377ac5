// What an idle connection costs: its size, and the heap it holds. A broker
// keeps one connection per client, most of them idle, so an accepted server
// connection with no packet half received and its output taken by the
// network layer must hold no heap memory at all. Counted with a replaced
// global operator new/delete (a separate executable for that reason).
#include <gtest/gtest.h>

#include "support/heap_counter.hpp"
#include "tern/session/connection.hpp"

namespace tern::session {
namespace {

using namespace std::chrono_literals;

const time_point t0 = time_point{} + 1h;

// Heap blocks allocated and not yet freed.
using test::heap::live_blocks;

// A state's containers that were never changed read as shared static empty
// ones, made once per process on first use: made here, before any count.
class Idle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const state warm;
    (void)warm.queue();
    (void)warm.outgoing_order();
    (void)warm.outgoing_messages();
    (void)warm.incoming_qos2_ids();
  }
};

// The budgets (x86-64; see connection.cpp for the field list): a decoder
// between packets is its inline state and one pointer, a write_buffer one
// pointer, a connection 96 bytes. Growing one costs every idle client of a
// broker the difference.
static_assert(sizeof(void*) != 8 || sizeof(decoder_core) == 16);
static_assert(sizeof(void*) != 8 || sizeof(decoder) <= 24);
static_assert(sizeof(write_buffer) == sizeof(void*));
static_assert(sizeof(void*) != 8 || sizeof(connection) <= 96);

struct quiet : handler {
  bool accept_inline = false;
  connection* c = nullptr;
  state* s = nullptr;
  int connects = 0, publishes = 0;
  void on_connect(connect_packet&&) override {
    ++connects;
    if (accept_inline) c->accept(*s, {}, t0);
  }
  void on_publish(publish_packet&&) override { ++publishes; }
};

std::vector<std::byte> connect_bytes(protocol_version v, std::uint16_t keep_alive = 30) {
  connect_packet c;
  c.version = v;
  c.client_id = "a-client-id-longer-than-sso";
  c.clean_start = true;
  c.keep_alive = keep_alive;
  return encode(packet{c}, v);
}

std::vector<std::byte> publish_bytes(protocol_version v) {
  publish_packet p("sensors/kitchen/temperature", shared_bytes::copy(std::string(64, 'x')), qos::at_most_once);
  return encode(packet{p}, v);
}

void take_output(connection& c, bool swap) {
  if (swap) {
    write_buffer taken;
    std::swap(taken, c.output());  // as the client's network layer does
    EXPECT_FALSE(taken.empty());
  } else {
    EXPECT_FALSE(c.output().empty());
    c.output() = write_buffer{};  // as the broker's network layer does
  }
}

TEST_F(Idle, AnAcceptedServerConnectionHoldsNoHeap) {
  const options shared{};
  for (auto v : {protocol_version::v3_1_1, protocol_version::v5}) {
    for (bool swap : {false, true}) {
      state st;  // the session outlives the connection: not counted
      quiet h;
      const auto bytes = connect_bytes(v);
      const auto p = publish_bytes(v);
      const auto ping = encode(packet{pingreq_packet{}}, v);
      const long before = live_blocks();
      {
        connection c(role::server, h, shared, t0, shared_options);
        EXPECT_EQ(&c.local(), &shared);  // referred to, not copied
        c.receive(bytes, t0);
        ASSERT_EQ(h.connects, 1);
        c.accept(st, {}, t0);
        ASSERT_TRUE(c.connected());
        take_output(c, swap);
        EXPECT_EQ(live_blocks() - before, 0) << "after accept, version " << static_cast<int>(v);

        // Traffic that leaves nothing behind: QoS 0 in, PINGREQ -> PINGRESP.
        c.receive(p, t0 + 1s);
        EXPECT_EQ(h.publishes, 1);
        c.receive(ping, t0 + 2s);
        take_output(c, swap);
        EXPECT_EQ(live_blocks() - before, 0) << "after traffic, version " << static_cast<int>(v);

        // A packet split across reads holds its part only until it completes.
        bytes_view a(p.data(), 10), b(p.data() + 10, p.size() - 10);
        c.receive(a, t0 + 3s);
        EXPECT_GT(live_blocks() - before, 0);
        c.receive(b, t0 + 3s);
        EXPECT_EQ(h.publishes, 2);
        EXPECT_EQ(live_blocks() - before, 0) << "after a split packet, version " << static_cast<int>(v);
        EXPECT_FALSE(c.closing());
        EXPECT_TRUE(c.next_timeout());  // keep alive still enforced
      }
      EXPECT_EQ(live_blocks() - before, 0);
    }
  }
}

TEST_F(Idle, HeldPacketsAndAnInlineAcceptLeaveNothing) {
  const options shared{};
  state st;
  // The CONNECT split in two and a PINGREQ held while the CONNECT awaits
  // its answer; then accepted later.
  {
    quiet h;
    auto bytes = connect_bytes(protocol_version::v5);
    const auto ping = encode(packet{pingreq_packet{}}, protocol_version::v5);
    bytes.insert(bytes.end(), ping.begin(), ping.end());
    const long before = live_blocks();
    connection c(role::server, h, shared, t0, shared_options);
    bytes_view a(bytes.data(), 5), b(bytes.data() + 5, bytes.size() - 5);
    c.receive(a, t0);
    c.receive(b, t0);
    c.accept(st, {}, t0);
    c.output() = write_buffer{};
    EXPECT_EQ(live_blocks() - before, 0);
  }
  // Accepted from inside on_connect.
  {
    quiet h;
    const auto bytes = connect_bytes(protocol_version::v3_1_1);
    const long before = live_blocks();
    connection c(role::server, h, shared, t0, shared_options);
    h.accept_inline = true;
    h.c = &c;
    h.s = &st;
    c.receive(bytes, t0);
    EXPECT_TRUE(c.connected());
    c.output() = write_buffer{};
    EXPECT_EQ(live_blocks() - before, 0);
  }
}

TEST_F(Idle, CopiedOptionsCostOneBlockUnlessTheDefaults) {
  state st;
  quiet h;
  auto bytes = connect_bytes(protocol_version::v5);
  {
    // The defaults are not copied.
    const long before = live_blocks();
    connection c(role::server, h, {}, t0);
    c.receive(bytes, t0);
    c.accept(st, {}, t0);
    c.output() = write_buffer{};
    EXPECT_EQ(live_blocks() - before, 0);
  }
  {
    // Others are: the copy is the one block left (prefer shared_options).
    options o;
    o.auto_acknowledge = false;
    const long before = live_blocks();
    connection c(role::server, h, o, t0);
    c.receive(bytes, t0);
    c.accept(st, {}, t0);
    c.output() = write_buffer{};
    EXPECT_EQ(live_blocks() - before, 1);
    EXPECT_FALSE(c.local().auto_acknowledge);
  }
}

// A QoS 1 flow that keeps going (a subscriber that acknowledges every
// message): once the tables have grown, sending and acknowledging allocate
// nothing, however long it runs (std::deque, which the send order once was,
// allocated a block every 256 messages).
TEST(InFlight, SendAndAcknowledgeAllocateNothingOnceGrown) {
  state s;
  const publish_packet m("t", shared_bytes::copy(std::string(64, 'x')), qos::at_least_once);
  auto one = [&](std::size_t window) {
    while (s.inflight() < window) {
      auto id = s.allocate_packet_id();
      ASSERT_TRUE(id);
      publish_packet out = m;  // shares the payload: no allocation
      out.packet_id = *id;
      s.add_outgoing(std::move(out));
    }
    ASSERT_TRUE(s.remove_outgoing(s.outgoing_order().front()));
  };
  for (int i = 0; i < 1000; ++i) one(1 + i % 4);  // grows the tables
  const long n = test::heap::count([&] {
    for (int i = 0; i < 70'000; ++i) one(1 + i % 4);  // every packet id, round the ring many times
  });
  EXPECT_EQ(n, 0);
}

TEST_F(Idle, TheCounterCounts) {
  static int* volatile p = nullptr;
  const long before = test::heap::allocations();
  p = new int(3);
  EXPECT_EQ(live_blocks() > 0, true);
  delete p;
  EXPECT_EQ(test::heap::allocations() - before, 1);
}

}  // namespace
}  // namespace tern::session
