// tern/net/link.hpp: one connection of the broker: a engine::endpoint (the
// engine's side: MQTT bytes in, output, deadlines) with its socket, driven by
// its io thread (io_thread.hpp). It reads into the thread's shared buffer and
// feeds the endpoint, writes the endpoint's output with gathered calls (what
// the socket does not take waits in a pending write), moves to the thread
// that owns its client id after CONNECT, and after the endpoint closed
// half-closes and drains its input so the peer reads the last bytes.
//
//   auto* l = new link(thread, fd, now);   // io_thread::open; the thread owns it
//   l->begin();                            // arms the connect timeout
//   l->on_ready(ready::readable, now);     // from the reactor
//   l->service(now);                       // at the end of the turn: move, write, deadline
//
// Bytes go through tcp:: (byte_filter.hpp) for a plain TCP connection, or
// through the connection's top byte_filter when it has one (TLS): then its
// handshake deadline is one of the link's, and what the handshake proved
// may name the user (use_identity_as_username).
//
// Thread safety: none; everything on the link's current io thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tern/engine/engine.hpp"
#include "tern/net/admission.hpp"
#include "tern/net/byte_filter.hpp"
#include "tern/net/reactor.hpp"

namespace tern::net::detail {

struct io_thread;

// Output the socket did not take at once: the bytes (the endpoint's
// write_buffer, moved out; the endpoint appends to a new one meanwhile),
// what is left of them, and until when a closing connection waits for them.
struct pending_write {
  write_buffer bytes;
  std::vector<iovec> iov;
  std::size_t first = 0;  // iov[first, end) is still to write
  time_point linger_until = time_point::max();
};

// Owned by its thread (its deadline table); deleted at the end of the turn
// it closed in, so that pointers to it held during the turn stay valid.
class link final : public engine::endpoint {
 public:
  link(io_thread& home, int fd, time_point now);
  ~link() override;

  void wake() override;
  std::string peer_address() const override;

  // Waits for the CONNECT.
  void begin();
  // The socket reported `ready_bits` (ready::*; edge-triggered).
  void on_ready(std::uint32_t ready_bits, time_point now);
  // Reads until the socket is drained (a short read; until end of stream
  // when the peer has closed), at most a few full buffers before letting
  // the thread's other connections run.
  void read(time_point now);
  // End of a loop turn: move, write, keep the deadline, close when done.
  void service(time_point now);
  // The broker is stopping: a connection the engine did not disconnect (its
  // CONNECT not yet admitted) closes too.
  void stop(time_point now);
  // Its deadline passed (the thread's deadline table).
  void on_due(time_point now);
  // Closes the socket, written or not. The endpoint learns first, while the
  // socket is open (hooks may ask for the peer).
  void finish(time_point now);
  // The transport failed: nothing more can be written.
  void lost(const error& why, time_point now);

  // The answer of its CONNECT's check (io_thread::verified).
  void verified(reason r, time_point now);

  int fd() const { return fd_; }
  bool open() const { return open_; }

 private:
  friend struct io_thread;

  // Takes `n` bytes read into the thread's buffer; false when reading
  // should stop here (moving, closing).
  bool take(std::size_t n, time_point now);
  void begin_drain(time_point now);
  void drain(time_point now);
  // True when the filter named the user (use_identity_as_username).
  bool apply_identity();
  // Its listener's check of the CONNECT: true when it may go on to the
  // engine now; false when it waits for the answer (reads stop until then).
  bool authenticate(bool identity_proven, time_point now);
  void admit_or_move(time_point now);
  void move_to(io_thread& to);
  bool write(time_point now);
  void continue_write(time_point now);
  void keep_deadline();
  void ended(time_point now);
  // The byte layer: the connection's filter when it has one, else the socket.
  io_result read_some(std::span<std::byte> into) {
    return filter_ ? filter_->read(into) : tcp::read(fd_, into);
  }
  io_result write_some(std::vector<iovec>& iov, std::size_t& first) {
    return filter_ ? filter_->write(iov, first) : tcp::write(fd_, iov, first);
  }
  listener_gate* gate() const;
  void shutdown_write();
  pending_write* pending() const;
  std::unique_ptr<pending_write> take_pending();

  // 24 bytes after the endpoint's (index_ first: it fits in the endpoint's tail padding).
  std::uint32_t index_ = 0;  // in the thread's deadline table
  io_thread* home_;
  int fd_;
  std::uint16_t move_to_ = 0;  // 1 + the thread to move to after this turn; 0: none
  std::uint8_t gate_ = 0;      // its listener's gate's slot (counts it; checks its CONNECT); 0: none
  bool dirty_ : 1 = false;      // in home_->dirty
  bool again_ : 1 = false;      // in home_->again
  bool writing_ : 1 = false;    // has a pending write (home_->pending)
  bool open_ : 1 = true;        // not finished
  bool warm_ : 1 = false;       // in home_->warm: written since the last tick
  bool peer_done_ : 1 = false;  // the peer closed (or the socket failed): read to the end
  bool draining_ : 1 = false;   // closing: written, write side shut, discarding input (begin_drain)
  bool verifying_ : 1 = false;  // its CONNECT waits for the gate's answer (home_->verifying)
  // The stream's top filter (TLS, WebSocket), owned; nullptr: plain TCP.
  byte_filter* filter_ = nullptr;
};

// An idle connection is this object and 12 bytes in its thread's tables.
static_assert(sizeof(link) <= sizeof(engine::endpoint) + 24);

}  // namespace tern::net::detail
