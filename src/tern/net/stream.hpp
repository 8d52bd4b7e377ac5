// tern/net/stream.hpp: a client's byte stream to a broker over Asio, behind
// a small virtual interface, so that the client (src/tern/client/link.cpp)
// does not know which one it drives: TCP (tcp_stream.cpp) and TLS over TCP
// (tls_stream.cpp: asio::ssl::stream, a context built from tls_options for
// every stream, SNI, OpenSSL's host name check). The broker's side of a
// connection is the link and its byte filters (link.hpp, byte_filter.hpp).
//
//   auto s = tern::net::make_tls_stream(ex, tls, log);   // or make_tcp_stream(ex)
//   (*s)->async_open("broker.example", 8883, [](error_code ec) { ... });
//
// WebSocket (ws://, wss://) is a stream over one of those (ws_stream.cpp):
// async_open does the HTTP upgrade on its path with subprotocol "mqtt" (and
// extra headers), reads give frame payload bytes (MQTT packets may span
// frames), each gathered write is one masked binary frame. Its framing is
// the broker's (ws_frame.hpp), not Beast's websocket::stream: one frame
// reader for both sides, fuzzed once.
//
// Lifetime: operations keep their stream alive (they hold a shared_ptr),
// so the owner may drop its pointer while operations are pending. Thread
// safety: none; every call on the stream's executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include "tern/core/result.hpp"
#include "tern/log/log.hpp"
#include "tern/net/tls_options.hpp"

namespace tern::net {

using boost::system::error_code;

class stream {
 public:
  using open_handler = boost::asio::any_completion_handler<void(error_code)>;
  using io_handler = boost::asio::any_completion_handler<void(error_code, std::size_t)>;

  virtual ~stream() = default;

  // Resolves `host`, connects to `port`, and does whatever handshake the
  // stream needs; completes once MQTT bytes can flow.
  virtual void async_open(const std::string& host, std::uint16_t port, open_handler h) = 0;
  // Reads at least one byte into `b`.
  virtual void async_read_some(boost::asio::mutable_buffer b, io_handler h) = 0;
  // Writes all of `buffers` (one gathered write); `buffers` and the bytes
  // they point to stay valid until `h` runs. One write at a time.
  virtual void async_write(const std::vector<boost::asio::const_buffer>& buffers, io_handler h) = 0;
  // Closes at once; pending operations complete with operation_aborted.
  virtual void close() noexcept = 0;
};

// Plain TCP (Nagle off), its I/O objects on `ex`.
[[nodiscard]] std::shared_ptr<stream> make_tcp_stream(const boost::asio::any_io_executor& ex);

// TLS 1.2 or newer over TCP, verified as `tls` says; or the error of the
// first TLS setting that cannot be used (with a log line naming it on `log`;
// keys are never logged).
[[nodiscard]] result<std::shared_ptr<stream>> make_tls_stream(const boost::asio::any_io_executor& ex,
                                                              const tls_options& tls, const log::logger& log);

// WebSocket over `below` (make_tcp_stream or make_tls_stream), upgrading on
// `path` with `headers` added to the request.
[[nodiscard]] std::shared_ptr<stream> make_ws_stream(const boost::asio::any_io_executor& ex,
                                                     std::shared_ptr<stream> below, std::string path,
                                                     std::vector<std::pair<std::string, std::string>> headers);

}  // namespace tern::net
