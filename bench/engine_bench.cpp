// Broker engine micro-benchmarks: the publish path, from the publisher's
// PUBLISH bytes to the bytes in every subscriber's write_buffer. One engine,
// a memory store, N subscribers (1, 10, 1000) connected and subscribed, one
// publisher; each iteration routes one pre-encoded PUBLISH (64-byte payload).
//
//   cmake --preset release && cmake --build build/release --target engine_bench
//   build/release/bin/engine_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Cases:
//   BM_FanOut            N subscribers to one filter ("bench/fanout/x"), 1 worker, 3.1.1 and 5.0.
//   BM_FanOutWildcards   N subscribers to N distinct filters that all match
//                        ("#", "+/#", "a/+/c/#", ...; a 9-level topic), 1 worker, 3.1.1:
//                        the subscription trie walks many nodes.
//   BM_FanOutCrossWorker BM_FanOut with 2 workers: the publisher on worker 0, every
//                        subscriber owned by worker 1; route -> deliver_outboxes -> deliver,
//                        on one thread (no real posting between threads).
//   BM_FanOutPersistent  BM_FanOut, QoS 1, 3.1.1, subscribers with persistent sessions
//                        (Clean Session 0): every in-flight message is journaled in the
//                        memory store (make_memory_store) and removed on PUBACK.
//   BM_ParallelWorkers   2 workers on 2 threads at once, each publishing QoS 0 (3.1.1) to N
//                        subscribers of its own: what workers share on the publish path
//                        (the subscription index's lock, the statistics) costs here.
//
// What one iteration does (all of it timed), as a network layer's loop turns would:
//   - the publisher endpoint receives the PUBLISH; worker 0 commits;
//   - [cross-worker] worker 0's outbox is taken, delivered on worker 1, which commits;
//   - the publisher's output (PUBACK for QoS 1) is cleared;
//   - QoS 1: every subscriber receives the PUBACK of the message it just got, then
//     the subscribers' worker commits once (one loop turn with N readable sockets),
//     so no in-flight window fills: QoS 1 time = route + N enqueues + N acks,
//     as a broker really does it (the ack is part of the cost of a QoS 1 delivery);
//   - every subscriber's output is cleared, as a network layer does after each write:
//     no queue grows and no QoS 0 message is dropped for backlog. clear() is a few
//     stores per subscriber; it is counted, not hidden with PauseTiming (which costs
//     more than what it would hide).
// QoS is the publish's and the subscriptions' (QoS 0 -> QoS 0 subscribers, QoS 1 ->
// QoS 1 subscribers). Time per iteration is the time per message; items_per_second
// counts deliveries (N per message). After the run, every subscriber must have
// received every message and have nothing in flight, else the case fails.
//
// Client ids are 22 characters ("bench-" + 16 hex digits of a mixed counter):
// longer than std::string's 15-character inline buffer, as most real ids are,
// and not in sorted order. The counter allocs_per_msg is the number of
// operator new calls per message (this program replaces operator new to count
// them; malloc calls outside operator new are not counted).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "tern/engine/engine.hpp"
#include "tern/codec/codec.hpp"
#include "tern/storage/storage.hpp"

namespace {
// Counted on the thread that allocates: the benchmark runs on one thread, and
// a plain counter costs nothing next to malloc (an atomic one would).
thread_local std::uint64_t allocations = 0;

// A broker runs several threads, and so does this program, from the start:
// while a process has only one thread, glibc and libstdc++ skip the atomic
// instructions of a mutex and of std::shared_ptr's counts (the payloads'),
// which would make every case cheaper than it is in a broker.
[[maybe_unused]] const bool multi_threaded = [] {
  std::thread([] {}).join();
  return true;
}();
}  // namespace

// Counting replacements of the global allocation functions (the aligned
// forms keep their defaults). GCC, seeing both sides inlined, takes free() of
// what operator new returned for a mismatch: it is not one here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

using namespace tern;
using engine::endpoint;

struct null_endpoint final : endpoint {
  using endpoint::endpoint;
  void wake() override {}
  std::string peer_address() const override { return "127.0.0.1:50000"; }
};

// Every PUBACK a subscriber may have to send (packet ids 1..65535), encoded
// once: 4 bytes each in 3.1.1 and in 5.0 (shortest form).
class puback_table {
 public:
  explicit puback_table(protocol_version v) : bytes_(65'536 * 4) {
    for (std::uint32_t id = 1; id <= 65'535; ++id) {
      const packet p = puback_packet{static_cast<std::uint16_t>(id), reason::success, {}, {}};
      if (encoded_size(p, v) != 4) throw std::logic_error("PUBACK is not 4 bytes");
      encode_to(p, v, bytes_.data() + id * 4);
    }
  }
  bytes_view operator[](std::uint16_t id) const { return {bytes_.data() + std::size_t{id} * 4, 4}; }

 private:
  std::vector<std::byte> bytes_;
};

enum class layout { one_filter, wildcards, cross_worker, persistent, parallel };

constexpr const char* fanout_topic = "bench/fanout/x";
constexpr const char* parallel_topics[] = {"bench/parallel/0", "bench/parallel/1"};
constexpr const char* wildcard_topic = "a/b/c/d/e/f/g/h/i";  // 9 levels: 1,535 distinct matching filters

// A client id: 22 characters, in no particular order.
std::string client_id(std::uint64_t k) {
  std::uint64_t z = k + 0x9E3779B97F4A7C15u;  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  z ^= z >> 31;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(z));
  return "bench-" + std::string(hex, 16);
}

// Distinct filters that all match wildcard_topic: every level literal or '+'
// (512), and every prefix of 0..9 such levels followed by '#' (1,023).
std::vector<std::string> matching_filters(std::size_t n) {
  const std::vector<std::string> levels{"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  std::vector<std::string> out;
  auto build = [&](std::size_t count, unsigned mask, bool hash) {
    std::string f;
    for (std::size_t i = 0; i < count; ++i) {
      if (i) f += '/';
      f += (mask >> i) & 1u ? std::string("+") : levels[i];
    }
    if (hash) f += count ? "/#" : "#";
    out.push_back(std::move(f));
  };
  // '#' forms first, shortest prefixes first, so a small N mixes both wildcards.
  for (std::size_t k = 0; k <= levels.size() && out.size() < n; ++k)
    for (unsigned m = 0; m < (1u << k) && out.size() < n; ++m) build(k, m, true);
  for (unsigned m = 0; m < (1u << levels.size()) && out.size() < n; ++m) build(levels.size(), m, false);
  return out;
}

engine::options engine_options() {
  engine::options o;
  o.sys_interval = std::chrono::seconds(0);
  return o;
}

// One engine with its subscribers and publisher, connected and subscribed;
// or (layout::parallel) one worker's side of an engine shared with another rig.
class rig {
 public:
  rig(layout l, std::size_t subscribers, qos q, protocol_version v)
      : rig(nullptr, l, l == layout::cross_worker ? 2 : 1, 0, subscribers, q, v) {}
  // Worker `worker` of `shared` (2 workers): a publisher and `subscribers`
  // subscribers of parallel_topics[worker], all owned by that worker.
  rig(engine::engine& shared, std::size_t worker, std::size_t subscribers, qos q, protocol_version v)
      : rig(&shared, layout::parallel, 2, worker, subscribers, q, v) {}

 private:
  rig(engine::engine* shared, layout l, std::size_t workers, std::size_t side, std::size_t subscribers, qos q,
      protocol_version v)
      : v_(v), q_(q) {
    if (!shared) own_ = std::make_unique<engine::engine>(engine_options(), hooks_, *store_, workers, now_);
    eng_ = shared ? shared : own_.get();
    pub_worker_ = side;
    sub_worker_ = l == layout::cross_worker ? 1 : side;  // cross-worker: every subscriber on worker 1
    const std::string topic = l == layout::wildcards ? wildcard_topic
                              : l == layout::parallel ? parallel_topics[side]
                                                      : fanout_topic;

    const auto filters = l == layout::wildcards ? matching_filters(subscribers) : std::vector<std::string>{};
    if (l == layout::wildcards && filters.size() != subscribers) throw std::logic_error("too few filters");
    // (Client ids of a parallel rig start where the other side's cannot reach.)
    for (std::size_t i = 0, k = side * 10'000'000; subs_.size() < subscribers; ++k) {
      std::string id = client_id(k);
      if (eng_->owner_of(id) != sub_worker_) continue;
      auto ep = connect(std::move(id), sub_worker_, l != layout::persistent);
      subscribe(*ep, l == layout::wildcards ? filters[i] : topic);
      subs_.push_back(std::move(ep));
      ++i;
    }
    std::string pub_id = "bench-publisher-000000";
    for (int k = 1; eng_->owner_of(pub_id) != pub_worker_; ++k)
      pub_id = "bench-publisher-" + std::to_string(100'000 + k);
    pub_ = connect(std::move(pub_id), pub_worker_, true);

    publish_packet m(topic, shared_bytes::copy(std::string(64, 'x')), q);
    if (q != qos::at_most_once) m.packet_id = 1;  // acknowledged at once: reusable every time
    publish_ = encode(packet{m}, v);
    if (q != qos::at_most_once) acks_ = std::make_unique<puback_table>(v);

    check_first_delivery();
  }

 public:
  // One message: publish, carry batches, commit, acknowledge (QoS 1), flush
  // outputs. False when a commit failed.
  bool publish_once() {
    pub_->receive(publish_, now_);
    bool ok = commit(pub_worker_);
    if (sub_worker_ != pub_worker_) {
      eng_->deliver_outboxes(now_);
      ok = commit(sub_worker_) && ok;
    }
    pub_->output().clear();
    if (acks_) {
      const auto ack = (*acks_)[next_id_];
      for (auto& s : subs_) {
        s->output().clear();
        s->receive(ack, now_);
      }
      ok = commit(sub_worker_) && ok;
      next_id_ = next_id_ == 65'535 ? 1 : static_cast<std::uint16_t>(next_id_ + 1);
    } else {
      for (auto& s : subs_) s->output().clear();
    }
    return ok;
  }

  // Empty when every message reached every subscriber and nothing is in
  // flight. `sent`: the engine's deliveries expected (default: this rig's).
  std::string verify(std::uint64_t messages, std::optional<std::uint64_t> sent = std::nullopt) const {
    auto& st = eng_->stats();
    const auto expected = sent.value_or((messages + 1) * subs_.size());  // + the first, checked delivery
    if (eng_->worker_at(pub_worker_).uncommitted() || eng_->worker_at(sub_worker_).uncommitted())
      return "changes left uncommitted";
    if (st.messages_dropped.load() != 0) return "messages dropped: " + std::to_string(st.messages_dropped.load());
    if (st.messages_sent.load() != expected)
      return "sent " + std::to_string(st.messages_sent.load()) + ", expected " + std::to_string(expected);
    for (const auto& s : subs_) {
      const auto* state = s->connection().session();
      if (!state || state->inflight() != 0 || !state->queue().empty()) return "a subscriber has messages in flight";
    }
    return {};
  }

 private:
  bool commit(std::size_t worker) { return static_cast<bool>(eng_->worker_at(worker).commit()); }

  // clean: a session that ends with the connection; else one that persists
  // (3.1.1: Clean Session 0; 5.0: Session Expiry Interval 1 hour).
  std::unique_ptr<endpoint> connect(std::string id, std::size_t worker, bool clean) {
    connect_packet c;
    c.version = v_;
    c.client_id = std::move(id);
    c.clean_start = clean;
    if (!clean && v_ == protocol_version::v5)
      c.props = properties::builder{}.add<property_id::session_expiry_interval>(3600).build();
    c.keep_alive = 0;
    std::unique_ptr<endpoint> ep = std::make_unique<null_endpoint>(eng_->worker_at(worker), now_);
    ep->receive(encode(packet{std::move(c)}, v_), now_);
    if (!ep->connect_pending()) throw std::logic_error("CONNECT not pending");
    eng_->worker_at(eng_->owner_of(*ep)).admit(*ep, now_);
    if (!commit(eng_->owner_of(*ep))) throw std::runtime_error("commit failed");
    expect<connack_packet>(*ep);
    return ep;
  }

  void subscribe(endpoint& ep, std::string filter) {
    subscribe_packet s;
    s.packet_id = 1;
    s.entries.push_back({std::move(filter), subscribe_options{q_, false, false, retain_handling::dont_send}});
    ep.receive(encode(packet{std::move(s)}, v_), now_);
    if (!commit(sub_worker_)) throw std::runtime_error("commit failed");
    auto ack = expect<suback_packet>(ep);
    if (ack.reason_codes.size() != 1 || ack.reason_codes[0] != static_cast<reason>(q_))
      throw std::logic_error("subscription not granted");
  }

  // Decodes the one packet in `ep`'s output, and clears it.
  template <class P>
  P expect(endpoint& ep) {
    decoder d({v_});
    std::vector<packet> got;
    for (bytes_view b : ep.output().buffers()) {
      while (!b.empty()) {
        auto r = d.next(b);
        if (!r) throw std::logic_error("undecodable output: " + r.error().message());
        if (*r) got.push_back(std::move(**r));
      }
    }
    ep.output().clear();
    if (got.size() != 1 || !std::holds_alternative<P>(got[0])) throw std::logic_error("unexpected output");
    return std::get<P>(std::move(got[0]));
  }

  // The first message, decoded at every subscriber: the packet ids the
  // benchmark acknowledges blindly start at 1 (verify() checks the rest).
  void check_first_delivery() {
    pub_->receive(publish_, now_);
    bool ok = commit(pub_worker_);
    eng_->deliver_outboxes(now_);
    ok = commit(sub_worker_) && ok;
    pub_->output().clear();
    for (auto& s : subs_) {
      auto m = expect<publish_packet>(*s);
      if (m.qos != q_ || m.payload().size() != 64) throw std::logic_error("unexpected delivery");
      if (acks_) {
        if (m.packet_id != next_id_) throw std::logic_error("unexpected packet id");
        s->receive((*acks_)[next_id_], now_);
        s->output().clear();
      }
    }
    if (acks_) next_id_ = static_cast<std::uint16_t>(next_id_ + 1);
    if (!(commit(sub_worker_) && ok)) throw std::runtime_error("commit failed");
  }

  protocol_version v_;
  qos q_;
  std::size_t pub_worker_ = 0;
  std::size_t sub_worker_ = 0;
  engine::time_point now_{std::chrono::hours(1)};
  engine::hooks hooks_;
  std::unique_ptr<storage::store> store_ = storage::make_memory_store();
  std::unique_ptr<engine::engine> own_;  // before the endpoints: they go first
  engine::engine* eng_ = nullptr;        // own_, or the engine a parallel rig shares
  std::vector<std::unique_ptr<endpoint>> subs_;
  std::unique_ptr<endpoint> pub_;
  std::vector<std::byte> publish_;
  std::unique_ptr<puback_table> acks_;
  std::uint16_t next_id_ = 1;
};

// Args: subscribers, QoS, version (4 or 5).
void run(benchmark::State& state, layout l) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto q = static_cast<qos>(state.range(1));
  const auto v = state.range(2) == 5 ? protocol_version::v5 : protocol_version::v3_1_1;
  rig r(l, n, q, v);
  const auto before = allocations;
  bool ok = true;
  for (auto _ : state) ok = r.publish_once() && ok;
  if (!ok) state.SkipWithError("a commit failed");
  const auto allocs = allocations - before;
  if (auto e = r.verify(state.iterations()); ok && !e.empty()) state.SkipWithError(e.c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.counters["deliveries"] = static_cast<double>(n);
  state.counters["allocs_per_msg"] =
      static_cast<double>(allocs) / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
}

// Two workers at once, one thread each (Args: subscribers per worker). Each
// thread publishes QoS 0 (3.1.1) to its own worker's subscribers of its own
// topic: nothing crosses workers, but both read the one subscription index
// for every message. Time: wall time per message, the two threads' messages
// together (ideally half of BM_FanOut's); CPU: per message.
struct parallel_engine {
  explicit parallel_engine(std::size_t subscribers) {
    for (std::size_t w = 0; w < 2; ++w)
      sides.push_back(std::make_unique<rig>(eng, w, subscribers, qos::at_most_once, protocol_version::v3_1_1));
  }
  engine::hooks hooks;
  std::unique_ptr<storage::store> store = storage::make_memory_store();
  engine::engine eng{engine_options(), hooks, *store, 2, engine::time_point{std::chrono::hours(1)}};
  std::vector<std::unique_ptr<rig>> sides;  // after eng: its endpoints go first
};

void BM_ParallelWorkers(benchmark::State& state) {
  static std::unique_ptr<parallel_engine> shared;  // made and checked by thread 0
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto side = static_cast<std::size_t>(state.thread_index());
  if (side == 0) shared = std::make_unique<parallel_engine>(n);
  const auto before = allocations;
  bool ok = true;
  // (The loop starts and ends with every thread: `shared` is ready in it.)
  for (auto _ : state) ok = shared->sides[side]->publish_once() && ok;
  if (!ok) state.SkipWithError("a commit failed");
  const auto allocs = allocations - before;
  if (side == 0) {
    const auto sent = 2 * (static_cast<std::uint64_t>(state.iterations()) + 1) * n;  // as many iterations per thread
    for (const auto& r : shared->sides)
      if (auto e = r->verify(state.iterations(), sent); ok && !e.empty()) state.SkipWithError(e.c_str());
    shared.reset();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.counters["deliveries"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgThreads);
  state.counters["allocs_per_msg"] = benchmark::Counter(
      static_cast<double>(allocs) / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1)),
      benchmark::Counter::kAvgThreads);
}

void BM_FanOut(benchmark::State& state) { run(state, layout::one_filter); }
void BM_FanOutWildcards(benchmark::State& state) { run(state, layout::wildcards); }
void BM_FanOutCrossWorker(benchmark::State& state) { run(state, layout::cross_worker); }
void BM_FanOutPersistent(benchmark::State& state) { run(state, layout::persistent); }

void args(benchmark::internal::Benchmark* b, std::initializer_list<int> versions,
          std::initializer_list<int> qos = {0, 1}) {
  for (int v : versions)
    for (int q : qos)
      for (int n : {1, 10, 1000}) b->Args({n, q, v});
  b->ArgNames({"subs", "qos", "v"});
}
BENCHMARK(BM_FanOut)->Apply([](auto* b) { args(b, {4, 5}); });
BENCHMARK(BM_FanOutWildcards)->Apply([](auto* b) { args(b, {4}); });
BENCHMARK(BM_FanOutCrossWorker)->Apply([](auto* b) { args(b, {4}); });
BENCHMARK(BM_FanOutPersistent)->Apply([](auto* b) { args(b, {4}, {1}); });
BENCHMARK(BM_ParallelWorkers)->Arg(1)->Arg(10)->Arg(1000)->ArgName("subs")->Threads(2)->UseRealTime();

}  // namespace
