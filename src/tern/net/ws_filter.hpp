// tern/net/ws_filter.hpp: MQTT over WebSocket (RFC 6455, MQTT 5.0 section
// 6) as a byte filter (byte_filter.hpp) under the link: the HTTP upgrade,
// then binary frames carrying the MQTT byte stream. A ws_server is a "ws"
// listener's maker over TCP, or a "wss" listener's over the TLS filters a
// tls_server makes (stacked: WebSocket over TLS over TCP); its connections
// run on the same io threads and engine as plain TCP.
//
//   auto ws = std::make_shared<tern::net::ws_server>(ws_server_options{.path = "/mqtt"});
//   auto wss = std::make_shared<tern::net::ws_server>(ws_server_options{}, tls);   // over TLS
//   o.listeners = {{"0.0.0.0", 8080, ws}, {"0.0.0.0", 8443, wss}};
//
// The upgrade request is read with Beast's HTTP parser (ws_filter.cpp, the
// one translation unit with Beast's headers): GET, Upgrade: websocket,
// Sec-WebSocket-Version 13, a key, the path when one is configured, and the
// subprotocol "mqtt" (or "mqttv3.1") when the client offers subprotocols;
// the answer names the one chosen. A request that is not an upgrade gets
// 426 (or 400, 404 for another path) and the connection closes; one that
// does not finish within handshake_timeout (TLS included for wss) is closed.
//
// Frames (ws_frame.hpp): masked client frames required, binary only (text:
// close 1003), pings answered with pongs, a close frame answered and the
// stream ended, a protocol error closed with 1002, a frame over
// max_frame_size with 1009. What the broker writes goes out as binary
// frames: one per write call, its header gathered with the MQTT bytes (no
// copy). When the connection closes the filter sends a close frame whose
// code says why (will_close: 1000, 1001, 1002, 1008), then the layer below
// shuts (TLS: close_notify), then the FIN.
//
// ws_client is the client side for the load generator (tern bench over
// ws://): it sends the upgrade request, checks the answer, and masks its
// frames (a copy per write).
//
// Thread safety: make() from any thread; a filter belongs to its
// connection's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/net/byte_filter.hpp"

namespace tern::net {

namespace ws {
using header_list = std::vector<std::pair<std::string, std::string>>;
}

struct ws_server_options {
  // The request's path must be this one ("/mqtt"); empty: any path.
  std::string path;
  // The HTTP upgrade (and the TLS handshake under it) must finish in this time.
  std::chrono::milliseconds handshake_timeout{10'000};
  // The largest payload of one data frame.
  std::uint64_t max_frame_size = 16 * 1024 * 1024;
};

class ws_server final : public byte_filter_maker {
 public:
  // Over TCP when `below` is nullptr, else over the filters it makes (TLS).
  explicit ws_server(ws_server_options o, std::shared_ptr<const byte_filter_maker> below = nullptr)
      : options_(std::make_shared<const ws_server_options>(std::move(o))), below_(std::move(below)) {}
  std::unique_ptr<byte_filter> make(int fd, std::chrono::steady_clock::time_point now) const override;
  const ws_server_options& options() const { return *options_; }

 private:
  std::shared_ptr<const ws_server_options> options_;  // shared with its filters
  std::shared_ptr<const byte_filter_maker> below_;
};

struct ws_client_options {
  std::string host = "localhost";  // the Host header
  std::string path = "/mqtt";
  ws::header_list headers = {};  // extra request headers
  std::uint64_t max_frame_size = 256 * 1024 * 1024;
};

class ws_client final : public byte_filter_maker {
 public:
  explicit ws_client(ws_client_options o, std::shared_ptr<const byte_filter_maker> below = nullptr)
      : options_(std::make_shared<const ws_client_options>(std::move(o))), below_(std::move(below)) {}
  std::unique_ptr<byte_filter> make(int fd, std::chrono::steady_clock::time_point now) const override;

 private:
  std::shared_ptr<const ws_client_options> options_;  // shared with its filters
  std::shared_ptr<const byte_filter_maker> below_;
};

// The client's side of the upgrade, shared by ws_client and the client
// library's WebSocket stream (stream.hpp).
namespace ws {
// The Sec-WebSocket-Accept value of a Sec-WebSocket-Key (section 4.2.2).
std::string accept_key(std::string_view key);
// A new Sec-WebSocket-Key (16 random bytes in base64).
std::string new_key();
// The upgrade request for `path` on `host` with `key`, asking for
// subprotocol "mqtt", with `headers` added.
std::string upgrade_request(std::string_view host, std::string_view path, std::string_view key,
                            const header_list& headers);
// The answer's head (up to its empty line) accepts the upgrade asked with
// `key`: 101, and the Sec-WebSocket-Accept that goes with the key; false
// and `why` ("HTTP 404 Not Found") else.
bool upgrade_accepted(std::string_view head, std::string_view key, std::string& why);
}  // namespace ws

}  // namespace tern::net
