// tern/client/uri.hpp: the broker address a client connects to, as a URI.
//
//   auto u = tern::parse_broker_uri("mqtt://broker.example:1883");
//   if (!u) return u.error();          // client_error::invalid_uri, detail says why
//   u->transport;                      // broker_uri::kind::tcp
//
// Schemes: mqtt:// and tcp:// (TCP, port 1883), mqtts:// and ssl:// (TLS,
// 8883), ws:// (WebSocket, 80) and wss:// (WebSocket over TLS, 443); the
// WebSocket path defaults to /mqtt. IPv6 literals go in brackets:
// mqtt://[::1]:1883. No user information (put credentials in connect_options).
// Parsing accepts every scheme; whether this build can connect with it is
// the transport factory's business (tern/client/transport.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tern/core/result.hpp"

namespace tern {

struct broker_uri {
  enum class kind : std::uint8_t { tcp, tls, ws, wss };
  kind transport = kind::tcp;
  std::string host;       // without brackets for IPv6
  std::uint16_t port = 0;  // the scheme's default when the URI has none
  std::string path;       // WebSocket only; "/mqtt" by default

  // "mqtt://host:port" (and the path for ws/wss).
  std::string to_string() const;
};

[[nodiscard]] result<broker_uri> parse_broker_uri(std::string_view uri);

}  // namespace tern
