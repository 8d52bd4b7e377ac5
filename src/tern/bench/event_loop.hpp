// tern/bench/event_loop.hpp (internal to tern::bench): one thread of the
// load generator, and what its threads share: the connections (publishers,
// subscribers, idle ones) with their encoded PUBLISH template, packet ids and
// sequence trackers; each publisher's stream counters; the run's phase. A
// loop drives a net::reactor (tern/net/reactor.hpp, the broker's event
// loop), its connections watched level-triggered; each turn ends with one
// write per connection that has something to send.
//
//   run_state rs(o);                                   // runner.cpp fills it
//   rs.loops.push_back(std::make_unique<event_loop>(rs));
//   rs.loops[0]->add(&conn);
//   rs.loops[0]->start();  ...  rs.set_phase(phase::stopping);  rs.loops[0]->join();
//
// Thread safety: run_state's atomics and fail()/note_disconnect() from any
// loop; a loop's connections and counters on its own thread (counters read
// after join(), received_live and waiting while running).
#pragma once

#include <netinet/in.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tern/bench/histogram.hpp"
#include "tern/bench/options.hpp"
#include "tern/bench/sequence.hpp"
#include "tern/codec/codec.hpp"
#include "tern/net/byte_filter.hpp"
#include "tern/net/reactor.hpp"

namespace tern::bench::detail {

constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t ms = 1'000'000;
constexpr std::uint64_t s = 1'000'000'000;
// A publisher whose socket holds this much unwritten output waits for it to drain.
constexpr std::size_t high_water = 1 << 20;

inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}
inline std::uint64_t to_ns(double seconds) noexcept { return static_cast<std::uint64_t>(std::llround(seconds * 1e9)); }
inline double to_s(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }
inline std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

enum class phase : int { connecting = 0, running, draining, stopping };

struct alignas(64) padded_counter {
  std::atomic<std::uint64_t> value{0};
};

// One publisher's stream, shared between the loop that publishes it and the
// loops whose subscribers receive it.
struct stream_state {
  padded_counter sent;
  // How far each receiver of the stream has come (see `reached` below); the
  // publisher may run `window` messages ahead of the slowest.
  std::unique_ptr<padded_counter[]> reached;
  std::uint32_t receivers = 0;
};

// A receiver as the scenario counts it: one subscriber, or a $share group.
// What it reports as `reached` for a stream: one subscriber, the highest
// number seen + 1 (MQTT keeps a publisher's order to one subscriber, so a gap
// is a loss and must not close the window for good); a group at QoS 1/2, the
// messages received (members see a stream out of order); a group at QoS 0,
// the highest number any member has seen + 1 (losses again).
struct sink_state {
  std::uint32_t members = 0;
  std::uint32_t stream_base = 0;
  std::uint32_t stream_count = 0;
  std::uint32_t slot = 0;  // its index in reached[] of its streams
};

struct connection {
  enum class role : std::uint8_t { publisher, subscriber, idle };
  enum class state : std::uint8_t { waiting, connecting, connack, suback, ready, closed };

  role kind = role::idle;
  state st = state::waiting;
  int fd = -1;
  std::uint32_t index = 0;
  std::string client_id;
  decoder dec;
  packet in;
  std::vector<std::byte> out;  // encoded, not yet written: out[out_at..]
  std::size_t out_at = 0;
  std::unique_ptr<net::byte_filter> tls;  // with --tls: the TLS layer over fd (owns it)
  bool dirty = false;    // in its loop's list of connections to flush
  bool writing = false;  // the socket was full: it is watched for writable too
  std::uint64_t last_sent_ns = 0;
  std::uint32_t receive_max = 65535;

  // Publisher
  std::uint32_t stream = 0;
  std::string topic;
  std::vector<std::byte> tmpl;  // the PUBLISH, encoded once by the codec
  std::size_t id_at = 0;        // where the packet id sits in it (QoS 1/2)
  std::size_t stamp_at = 0;     // where the payload starts
  std::uint64_t seq = 0;
  std::uint32_t inflight = 0;
  std::uint32_t inflight_cap = 0;
  std::uint16_t next_id = 1;
  std::vector<std::uint64_t> ids;  // packet ids in use, a bit each
  std::uint64_t start_offset_ns = 0;
  std::uint64_t planned = 0;  // PUBLISHes to write this turn (event_loop::plan)

  // Subscriber
  std::string filter;
  std::uint32_t sink = 0;
  std::uint32_t stream_base = 0;
  std::vector<sequence_tracker> trackers;  // per stream, from stream_base
  std::vector<std::uint64_t> advanced;     // per tracker: arrivals not yet reported (groups, QoS 1/2)
  std::vector<std::uint8_t> touched;       // per tracker: reached[] to update at the end of the turn
  bool any_touched = false;

  std::size_t pending() const noexcept { return out.size() - out_at; }
  bool id_used(std::uint16_t id) const noexcept { return (ids[id >> 6] >> (id & 63u)) & 1u; }
  void set_id(std::uint16_t id, bool used) noexcept {
    const std::uint64_t bit = std::uint64_t{1} << (id & 63u);
    if (used) ids[id >> 6] |= bit;
    else ids[id >> 6] &= ~bit;
  }
  std::uint16_t take_id() noexcept {
    for (;;) {
      const std::uint16_t id = next_id;
      next_id = id == 65535 ? 1 : static_cast<std::uint16_t>(id + 1);
      if (!id_used(id)) {
        set_id(id, true);
        return id;
      }
    }
  }
};

class event_loop;

struct run_state {
  explicit run_state(const options& opts) : o(opts) {}

  const options& o;
  sockaddr_in broker{};
  std::shared_ptr<const net::byte_filter_maker> tls;  // with --tls
  std::uint32_t copies = 1;  // receivers per message
  bool count_groups = false;  // $share groups report arrivals (QoS 1/2), not the highest number
  std::uint64_t rate_interval_ns = 0;
  std::unique_ptr<stream_state[]> streams;
  std::uint32_t stream_count = 0;
  std::vector<sink_state> sinks;
  std::vector<std::unique_ptr<event_loop>> loops;

  std::atomic<int> current{static_cast<int>(phase::connecting)};
  std::atomic<std::uint64_t> t0{0};     // publishing starts
  std::atomic<std::uint64_t> t_end{0};  // publishing stops (0 until the run starts)
  std::atomic<std::uint32_t> ready{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::string error;
  std::string disconnect_reason;

  phase now_phase() const noexcept { return static_cast<phase>(current.load(std::memory_order_acquire)); }
  void set_phase(phase p) noexcept { current.store(static_cast<int>(p), std::memory_order_release); }
  void fail(std::string what) {
    std::lock_guard lock(mutex);
    if (error.empty()) error = std::move(what);
    failed.store(true);
  }
  void note_disconnect(std::string what) {
    std::lock_guard lock(mutex);
    if (disconnect_reason.empty()) disconnect_reason = std::move(what);
  }
};

// One generator thread: a reactor (tern/net/reactor.hpp) whose turns it
// drives, its connections watched level-triggered.
class event_loop final : public net::reactor::handler {
 public:
  explicit event_loop(run_state& rs) : rs_(rs), loop_(1024), rbuf_(256 * 1024) {
    // Paces publishers at a fixed rate (see arm_pace).
    pace_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (pace_fd_ < 0) throw std::runtime_error(errno_text("timerfd_create"));
    if (!loop_.watch(pace_fd_, pace_token, net::watch_mode::readable)) throw std::runtime_error(errno_text("epoll_ctl"));
    const auto per_loop = rs.o.connect_concurrency / static_cast<std::uint32_t>(rs.o.threads);
    concurrency_ = std::max<std::uint32_t>(1, per_loop);
  }
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;
  ~event_loop() {
    join();  // the thread closed its connections (shutdown_all)
    ::close(pace_fd_);
  }

  void add(connection* c) {
    conns_.push_back(c);
    if (c->kind == connection::role::publisher) pubs_.push_back(c);
  }
  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  void wake() noexcept { loop_.wake(); }

  // Read after join().
  histogram latency;
  std::uint64_t received = 0;
  std::uint64_t received_in_run = 0;
  std::uint64_t unexpected = 0;
  std::uint64_t refused = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t pings = 0;
  std::uint64_t writes = 0;
  std::uint64_t reads = 0;
  std::uint32_t min_receive_max = 0;
  // Read while running.
  std::atomic<std::uint64_t> received_live{0};
  std::atomic<bool> waiting{false};

 private:
  // The pace timer's token (a connection's is its address: even, not 0).
  static constexpr std::uint64_t pace_token = 1;

  void run();
  // net::reactor::handler
  void on_ready(std::uint64_t token, std::uint32_t ready_bits, net::time_point now) override;
  void end_turn(net::time_point now) override;
  net::time_point next_deadline() const override { return deadline_; }
  void turn_began(net::time_point now);
  void start_connects();
  void begin_connect(connection& c);
  void on_event(connection& c, std::uint32_t events);
  void on_connected(connection& c);
  void on_readable(connection& c);
  void on_packet(connection& c, std::uint64_t now);
  void on_publish(connection& c, const publish_packet& p, std::uint64_t now);
  void became_ready(connection& c);
  std::uint64_t budget(connection& c, std::uint64_t now, std::uint64_t& next_due) const;
  std::uint64_t due_at(const connection& c, std::uint64_t seq) const noexcept;
  bool plan(std::uint64_t& next_due);
  void pump(connection& c, std::uint64_t now);
  void arm_pace(std::uint64_t at);
  void send(connection& c, const packet& p);
  void mark(connection& c);
  void flush(connection& c);
  void flush_all();
  void publish_progress();
  void keep_alive(std::uint64_t now);
  void close(connection& c, const std::string& why);
  void modify(connection& c, net::watch_mode m);
  void shutdown_all();

  run_state& rs_;
  net::reactor loop_;
  int pace_fd_ = -1;
  net::time_point deadline_ = net::time_point::max();  // of the next wait
  bool busy_ = false;       // the last turn left messages to send: do not wait
  bool announced_ = false;  // `waiting` was set for this wait
  std::uint64_t paced_at_ = never;  // when pace_fd_ expires
  std::uint32_t concurrency_ = 1;
  std::vector<connection*> conns_;
  std::vector<connection*> pubs_;
  std::vector<connection*> dirty_;
  std::vector<connection*> touched_;
  std::size_t next_connect_ = 0;
  std::uint32_t handshakes_ = 0;
  std::vector<std::byte> rbuf_;
  std::vector<iovec> iov_ = std::vector<iovec>(1);  // a TLS write's one buffer
  std::uint64_t turn_ns_ = 0;
  std::uint64_t next_ping_check_ = 0;
  std::thread thread_;
};

}  // namespace tern::bench::detail
