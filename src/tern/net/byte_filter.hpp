// tern/net/byte_filter.hpp: the layers of a connection's byte stream, under
// the link (which speaks MQTT bytes) and over the socket. A byte filter takes
// bytes in (read), bytes out (write), says what it waits for (wants: the
// socket readable or writable, as a TLS handshake may want to read while
// the link writes) and closes. TLS (tls_filter.hpp: OpenSSL, ciphertext
// through the layer below, plaintext above) is one; WebSocket framing will
// be another; TCP is the socket itself, the bottom of every stack. A
// listener whose connections get filters has a byte_filter_maker.
//
//   std::byte buf[4096];
//   auto r = tcp::read(fd, buf);              // plain TCP: the link calls these directly
//   if (r.status == io_status::done) use(std::span(buf, r.bytes));
//
//   tcp_filter f(fd);                         // the same, behind the interface
//   byte_filter& layer = f;                   // what a TLS filter would hold as its next layer
//   r = layer.write(iov, first);
//
// The link calls tcp:: directly when a connection has no filter: no virtual
// call and no copy on the plain TCP path (one test of a pointer per read or
// write); a filtered connection goes through its top filter, once per read
// or write (of up to a 64 KiB buffer), never per byte.
//
// Thread safety: none; a filter belongs to its connection's thread.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace tern::net {

// How a read or write through a byte layer went.
enum class io_status : std::uint8_t {
  done,         // `bytes` moved (a read of 0 bytes only when asked for 0)
  would_block,  // nothing more now: wait until wants() is ready
  end,          // read: the stream ended cleanly
  failed,       // `ec` says why
};

struct io_result {
  std::size_t bytes = 0;
  io_status status = io_status::done;
  std::error_code ec;
};

// Why the connection closes, for a layer that tells its peer (a WebSocket
// close frame's code).
enum class close_cause : std::uint8_t {
  normal,          // a DISCONNECT, the peer's close, a session taken over
  going_away,      // the broker stops
  protocol_error,  // the peer broke the protocol
  refused,         // its CONNECT was refused (policy)
};

// What a layer proved about its peer (a TLS client certificate).
struct peer_identity {
  // The listener makes this the user name the engine sees, in place of the
  // CONNECT's (use_identity_as_username).
  bool replaces_username = false;
  // The name (the certificate's CN); none: the peer proved none, and a
  // replacing listener refuses its CONNECT (bad user name or password).
  std::optional<std::string> username;
};

// One layer of a connection's stream.
class byte_filter {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~byte_filter() = default;
  // Bytes in: reads at most out.size() bytes of the stream into `out`. A
  // filter reads until its layer below would block (so that a short read
  // means "drained", as for TCP under edge-triggered readiness); it may
  // return bytes with `end` or `failed`: the bytes came first.
  virtual io_result read(std::span<std::byte> out) = 0;
  // Bytes out: writes as much of iov[first, end) as the layers below take,
  // advancing `first` and trimming iov[first] past what was taken. done:
  // all of it; would_block: the rest waits for wants().
  virtual io_result write(std::vector<iovec>& iov, std::size_t& first) = 0;
  // What a would_block waits for: ready::readable and/or ready::writable
  // of the socket (reactor.hpp).
  virtual std::uint32_t wants() const = 0;
  // No more bytes out (a TLS close_notify, a WebSocket close frame, then the
  // socket's FIN); reading goes on.
  virtual void shutdown_write() = 0;
  // Why shutdown_write() will come (asked before it; normal when never).
  virtual void will_close(close_cause) {}
  // Gives up the stream and the layers below it (the socket closes).
  virtual void close() = 0;
  // Until when the layer's handshake (TLS, HTTP upgrade) may go on;
  // time_point::max() once done, or for a layer without one. Past it the
  // link closes the connection.
  virtual time_point handshake_deadline() const { return time_point::max(); }
  // What the handshake proved about the peer; asked when its CONNECT comes.
  virtual peer_identity identity() const { return {}; }
};

// Makes the filters of a listener's connections (a TLS context: one per
// listener, shared by every io thread).
// Thread safety: make() from any thread, concurrently.
class byte_filter_maker {
 public:
  virtual ~byte_filter_maker() = default;
  // The top filter of a connection over the connected socket `fd`, accepted
  // at `now`; it owns `fd` from now on. nullptr (out of memory): `fd` stays
  // the caller's.
  virtual std::unique_ptr<byte_filter> make(int fd, std::chrono::steady_clock::time_point now) const = 0;
};

// The TCP layer: calls on the socket, non-blocking, EINTR retried.
namespace tcp {
// One recv into `out`.
io_result read(int fd, std::span<std::byte> out);
// Gathered sendmsg calls until all is written or the socket would block.
io_result write(int fd, std::vector<iovec>& iov, std::size_t& first);
// Sends the FIN.
void shutdown_write(int fd);
}  // namespace tcp

// The TCP layer as a byte_filter: the bottom of a stack of filters.
class tcp_filter final : public byte_filter {
 public:
  // Takes ownership of the connected socket `fd`.
  explicit tcp_filter(int fd) : fd_(fd) {}
  ~tcp_filter() override { close(); }
  tcp_filter(const tcp_filter&) = delete;
  tcp_filter& operator=(const tcp_filter&) = delete;

  io_result read(std::span<std::byte> out) override { return tcp::read(fd_, out); }
  io_result write(std::vector<iovec>& iov, std::size_t& first) override { return tcp::write(fd_, iov, first); }
  std::uint32_t wants() const override;
  void shutdown_write() override { tcp::shutdown_write(fd_); }
  void close() override;
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace tern::net
