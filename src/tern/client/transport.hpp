// tern/client/transport.hpp (internal to tern::client): the byte stream a
// client runs MQTT over, behind a small virtual interface so that the client
// core (async_client.cpp) does not know which transport it drives.
//
// Transports: TCP for mqtt:// and tcp:// (transport.cpp), TLS for mqtts://
// (tls_transport.cpp: asio::ssl::stream over TCP, context built from
// tls_options on every attempt, SNI, OpenSSL's host name check).
//
// EXTENSION POINT for WebSocket: make_transport() refuses ws:// and wss://
// with client_error::unsupported_scheme today. To add them:
//   - a class holding beast::websocket::stream<tcp::socket> (ws://) or
//     beast::websocket::stream<ssl::stream<tcp::socket>> (wss://: reuse
//     tls_transport.cpp's make_context(), prepare() and handshake_error(),
//     then handshake TLS before WebSocket); open() adds the WebSocket
//     handshake on uri.path with subprotocol "mqtt" and binary frames;
//     read_some() reads frame payload bytes (MQTT packets may span frames);
//     write() writes one binary message per gathered write.
//   - its case in make_transport(), and Boost.Beast in CMakeLists.txt.
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

#include "tern/client/options.hpp"
#include "tern/client/uri.hpp"
#include "tern/core/result.hpp"
#include "tern/log/log.hpp"

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

// A transport for `uri` whose I/O objects run on `ex` (`tls` serves mqtts://;
// `log` gets a line naming a TLS setting that cannot be used), or:
// client_error::unsupported_scheme for a scheme this build cannot serve; the
// error of a TLS setting that cannot be used (see tls_options).
[[nodiscard]] result<std::shared_ptr<transport>> make_transport(const boost::asio::any_io_executor& ex,
                                                                const broker_uri& uri, const tls_options& tls,
                                                                const log::logger& log);

// The TLS transport (tls_transport.cpp), for make_transport().
[[nodiscard]] result<std::shared_ptr<transport>> make_tls_transport(const boost::asio::any_io_executor& ex,
                                                                    const tls_options& tls, const log::logger& log);

}  // namespace tern::client_detail
