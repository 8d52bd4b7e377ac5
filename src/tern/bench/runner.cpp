#include "tern/bench/runner.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tern/bench/proc.hpp"
#include "tern/bench/sequence.hpp"
#include "tern/bench/stamp.hpp"
#include "tern/codec/codec.hpp"
#include "tern/net/reactor.hpp"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // linux/in.h; glibc's netinet/in.h lacks it
#endif

namespace tern::bench {
namespace {

constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t ms = 1'000'000;
constexpr std::uint64_t s = 1'000'000'000;
// A publisher whose socket holds this much unwritten output waits for it to drain.
constexpr std::size_t high_water = 1 << 20;

std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}
std::uint64_t to_ns(double seconds) noexcept { return static_cast<std::uint64_t>(std::llround(seconds * 1e9)); }
double to_s(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }
std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// An acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) of packet `id`.
template <class Ack>
packet ack(std::uint16_t id) {
  Ack a;
  a.packet_id = id;
  return packet{std::move(a)};
}

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
  std::uint64_t turn_ns_ = 0;
  std::uint64_t next_ping_check_ = 0;
  std::thread thread_;
};

void event_loop::run() {
  for (;;) {
    const phase p = rs_.now_phase();
    if (p == phase::stopping) break;
    if (p == phase::connecting) start_connects();

    const auto now = net::clock::now();
    // A rate's next message is pace_fd_'s to wake for; the deadline only
    // bounds how late the loop sees a change of phase.
    deadline_ = busy_ ? net::time_point::min() : now + std::chrono::milliseconds(100);
    if (!busy_ && p == phase::running && rs_.loops.size() > 1 && !pubs_.empty()) {
      // Publishers here wait for subscribers on other loops: ask to be
      // woken, then look once more (the other side may have just moved).
      waiting.store(true);
      announced_ = true;
      std::uint64_t due = never;
      const std::uint64_t now_at = now_ns();
      for (auto* c : pubs_)
        if (budget(*c, now_at, due) > 0) deadline_ = net::time_point::min();
    }
    try {
      loop_.turn(*this);
    } catch (const std::system_error& e) {
      rs_.fail(e.what());
      break;
    }
  }
  shutdown_all();
}

// The wait is over: the first event, or the end of the turn.
void event_loop::turn_began(net::time_point now) {
  if (announced_) {
    waiting.store(false, std::memory_order_relaxed);
    announced_ = false;
  }
  turn_ns_ = static_cast<std::uint64_t>(std::chrono::nanoseconds(now.time_since_epoch()).count());
}

void event_loop::on_ready(std::uint64_t token, std::uint32_t ready_bits, net::time_point now) {
  turn_began(now);
  if (token == pace_token) {
    std::uint64_t count = 0;
    [[maybe_unused]] auto r = ::read(pace_fd_, &count, sizeof count);
    paced_at_ = never;
    return;
  }
  on_event(*reinterpret_cast<connection*>(static_cast<std::uintptr_t>(token)), ready_bits);
}

void event_loop::end_turn(net::time_point now) {
  turn_began(now);
  publish_progress();

  busy_ = false;
  if (rs_.now_phase() == phase::running && !pubs_.empty()) {
    std::uint64_t next_due = never;
    busy_ = plan(next_due);
    // The timer is set before the messages are stamped: setting a timer
    // costs a few microseconds here (a VM exit), which would otherwise
    // fall between a message's stamp and its arrival.
    if (next_due != never) arm_pace(next_due);
    const std::uint64_t now_stamp = now_ns();
    for (auto* c : pubs_)
      if (c->planned > 0) pump(*c, now_stamp);
  }
  keep_alive(turn_ns_);
  flush_all();
}

void event_loop::start_connects() {
  while (handshakes_ < concurrency_ && next_connect_ < conns_.size() && !rs_.failed.load()) {
    begin_connect(*conns_[next_connect_++]);
    ++handshakes_;
  }
}

void event_loop::begin_connect(connection& c) {
  const auto& o = rs_.o;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return rs_.fail(errno_text("socket"));
  const int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o.source_addresses > 0) {
    ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(0x7F000002u + c.index % o.source_addresses);
    if (::bind(c.fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
      return rs_.fail(errno_text("bind to a 127.0.0.x source address"));
  }
  if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&rs_.broker), sizeof rs_.broker) != 0 &&
      errno != EINPROGRESS)
    return rs_.fail(errno_text("connect"));
  if (!loop_.watch(c.fd, reinterpret_cast<std::uintptr_t>(&c), net::watch_mode::readable_writable))
    return rs_.fail(errno_text("epoll_ctl"));
  c.writing = true;
  c.st = connection::state::connecting;
}

void event_loop::modify(connection& c, net::watch_mode m) {
  [[maybe_unused]] const bool ok = loop_.rewatch(c.fd, reinterpret_cast<std::uintptr_t>(&c), m);
}

void event_loop::on_event(connection& c, std::uint32_t events) {
  if (c.st == connection::state::closed) return;
  if (c.st == connection::state::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return close(c, std::string("connect: ") + std::strerror(err));
    if (events & (net::ready::writable | net::ready::readable)) on_connected(c);
    return;
  }
  if (events & (net::ready::readable | net::ready::failed)) on_readable(c);
  if (c.st != connection::state::closed && (events & net::ready::writable)) flush(c);
}

void event_loop::on_connected(connection& c) {
  const auto& o = rs_.o;
  c.writing = false;
  modify(c, net::watch_mode::readable);
  c.st = connection::state::connack;
  c.dec.set_version(o.version);
  connect_packet cp;
  cp.version = o.version;
  cp.client_id = c.client_id;
  cp.clean_start = true;
  cp.keep_alive = o.keep_alive;
  send(c, packet{std::move(cp)});
  flush(c);
}

void event_loop::on_readable(connection& c) {
  for (int i = 0; i < 4; ++i) {
    const ssize_t n = ::read(c.fd, rbuf_.data(), rbuf_.size());
    ++reads;
    if (n == 0) return close(c, "the broker closed the connection");
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return close(c, errno_text("read"));
    }
    const std::uint64_t now = now_ns();
    bytes_view in(rbuf_.data(), static_cast<std::size_t>(n));
    while (!in.empty()) {
      auto r = c.dec.next(in, c.in);
      if (!r) return close(c, "undecodable input: " + r.error().message());
      if (!*r) break;
      on_packet(c, now);
      if (c.st == connection::state::closed) return;
    }
    if (static_cast<std::size_t>(n) < rbuf_.size()) return;
  }
}

void event_loop::became_ready(connection& c) {
  c.st = connection::state::ready;
  --handshakes_;
  if (c.kind == connection::role::publisher) {
    c.inflight_cap = std::min<std::uint32_t>(rs_.o.max_inflight, c.receive_max);
    if (rs_.o.qos != qos::at_most_once) c.ids.assign(65536 / 64, 0);
  }
  rs_.ready.fetch_add(1);
  if (rs_.now_phase() == phase::connecting) start_connects();
}

void event_loop::on_packet(connection& c, std::uint64_t now) {
  const auto& o = rs_.o;
  const bool v5 = o.version == protocol_version::v5;
  switch (type_of(c.in)) {
    case packet_type::publish:
      return on_publish(c, std::get<publish_packet>(c.in), now);
    case packet_type::puback: {
      const auto& a = std::get<puback_packet>(c.in);
      if (c.ids.empty() || !c.id_used(a.packet_id)) return;
      c.set_id(a.packet_id, false);
      --c.inflight;
      if (v5 && static_cast<std::uint8_t>(a.reason_code) >= 0x80) ++refused;
      return;
    }
    case packet_type::pubrec: {
      const auto& a = std::get<pubrec_packet>(c.in);
      if (c.ids.empty() || !c.id_used(a.packet_id)) return;
      if (v5 && static_cast<std::uint8_t>(a.reason_code) >= 0x80) {
        c.set_id(a.packet_id, false);
        --c.inflight;
        ++refused;
        return;
      }
      return send(c, ack<pubrel_packet>(a.packet_id));
    }
    case packet_type::pubcomp: {
      const auto& a = std::get<pubcomp_packet>(c.in);
      if (c.ids.empty() || !c.id_used(a.packet_id)) return;
      c.set_id(a.packet_id, false);
      --c.inflight;
      return;
    }
    case packet_type::pubrel:
      return send(c, ack<pubcomp_packet>(std::get<pubrel_packet>(c.in).packet_id));
    case packet_type::connack: {
      const auto& a = std::get<connack_packet>(c.in);
      if (c.st != connection::state::connack) return close(c, "a second CONNACK");
      if (a.reason_code != reason::success) return close(c, "CONNACK refused: " + error(a.reason_code).message());
      if (auto m = a.props.get<property_id::receive_maximum>()) {
        c.receive_max = *m;
        min_receive_max = min_receive_max == 0 ? *m : std::min(min_receive_max, *m);
      }
      if (c.kind != connection::role::subscriber) return became_ready(c);
      subscribe_packet sp;
      sp.packet_id = 1;
      sp.entries.push_back({c.filter, subscribe_options{.max_qos = o.qos}});
      c.st = connection::state::suback;
      return send(c, packet{std::move(sp)});
    }
    case packet_type::suback: {
      const auto& a = std::get<suback_packet>(c.in);
      if (c.st != connection::state::suback) return;
      for (auto code : a.reason_codes)
        if (static_cast<std::uint8_t>(code) >= 0x80)
          return close(c, "SUBSCRIBE " + c.filter + " refused: " + error(code).message());
      return became_ready(c);
    }
    case packet_type::disconnect: {
      const auto& d = std::get<disconnect_packet>(c.in);
      return close(c, "DISCONNECT from the broker: " + error(d.reason_code).message());
    }
    default:
      return;  // PINGRESP, and anything a broker may add
  }
}

void event_loop::on_publish(connection& c, const publish_packet& p, std::uint64_t now) {
  ++received;
  if (now < rs_.t_end.load(std::memory_order_relaxed)) ++received_in_run;
  const auto st = read_stamp(p.payload().span());
  if (!st || st->stream < c.stream_base || st->stream - c.stream_base >= c.trackers.size()) {
    ++unexpected;
  } else {
    const std::size_t k = st->stream - c.stream_base;
    if (c.trackers[k].record(st->seq) != sequence_tracker::arrival::duplicate) {
      ++c.advanced[k];
      c.touched[k] = 1;
      if (!c.any_touched) {
        c.any_touched = true;
        touched_.push_back(&c);
      }
    }
    latency.record(now > st->sent_ns ? now - st->sent_ns : 0);
  }
  if (p.qos == qos::at_least_once) send(c, ack<puback_packet>(p.packet_id));
  else if (p.qos == qos::exactly_once) send(c, ack<pubrec_packet>(p.packet_id));
}

// Tells the publishers how far this loop's subscribers have come (once per
// turn, not per message), and wakes loops whose publishers wait for it.
void event_loop::publish_progress() {
  received_live.store(received, std::memory_order_relaxed);
  if (touched_.empty()) return;
  for (auto* c : touched_) {
    const auto& sk = rs_.sinks[c->sink];
    for (std::size_t k = 0; k < c->touched.size(); ++k) {
      if (!c->touched[k]) continue;
      auto& reached = rs_.streams[c->stream_base + k].reached[sk.slot].value;
      if (sk.members == 1) {
        reached.store(c->trackers[k].highest_plus_one());
      } else if (rs_.count_groups) {
        reached.fetch_add(c->advanced[k]);
      } else {  // the furthest any member has come
        const std::uint64_t mine = c->trackers[k].highest_plus_one();
        std::uint64_t cur = reached.load();
        while (cur < mine && !reached.compare_exchange_weak(cur, mine)) {
        }
      }
      c->touched[k] = 0;
      c->advanced[k] = 0;
    }
    c->any_touched = false;
  }
  touched_.clear();
  if (rs_.loops.size() > 1)
    for (auto& l : rs_.loops)
      if (l.get() != this && l->waiting.load() && l->waiting.exchange(false)) l->wake();
}

// How many PUBLISHes `c` may write now: the window, the in-flight cap and
// the rate allow. Sets next_due when the rate is what holds it back.
std::uint64_t event_loop::budget(connection& c, std::uint64_t now, std::uint64_t& next_due) const {
  const auto& o = rs_.o;
  if (c.st != connection::state::ready || c.writing || c.pending() > high_water ||
      now >= rs_.t_end.load(std::memory_order_relaxed))
    return 0;
  const auto& stream = rs_.streams[c.stream];
  std::uint64_t delivered = stream.reached[0].value.load();
  for (std::uint32_t i = 1; i < stream.receivers; ++i) delivered = std::min(delivered, stream.reached[i].value.load());
  const std::uint64_t ahead = c.seq > delivered ? c.seq - delivered : 0;
  if (ahead >= o.window) return 0;
  std::uint64_t n = o.window - ahead;
  if (o.qos != qos::at_most_once) {
    if (c.inflight >= c.inflight_cap) return 0;
    n = std::min<std::uint64_t>(n, c.inflight_cap - c.inflight);
  }
  if (rs_.rate_interval_ns > 0) {
    const std::uint64_t start = rs_.t0.load(std::memory_order_relaxed) + c.start_offset_ns;
    const auto due = now < start ? 0 : static_cast<std::uint64_t>(to_s(now - start) * o.rate) + 1;
    if (due <= c.seq) {
      next_due = std::min(next_due, std::max(due_at(c, c.seq), now + 1));
      return 0;
    }
    n = std::min(n, due - c.seq);
  }
  return n;
}

// When publisher `c`'s message number `seq` is due at the fixed rate.
std::uint64_t event_loop::due_at(const connection& c, std::uint64_t seq) const noexcept {
  return rs_.t0.load(std::memory_order_relaxed) + c.start_offset_ns +
         static_cast<std::uint64_t>(static_cast<double>(seq) * 1e9 / rs_.o.rate);
}

// Sets each publisher's `planned` batch: what it may send now, at most the
// batch size. True when one stopped at the batch size with more allowed
// (the loop then turns again at once); next_due becomes the earliest time
// the rate lets a publisher send again.
bool event_loop::plan(std::uint64_t& next_due) {
  const std::uint64_t now = now_ns();
  bool more = false;
  for (auto* c : pubs_) {
    std::uint64_t n = budget(*c, now, next_due);
    more |= n > rs_.o.batch;
    n = std::min<std::uint64_t>(n, rs_.o.batch);
    c->planned = n;
    if (n > 0 && rs_.rate_interval_ns > 0) next_due = std::min(next_due, due_at(*c, c->seq + n));
  }
  return more;
}

// Writes `c`'s planned PUBLISHes into its output, stamped `now`.
void event_loop::pump(connection& c, std::uint64_t now) {
  const std::uint64_t n = std::exchange(c.planned, 0);
  const std::size_t size = c.tmpl.size();
  const std::size_t at = c.out.size();
  c.out.resize(at + static_cast<std::size_t>(n) * size);
  std::byte* p = c.out.data() + at;
  const bool acked = rs_.o.qos != qos::at_most_once;
  for (std::uint64_t i = 0; i < n; ++i, p += size) {
    std::memcpy(p, c.tmpl.data(), size);
    if (acked) {
      const std::uint16_t id = c.take_id();
      p[c.id_at] = static_cast<std::byte>(id >> 8);
      p[c.id_at + 1] = static_cast<std::byte>(id & 0xFFu);
      ++c.inflight;
    }
    write_stamp(p + c.stamp_at, stamp{c.stream, c.seq++, now});
  }
  rs_.streams[c.stream].sent.value.store(c.seq, std::memory_order_relaxed);
  mark(c);
}

// Makes pace_fd_ expire at `at` (steady clock, which is CLOCK_MONOTONIC),
// unless it already does.
void event_loop::arm_pace(std::uint64_t at) {
  if (at == paced_at_) return;
  paced_at_ = at;
  itimerspec its{};
  its.it_value.tv_sec = static_cast<time_t>(at / s);
  its.it_value.tv_nsec = static_cast<long>(at % s);
  if (at == 0) its.it_value.tv_nsec = 1;  // 0 would disarm it
  ::timerfd_settime(pace_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
}

void event_loop::send(connection& c, const packet& p) {
  const auto size = encoded_size(p, rs_.o.version);
  const auto at = c.out.size();
  c.out.resize(at + size);
  encode_to(p, rs_.o.version, c.out.data() + at);
  mark(c);
}

void event_loop::mark(connection& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(&c);
}

void event_loop::flush(connection& c) {
  while (c.pending() > 0) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_at, c.pending(), MSG_NOSIGNAL);
    ++writes;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!c.writing) {
          c.writing = true;
          modify(c, net::watch_mode::readable_writable);
        }
        return;
      }
      return close(c, errno_text("send"));
    }
    c.out_at += static_cast<std::size_t>(n);
  }
  c.out.clear();
  c.out_at = 0;
  c.last_sent_ns = turn_ns_;
  if (c.writing) {
    c.writing = false;
    modify(c, net::watch_mode::readable);
  }
}

void event_loop::flush_all() {
  for (auto* c : dirty_) {
    c->dirty = false;
    if (c->st != connection::state::closed && !c->writing) flush(*c);
  }
  dirty_.clear();
}

void event_loop::keep_alive(std::uint64_t now) {
  if (now < next_ping_check_ || rs_.o.keep_alive == 0) return;
  next_ping_check_ = now + s;
  const std::uint64_t limit = std::uint64_t{rs_.o.keep_alive} * 750 * ms;
  for (auto* c : conns_) {
    if (c->st != connection::state::ready || now - c->last_sent_ns < limit) continue;
    send(*c, packet{pingreq_packet{}});
    ++pings;
  }
}

void event_loop::close(connection& c, const std::string& why) {
  if (c.st == connection::state::closed) return;
  const auto was = c.st;
  loop_.unwatch(c.fd);
  ::close(c.fd);
  c.fd = -1;
  c.st = connection::state::closed;
  if (was != connection::state::ready) {
    rs_.fail(c.client_id + ": " + why);
  } else if (rs_.now_phase() != phase::stopping) {
    ++disconnects;
    rs_.note_disconnect(c.client_id + ": " + why);
  }
}

void event_loop::shutdown_all() {
  for (auto* c : conns_) {
    if (c->fd < 0) continue;
    if (c->st == connection::state::ready) {
      c->out.erase(c->out.begin(), c->out.begin() + static_cast<std::ptrdiff_t>(c->out_at));
      c->out_at = 0;
      const auto size = encoded_size(packet{disconnect_packet{}}, rs_.o.version);
      const auto at = c->out.size();
      c->out.resize(at + size);
      encode_to(packet{disconnect_packet{}}, rs_.o.version, c->out.data() + at);
      [[maybe_unused]] auto n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
    }
    ::close(c->fd);
    c->fd = -1;
    c->st = connection::state::closed;
  }
}

// The PUBLISH of `c`, encoded once by the codec; the offsets of its packet id
// and payload are checked by decoding a patched copy.
void build_template(connection& c, const options& o) {
  std::vector<std::byte> zeros(o.size);
  publish_packet p(c.topic, shared_bytes::copy(bytes_view(zeros)), o.qos, false);
  p.packet_id = o.qos == qos::at_most_once ? 0 : 1;
  c.tmpl = encode(packet{p}, o.version);
  c.stamp_at = c.tmpl.size() - o.size;
  c.id_at = o.qos == qos::at_most_once ? 0 : c.stamp_at - 2 - (o.version == protocol_version::v5 ? 1 : 0);

  auto probe = c.tmpl;
  if (o.qos != qos::at_most_once) {
    probe[c.id_at] = std::byte{0xBE};
    probe[c.id_at + 1] = std::byte{0xEF};
  }
  const stamp want{c.stream, 42, 4242};
  write_stamp(probe.data() + c.stamp_at, want);
  auto decoded = decode(probe, o.version);
  const auto* pub = decoded ? std::get_if<publish_packet>(&*decoded) : nullptr;
  const auto got = pub ? read_stamp(pub->payload().span()) : std::nullopt;
  if (!pub || (o.qos != qos::at_most_once && pub->packet_id != 0xBEEF) || !got || got->seq != want.seq ||
      got->sent_ns != want.sent_ns || got->stream != want.stream || pub->topic() != c.topic)
    throw std::logic_error("tern bench: the PUBLISH template's offsets do not match the codec");
}

std::string run_id() {
  static const char digits[] = "0123456789abcdef";
  std::uint64_t x = now_ns() ^ (static_cast<std::uint64_t>(::getpid()) << 40);
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 32;
  std::string id;
  for (int i = 0; i < 6; ++i, x >>= 4) id += digits[x & 15u];
  return id;
}

std::string resolve(const std::string& host, std::uint16_t port, sockaddr_in& out) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int e = ::getaddrinfo(host.c_str(), nullptr, &hints, &res); e != 0 || res == nullptr)
    return "cannot resolve " + host + ": " + ::gai_strerror(e);
  std::memcpy(&out, res->ai_addr, sizeof out);
  ::freeaddrinfo(res);
  out.sin_port = htons(port);
  return {};
}

std::string raise_file_limit(std::uint64_t need) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur >= need) return {};
  if (lim.rlim_max < need)
    return std::to_string(need) + " open files needed; the hard limit is " + std::to_string(lim.rlim_max);
  lim.rlim_cur = need;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return errno_text("setrlimit");
  return {};
}

}  // namespace

report run(const options& o, const progress_callback& on_progress) {
  report r;
  r.options = o;
  if (auto problem = o.check(); !problem.empty()) {
    r.error = problem;
    return r;
  }
  run_state rs(o);
  if (auto e = raise_file_limit(std::uint64_t{o.connection_count()} + 64); !e.empty()) {
    r.error = e;
    return r;
  }
  if (auto e = resolve(o.host, o.port, rs.broker); !e.empty()) {
    r.error = e;
    return r;
  }

  // The scenario's layout: streams (one per publisher), sinks, connections.
  const std::uint32_t publishers = o.publisher_count();
  const std::uint32_t subscribers = o.subscriber_count();
  rs.stream_count = publishers;
  rs.streams = std::make_unique<stream_state[]>(std::max<std::uint32_t>(publishers, 1));
  rs.copies = o.scenario == scenario::fan_out ? subscribers : 1;
  rs.count_groups = o.qos != qos::at_most_once;
  for (std::uint32_t i = 0; i < publishers; ++i) {
    rs.streams[i].receivers = rs.copies;
    rs.streams[i].reached = std::make_unique<padded_counter[]>(rs.copies);
  }
  rs.rate_interval_ns = o.rate > 0 ? std::max<std::uint64_t>(1, to_ns(1.0 / o.rate)) : 0;
  const std::string id = run_id();
  const std::string base = o.topic_prefix + "/" + id;
  std::vector<std::unique_ptr<connection>> all;
  auto add = [&](connection::role kind, char tag, std::uint32_t i) -> connection& {
    auto c = std::make_unique<connection>();
    c->kind = kind;
    c->index = static_cast<std::uint32_t>(all.size());
    c->client_id = "tb" + id + tag + std::to_string(i);
    all.push_back(std::move(c));
    return *all.back();
  };
  auto add_sink = [&](std::uint32_t members, std::uint32_t stream_base, std::uint32_t count, std::uint32_t slot) {
    sink_state sk;
    sk.members = members;
    sk.stream_base = stream_base;
    sk.stream_count = count;
    sk.slot = slot;
    rs.sinks.push_back(sk);
    return static_cast<std::uint32_t>(rs.sinks.size() - 1);
  };
  auto topic_of = [&](std::uint32_t i) {
    switch (o.scenario) {
      case scenario::fan_in: return base + "/fan-in";
      case scenario::fan_out: return base + "/fan-out";
      case scenario::pairs: return base + "/pair/" + std::to_string(i);
      case scenario::shared: return base + "/shared";
      case scenario::idle: break;
    }
    return base;
  };
  const std::uint32_t group = o.scenario == scenario::shared ? add_sink(subscribers, 0, publishers, 0) : 0;
  for (std::uint32_t i = 0; i < subscribers; ++i) {
    if (o.scenario == scenario::idle) {
      add(connection::role::idle, 'i', i);
      continue;
    }
    auto& c = add(connection::role::subscriber, 's', i);
    switch (o.scenario) {
      case scenario::fan_in: c.sink = add_sink(1, 0, publishers, 0); break;
      case scenario::fan_out: c.sink = add_sink(1, 0, 1, i); break;
      case scenario::pairs: c.sink = add_sink(1, i, 1, 0); break;
      case scenario::shared: c.sink = group; break;
      case scenario::idle: break;
    }
    const auto& sk = rs.sinks[c.sink];
    c.stream_base = sk.stream_base;
    c.trackers.resize(sk.stream_count);
    c.advanced.assign(sk.stream_count, 0);
    c.touched.assign(sk.stream_count, 0);
    c.filter = o.scenario == scenario::shared ? "$share/tern-bench/" + topic_of(i) : topic_of(i);
  }
  for (std::uint32_t i = 0; i < publishers; ++i) {
    auto& c = add(connection::role::publisher, 'p', i);
    c.stream = i;
    c.topic = topic_of(i);
    if (o.rate > 0) c.start_offset_ns = static_cast<std::uint64_t>(1e9 / o.rate * i / publishers);
    build_template(c, o);
  }

  for (std::uint32_t t = 0; t < o.threads; ++t) rs.loops.push_back(std::make_unique<event_loop>(rs));
  for (std::size_t k = 0; k < all.size(); ++k) rs.loops[k % rs.loops.size()]->add(all[k].get());

  auto sent_now = [&] {
    std::uint64_t n = 0;
    for (std::uint32_t i = 0; i < rs.stream_count; ++i) n += rs.streams[i].sent.value.load(std::memory_order_relaxed);
    return n;
  };
  auto received_now = [&] {
    std::uint64_t n = 0;
    for (auto& l : rs.loops) n += l->received_live.load(std::memory_order_relaxed);
    return n;
  };
  auto stop_all = [&] {
    rs.set_phase(phase::stopping);
    for (auto& l : rs.loops) l->wake();
    for (auto& l : rs.loops) l->join();
  };
  auto sleep = [](std::uint64_t ns) { std::this_thread::sleep_for(std::chrono::nanoseconds(ns)); };

  if (o.broker_pid > 0) r.broker_rss_before_kib = resident_kib(o.broker_pid);

  // Connect, subscribe.
  const std::uint64_t connect_start = now_ns();
  for (auto& l : rs.loops) l->start();
  std::uint64_t next_report = connect_start + s;
  for (;;) {
    const std::uint64_t now = now_ns();
    if (rs.failed.load()) break;
    if (rs.ready.load() >= all.size()) break;
    if (now - connect_start > to_ns(o.connect_timeout)) {
      rs.fail("timed out: " + std::to_string(rs.ready.load()) + " of " + std::to_string(all.size()) +
              " connections ready after " + std::to_string(o.connect_timeout) + " s");
      break;
    }
    if (on_progress && now >= next_report) {
      on_progress({"connecting", to_s(now - connect_start), rs.ready.load(), 0, 0});
      next_report += s;
    }
    sleep(2 * ms);
  }
  if (rs.failed.load()) {
    stop_all();
    r.error = rs.error;
    return r;
  }
  r.connections = static_cast<std::uint32_t>(all.size());
  r.connect_s = to_s(now_ns() - connect_start);

  // Run (idle: hold).
  const auto cpu_before = own_cpu();
  const auto broker_cpu_before = o.broker_pid > 0 ? cpu_seconds(o.broker_pid) : std::nullopt;
  const auto machine_before = machine_busy_seconds();
  const std::uint64_t t0 = now_ns(), t_end = t0 + to_ns(o.duration);
  rs.t0.store(t0);
  rs.t_end.store(t_end);
  rs.set_phase(phase::running);
  for (auto& l : rs.loops) l->wake();
  const char* running_name = o.scenario == scenario::idle ? "holding" : "running";
  next_report = t0 + s;
  for (std::uint64_t now = now_ns(); now < t_end; now = now_ns()) {
    if (on_progress && now >= next_report) {
      on_progress({running_name, to_s(now - t0), rs.ready.load(), sent_now(), received_now()});
      next_report += s;
    }
    sleep(std::min<std::uint64_t>(t_end - now, 20 * ms));
  }
  const auto cpu_after = own_cpu();
  const auto broker_cpu_after = o.broker_pid > 0 ? cpu_seconds(o.broker_pid) : std::nullopt;
  const auto machine_after = machine_busy_seconds();
  if (machine_before && machine_after) r.machine_busy_s = *machine_after - *machine_before;
  r.machine_cores = std::thread::hardware_concurrency();
  r.duration_s = to_s(now_ns() - t0);
  r.cpu_user_s = cpu_after.user_s - cpu_before.user_s;
  r.cpu_system_s = cpu_after.system_s - cpu_before.system_s;
  if (broker_cpu_before && broker_cpu_after) r.broker_cpu_s = *broker_cpu_after - *broker_cpu_before;
  if (o.broker_pid > 0 && o.scenario == scenario::idle) r.broker_rss_after_kib = resident_kib(o.broker_pid);

  // Drain: wait for what is still on its way, until everything arrived or
  // the drain time is up; at QoS 0 (where a broker may drop) also when
  // nothing arrived for a second.
  rs.set_phase(phase::draining);
  const std::uint64_t drain_start = now_ns();
  if (o.scenario != scenario::idle) {
    const std::uint64_t expected = sent_now() * rs.copies;
    std::uint64_t last = received_now();
    std::uint64_t last_change = drain_start;
    next_report = drain_start + s;
    for (std::uint64_t now = drain_start; now - drain_start < to_ns(o.drain); now = now_ns()) {
      const std::uint64_t got = received_now();
      if (got >= expected) break;
      if (got != last) {
        last = got;
        last_change = now;
      } else if (o.qos == qos::at_most_once && now - last_change > s) {
        break;
      }
      if (on_progress && now >= next_report) {
        on_progress({"draining", to_s(now - drain_start), rs.ready.load(), sent_now(), got});
        next_report += s;
      }
      sleep(ms);
    }
    if (o.broker_pid > 0) r.broker_rss_after_kib = resident_kib(o.broker_pid);
  }
  r.drain_s = to_s(now_ns() - drain_start);
  stop_all();

  // Figures.
  for (auto& l : rs.loops) {
    r.latency.merge(l->latency);
    r.received += l->received;
    r.received_in_run += l->received_in_run;
    r.unexpected += l->unexpected;
    r.refused += l->refused;
    r.disconnects += l->disconnects;
    r.pings += l->pings;
    r.write_calls += l->writes;
    r.read_calls += l->reads;
    if (l->min_receive_max > 0)
      r.receive_maximum = r.receive_maximum == 0 ? l->min_receive_max : std::min(r.receive_maximum, l->min_receive_max);
  }
  r.disconnect_reason = rs.disconnect_reason;
  r.sent = sent_now();
  r.expected = r.sent * rs.copies;
  std::vector<std::vector<const connection*>> members(rs.sinks.size());
  for (const auto& c : all)
    if (c->kind == connection::role::subscriber) members[c->sink].push_back(c.get());
  for (std::size_t k = 0; k < rs.sinks.size(); ++k) {
    const auto& sk = rs.sinks[k];
    for (std::uint32_t j = 0; j < sk.stream_count; ++j) {
      std::vector<const sequence_tracker*> trackers;
      for (const auto* c : members[k]) trackers.push_back(&c->trackers[j]);
      const auto m = merge(trackers);
      const std::uint64_t sent = rs.streams[sk.stream_base + j].sent.value.load();
      r.lost += sent > m.distinct ? sent - m.distinct : 0;
      r.duplicated += m.duplicates;
      r.reordered += m.reordered;
    }
  }
  return r;
}

}  // namespace tern::bench
