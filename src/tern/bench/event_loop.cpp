// One thread of the load generator (tern/bench/event_loop.hpp): connecting,
// reading and decoding, pacing and stamping the publishers' messages,
// acknowledging, writing, keep alive.
#include "tern/bench/event_loop.hpp"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include "tern/bench/stamp.hpp"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // linux/in.h; glibc's netinet/in.h lacks it
#endif

namespace tern::bench::detail {
namespace {

// An acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) of packet `id`.
template <class Ack>
packet ack(std::uint16_t id) {
  Ack a;
  a.packet_id = id;
  return packet{std::move(a)};
}

}  // namespace

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
  // TLS: what the handshake read may let the waiting CONNECT out.
  if (c.st != connection::state::closed && ((events & net::ready::writable) || (c.tls && c.writing))) flush(c);
}

void event_loop::on_connected(connection& c) {
  const auto& o = rs_.o;
  c.writing = false;
  modify(c, net::watch_mode::readable);
  c.st = connection::state::connack;
  if (rs_.tls && !(c.tls = rs_.tls->make(c.fd, std::chrono::steady_clock::now()))) return close(c, "TLS: no memory for the connection");
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
    ssize_t n = 0;
    if (c.tls) {
      const auto r = c.tls->read(rbuf_);
      ++reads;
      n = static_cast<ssize_t>(r.bytes);
      if (r.status == net::io_status::would_block && n == 0) return;
      if (r.status == net::io_status::end && n == 0) return close(c, "the broker closed the connection");
      if (r.status == net::io_status::failed && n == 0) return close(c, "TLS: " + r.ec.message());
    } else {
      n = ::read(c.fd, rbuf_.data(), rbuf_.size());
      ++reads;
      if (n == 0) return close(c, "the broker closed the connection");
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return close(c, errno_text("read"));
      }
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
  if (c.tls) {
    iov_[0] = {c.out.data() + c.out_at, c.pending()};
    std::size_t first = 0;
    const auto r = c.tls->write(iov_, first);
    ++writes;
    c.out_at += r.bytes;
    if (r.status == net::io_status::failed) return close(c, "TLS: " + r.ec.message());
    if (r.status == net::io_status::would_block) {
      // The handshake waits to read, or the socket is full.
      c.writing = true;
      modify(c, c.tls->wants() & net::ready::writable ? net::watch_mode::readable_writable
                                                      : net::watch_mode::readable);
      return;
    }
  }
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
  if (c.tls) c.tls.reset();  // closes fd
  else ::close(c.fd);
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
      if (c->tls) {
        iov_[0] = {c->out.data(), c->out.size()};
        std::size_t first = 0;
        c->tls->write(iov_, first);
        c->tls->shutdown_write();
      } else {
        [[maybe_unused]] auto n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
      }
    }
    if (c->tls) c->tls.reset();  // closes fd
    else ::close(c->fd);
    c->fd = -1;
    c->st = connection::state::closed;
  }
}

}  // namespace tern::bench::detail
