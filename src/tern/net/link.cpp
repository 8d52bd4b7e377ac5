// One connection of the broker (tern/net/link.hpp).
//
// - Its socket is watched once, edge-triggered, for input and output. On
//   input it reads into the thread's one 64 KiB buffer (reads never overlap
//   on a thread, so every connection of the thread shares it) until a short
//   read, at most a few full buffers before the thread's other connections
//   get a turn, feeding each piece to the endpoint. The peer's FIN may come
//   with its last bytes: then no later edge reports it, and reading goes on
//   past a short read until the end of the stream.
// - Anything that may have produced output marks the link dirty; the
//   thread's flush at the end of the turn calls service(), which writes the
//   endpoint's write_buffer with gathered calls straight from its memory (a
//   link written again within a tick keeps that buffer's memory, emptied,
//   until the tick, so one in use writes without allocating). What the
//   socket does not take moves to a pooled pending write and goes out when
//   the socket reports it can take more.
// - Its CONNECT makes it move to the thread that owns its client id: its
//   socket leaves this thread's reactor and joins the target's.
// - When the endpoint closes and its last bytes are written, the write side
//   shuts and input is drained (discarded) until the peer closes, 2 s at
//   most: closing at once would answer the peer's next bytes with a reset,
//   which destroys our last bytes (a DISCONNECT) before the peer reads them.
#include "tern/net/link.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include <boost/asio/error.hpp>

#include "tern/net/io_thread.hpp"
#include "tern/net/listener.hpp"

namespace tern::net::detail {

namespace {
// Full buffers read from one connection before the others get a turn.
constexpr int full_reads_per_turn = 4;
// A closing connection whose last bytes cannot be written is dropped after this.
constexpr auto close_linger = std::chrono::seconds(2);
// Output a connection may pile up while its peer does not read.
constexpr std::size_t max_pending_output = 64 * 1024 * 1024;
}  // namespace

link::link(io_thread& home, int fd, time_point now) : endpoint(home.worker, now), home_(&home), fd_(fd) {}

link::~link() {
  if (gate_) gate()->open.fetch_sub(1, std::memory_order_relaxed);
  if (filter_) delete filter_;  // closes the socket under it
  else if (fd_ >= 0) ::close(fd_);
}

void link::wake() { home_->mark(*this); }

namespace {
// Why a connection closes, for a filter that tells its peer (WebSocket:
// 1000 after a DISCONNECT, 1008 after a refused CONNECT, 1002 after a
// protocol error).
close_cause cause_of(reason r) {
  switch (r) {
    case reason::success:
    case reason::disconnect_with_will_message:
    case reason::keep_alive_timeout:
    case reason::session_taken_over:
    case reason::administrative_action:
      return close_cause::normal;
    case reason::server_shutting_down:
      return close_cause::going_away;
    case reason::unsupported_protocol_version:
    case reason::client_identifier_not_valid:
    case reason::bad_user_name_or_password:
    case reason::not_authorized:
    case reason::server_unavailable:
    case reason::server_busy:
    case reason::banned:
    case reason::bad_authentication_method:
    case reason::quota_exceeded:
    case reason::message_rate_too_high:
    case reason::connection_rate_exceeded:
    case reason::use_another_server:
    case reason::server_moved:
      return close_cause::refused;
    default:
      return close_cause::protocol_error;
  }
}
}  // namespace

void link::shutdown_write() {
  if (!filter_) return tcp::shutdown_write(fd_);
  filter_->will_close(cause_of(closed_with()));
  filter_->shutdown_write();
}

std::string link::peer_address() const {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (fd_ < 0 || ::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return {};
  return address_text(reinterpret_cast<const sockaddr*>(&a), len);
}

void link::begin() {
  home_->mark(*this);  // arms the connect timeout
}

void link::on_ready(std::uint32_t ready_bits, time_point now) {
  if (!open_) return;
  // A filter's reads may wait for the socket to take bytes (a TLS handshake
  // answers while reading) and its writes for bytes to come: with one, any
  // readiness retries both.
  if (filter_) ready_bits |= ready::readable | ready::writable;
  if ((ready_bits & (ready::writable | ready::failed)) && writing_) continue_write(now);
  // The peer's FIN (or an error) may come in the same segment as its last
  // bytes: then no later edge reports it, and the read must go on past a
  // short read until recv() says so.
  if (open_ && (ready_bits & (ready::hung_up | ready::failed))) peer_done_ = true;
  // Gone while its password is checked: no need to wait for the answer.
  if (verifying_ && peer_done_)
    return lost({std::make_error_code(std::errc::connection_reset), "closed while its CONNECT was checked"}, now);
  if (open_ && (ready_bits & (ready::readable | ready::hung_up | ready::failed))) read(now);
}

void link::read(time_point now) {
  auto& here = *home_;
  if (!open_ || move_to_ != 0 || verifying_) return;
  if (draining_) return drain(now);
  if (closing()) return;  // the endpoint reads no more; service() drains the socket
  const std::span<std::byte> buffer(here.read_buffer.get(), io_thread::read_buffer_size);
  for (int i = 0; i < full_reads_per_turn; ++i) {
    const auto r = read_some(buffer);
    // A filter may return the last bytes with the end (or failure) of its
    // stream: they go first. (When taking them stops the reading, the
    // filter says it again at the next read.)
    if (r.status != io_status::done && r.bytes > 0 && !take(r.bytes, now)) return;
    switch (r.status) {
      case io_status::done:
        break;
      case io_status::would_block:
        return;
      case io_status::end:
        return ended(now);
      case io_status::failed:
        return lost({r.ec, filter_ && filter_->handshake_deadline() != time_point::max() ? "the handshake failed"
                                                                                          : "reading failed"},
                    now);
    }
    if (!take(r.bytes, now)) return;
    if (r.bytes < buffer.size() && !peer_done_) return;
  }
  if (!again_) {
    again_ = true;
    here.again.push_back(this);
  }
}

bool link::take(std::size_t n, time_point now) {
  receive(bytes_view(home_->read_buffer.get(), n), now);
  home_->mark(*this);
  if (connect_pending()) {
    const bool proven = filter_ && apply_identity();
    if (gate_ && gate()->check && !closing() && !authenticate(proven, now)) return false;
    admit_or_move(now);
    if (move_to_ != 0) return false;  // reads resume on the owning thread (arrive)
  }
  return !closing();  // closing: nothing more to read; service() drains the socket
}

void link::service(time_point now) {
  if (!open_) return;
  auto& out = output();
  if (move_to_ != 0 && !writing_) return move_to(*home_->rt.threads[move_to_ - 1u]);
  if (writing_) {
    if (out.size() > max_pending_output)
      return lost({reason::quota_exceeded, "the peer does not read what it is sent"}, now);
  } else if (!out.empty()) {
    if (!write(now)) return;  // lost
  }
  if (closing()) {
    if (!writing_ && output().empty()) return begin_drain(now);
    if (auto* p = pending(); p && p->linger_until == time_point::max()) p->linger_until = now + close_linger;
  }
  keep_deadline();
}

// The endpoint closed and its last bytes (a DISCONNECT, an error CONNACK)
// are written: the write side shuts (the peer reads them, then end of
// stream), and what the peer still sends is read and discarded until it
// closes too, or for close_linger at most.
void link::begin_drain(time_point now) {
  if (draining_) return;
  if (peer_done_ && !writing_) return finish(now);  // nothing more can come
  draining_ = true;
  shutdown_write();
  home_->deadlines.set(index_, std::min(now + close_linger, home_->grace_at));
  drain(now);
}

// Reads and discards until the socket would block (a few full buffers at
// most: a peer that keeps sending is closed by the deadline); closes at the
// end of the stream.
void link::drain(time_point now) {
  const std::span<std::byte> buffer(home_->read_buffer.get(), io_thread::read_buffer_size);
  for (int i = 0; i < full_reads_per_turn;) {
    const auto r = read_some(buffer);
    if (r.status == io_status::done) {
      i += r.bytes == buffer.size();
      continue;
    }
    if (r.status == io_status::would_block) return;
    return finish(now);  // end of stream, or an error
  }
}

void link::stop(time_point now) {
  if (!open_) return;
  if (!closing()) transport_closed({reason::server_shutting_down, "the broker is stopping"}, now);
  home_->mark(*this);
}

void link::on_due(time_point now) {
  if (!open_) return;
  if (draining_) return finish(now);
  if (filter_ && now >= filter_->handshake_deadline())
    return lost({std::make_error_code(std::errc::timed_out), "closed: the handshake did not finish in time"}, now);
  if (auto* p = pending(); p && now >= p->linger_until) return finish(now);
  if (auto t = next_timeout(); t && *t <= now) {
    on_timeout(now);
    home_->mark(*this);  // service keeps the next deadline
  } else {
    keep_deadline();
  }
}

void link::finish(time_point now) {
  if (!open_) return;
  auto& here = *home_;
  if (!closing()) transport_closed({reason::unspecified_error, "the connection was dropped"}, now);
  shutdown_write();
  // What the peer sent and nobody read would make close() send RST, which
  // may destroy our last bytes (a DISCONNECT) before the peer reads them.
  for (int i = 0; i < 4 && ::recv(fd_, here.read_buffer.get(), io_thread::read_buffer_size, 0) > 0; ++i) {
  }
  // Leaves the reactor's set.
  if (filter_) delete std::exchange(filter_, nullptr);  // closes the socket under it
  else ::close(fd_);
  fd_ = -1;
  here.remove_link(*this);
  if (verifying_) here.verifying.erase(this);
  verifying_ = false;
  if (dirty_) std::erase(here.dirty, this);
  if (again_) std::erase(here.again, this);
  dirty_ = again_ = open_ = false;
  here.warm_closed = here.warm_closed || warm_;  // leaves `warm` before it is deleted
  if (writing_) here.give_write_state(take_pending());
  output() = write_buffer{};
  here.finished.push_back(this);
  here.rt.closed_one();
  here.touched();  // closing may have published a will
}

// Its CONNECT arrived over a filter that speaks for the peer (a TLS
// listener with use_identity_as_username): the certificate's name is the
// user name the engine sees, the CONNECT's user name and password are
// dropped; without a name the CONNECT is refused (admit sees it closing).
bool link::apply_identity() {
  auto id = filter_->identity();
  if (!id.replaces_username) return false;
  if (!id.username) {
    protocol().refuse(reason::bad_user_name_or_password);
    return false;
  }
  auto& c = *endpoint::pending();  // its CONNECT (pending() alone is the link's pending write)
  c.username = std::move(id.username);
  c.password.reset();
  return true;
}

// Its listener's gate checks the CONNECT's credentials. A refusal now goes
// through the engine's admission like the transport's (admit sees the
// connection closing); an answer to come is posted to this thread
// (io_thread::verified), and reading stops until then.
bool link::authenticate(bool identity_proven, time_point now) {
  auto& c = *endpoint::pending();
  auto* here = home_;
  const auto serial = ++here->verify_serial;
  auto answer = gate()->check->check({c.username, c.password, identity_proven}, [here, self = this, serial](reason r) {
    here->loop.post(task([here, self, serial, r] { here->verified(self, serial, r); }));
  });
  if (!answer) {
    verifying_ = true;
    here->verifying.emplace(this, serial);
    return false;
  }
  if (is_failure(*answer)) {
    protocol().refuse(*answer);
    admit_or_move(now);
    return false;
  }
  return true;
}

listener_gate* link::gate() const { return home_->rt.gates[gate_ - 1u]; }

void link::verified(reason r, time_point now) {
  verifying_ = false;
  if (!open_) return;
  if (is_failure(r) && !closing()) protocol().refuse(r);
  admit_or_move(now);
  home_->mark(*this);
  if (move_to_ == 0 && !closing()) read(now);  // what the client sent meanwhile (edges came and went)
}

// Its CONNECT arrived: admit it here when this thread owns the client id,
// else move there at the end of the turn.
void link::admit_or_move(time_point now) {
  const auto owner = home_->rt.engine.owner_of(*this);
  if (owner == home_->index) return home_->worker.admit(*this, now);
  move_to_ = static_cast<std::uint16_t>(owner + 1);
}

void link::move_to(io_thread& to) {
  auto& from = *home_;
  move_to_ = 0;
  from.loop.unwatch(fd_);
  from.remove_link(*this);
  if (warm_) std::erase(from.warm, this);
  warm_ = false;
  home_ = &to;
  // Carries the link; the runtime may stop before it runs.
  struct carried {
    link* l;
    explicit carried(link* x) : l(x) {}
    carried(carried&& o) noexcept : l(std::exchange(o.l, nullptr)) {}
    carried& operator=(carried&&) = delete;
    ~carried() {
      if (!l) return;
      auto& rt = l->home_->rt;
      delete l;
      rt.closed_one();
    }
  };
  to.loop.post(task([&to, c = carried(this)]() mutable { to.arrive(*std::exchange(c.l, nullptr)); }));
}

// Writes the endpoint's output; what the socket does not take waits in a
// pending write. False when the connection was lost.
bool link::write(time_point now) {
  auto& here = *home_;
  auto& out = output();
  auto& iov = here.iov;
  iov.clear();
  for (auto b : out.buffers())
    iov.push_back({const_cast<std::byte*>(b.data()), b.size()});  // sendmsg does not write through it
  std::size_t first = 0;
  const auto r = write_some(iov, first);
  if (r.status == io_status::done) {
    // All written. The first write since the tick gives the memory back
    // (an idle connection keeps none); a second one keeps it, emptied,
    // for the next: a connection in use writes without allocating, and
    // the tick gives back what it kept (release_idle_outputs).
    if (warm_) {
      out.clear();
    } else {
      out = write_buffer{};
      warm_ = true;
      here.warm.push_back(this);
    }
    return true;
  }
  if (r.status == io_status::failed) {
    lost({r.ec, "writing failed"}, now);
    return false;
  }
  // The bytes keep their addresses when the buffer moves (they are on the heap).
  auto w = here.take_write_state();
  w->bytes = std::move(out);
  out = write_buffer{};
  w->iov.assign(iov.begin() + static_cast<std::ptrdiff_t>(first), iov.end());
  here.pending.emplace(this, std::move(w));
  writing_ = true;
  return true;
}

// The socket can take more of a pending write.
void link::continue_write(time_point now) {
  auto& p = *pending();
  const auto r = write_some(p.iov, p.first);
  if (r.status != io_status::done) {
    if (r.status == io_status::failed) lost({r.ec, "writing failed"}, now);
    return;
  }
  home_->give_write_state(take_pending());
  // What the endpoint added since (if anything) goes after the next commit.
  home_->mark(*this);
}

// Keeps this connection's deadline in the thread's table.
void link::keep_deadline() {
  if (draining_) return;  // begin_drain set it
  auto t = next_timeout();
  if (auto* p = pending(); p && p->linger_until != time_point::max() && (!t || p->linger_until < *t))
    t = p->linger_until;
  if (filter_) {
    if (const auto h = filter_->handshake_deadline(); h != time_point::max() && (!t || h < *t)) t = h;
  }
  home_->deadlines.set(index_, t);
}

// The peer closed its side. It may still read (a half-close): what the
// endpoint has to say (the CONNACK of a CONNECT that came with the end of
// the stream) is written at the end of the turn, then the socket closes.
void link::ended(time_point now) {
  peer_done_ = true;
  transport_closed({boost::system::error_code(boost::asio::error::eof), "the peer closed the connection"}, now);
  home_->mark(*this);
}

void link::lost(const error& why, time_point now) {
  if (!open_) return;
  // The engine has not met this connection yet: the runtime says why it goes.
  if (filter_ && filter_->handshake_deadline() != time_point::max()) {
    const auto peer = peer_address();
    home_->rt.options.log.info("{}: {} ({})", peer.empty() ? "a peer that left" : peer, why.detail,
                               why.code.message());
  }
  transport_closed(why, now);
  output().clear();
  finish(now);
}

// Output the socket did not take yet (kept by the thread: most connections
// never have any).
pending_write* link::pending() const { return writing_ ? home_->pending.find(this)->second.get() : nullptr; }

std::unique_ptr<pending_write> link::take_pending() {
  auto it = home_->pending.find(this);
  auto w = std::move(it->second);
  home_->pending.erase(it);
  writing_ = false;
  return w;
}

}  // namespace tern::net::detail
