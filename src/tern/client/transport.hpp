// tern/client/transport.hpp (internal to tern::client): the byte stream a
// client runs MQTT over, behind a small virtual interface so that the client
// core (async_client.cpp) does not know which transport it drives.
//
// EXTENSION POINT for TLS and WebSocket: today make_transport() builds the
// TCP transport for mqtt:// and tcp://. To add one:
//   - mqtts:// (broker_uri::kind::tls): a class holding
//     asio::ssl::stream<tcp::socket> (client_options will carry an
//     asio::ssl::context or the paths to build one); open() = resolve,
//     connect, set SNI (SSL_set_tlsext_host_name), async_handshake(client);
//     close() = shut the socket down (no TLS close_notify wait).
//   - ws:// and wss:// (kind::ws, kind::wss): a class holding
//     beast::websocket::stream<tcp::socket or ssl::stream<...>>; open() adds
//     the WebSocket handshake on uri.path with subprotocol "mqtt" and binary
//     frames; read_some() reads frame payload bytes (MQTT packets may span
//     frames); write() writes one binary message per gathered write.
//   - a case in make_transport(), and OpenSSL / Boost.Beast in
//     src/tern/client/CMakeLists.txt.
// Nothing else changes: the client core only calls these four functions.
//
// Lifetime: operations keep their transport alive (they hold a shared_ptr),
// so the client may drop its pointer while operations are pending. Thread
// safety: none; every call on the client's executor.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include "tern/client/uri.hpp"
#include "tern/core/result.hpp"

namespace tern::client_detail {

using boost::system::error_code;

class transport {
 public:
  using open_handler = boost::asio::any_completion_handler<void(error_code)>;
  using io_handler = boost::asio::any_completion_handler<void(error_code, std::size_t)>;

  virtual ~transport() = default;

  // Resolves uri.host, connects, and does whatever handshake the transport
  // needs; completes once MQTT bytes can flow.
  virtual void async_open(const broker_uri& uri, open_handler h) = 0;
  // Reads at least one byte into `b`.
  virtual void async_read_some(boost::asio::mutable_buffer b, io_handler h) = 0;
  // Writes all of `buffers` (one gathered write); `buffers` and the bytes
  // they point to stay valid until `h` runs. One write at a time.
  virtual void async_write(const std::vector<boost::asio::const_buffer>& buffers, io_handler h) = 0;
  // Closes at once; pending operations complete with operation_aborted.
  virtual void close() noexcept = 0;
};

// A transport for `uri` whose I/O objects run on `ex`, or
// client_error::unsupported_scheme for a scheme this build cannot serve.
[[nodiscard]] result<std::shared_ptr<transport>> make_transport(const boost::asio::any_io_executor& ex,
                                                                const broker_uri& uri);

}  // namespace tern::client_detail
