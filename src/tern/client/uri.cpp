#include "tern/client/uri.hpp"

#include <charconv>

#include "tern/client/error.hpp"

namespace tern {
namespace {

error invalid(std::string_view why) { return {make_error_code(client_error::invalid_uri), why}; }

}  // namespace

std::string broker_uri::to_string() const {
  std::string s;
  switch (transport) {
    case kind::tcp: s = "mqtt://"; break;
    case kind::tls: s = "mqtts://"; break;
    case kind::ws: s = "ws://"; break;
    case kind::wss: s = "wss://"; break;
  }
  // (Appended piece by piece: g++ 12 -O3 warns wrongly, -Wrestrict, about "[" + host.)
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) s += '[';
  s += host;
  if (v6) s += ']';
  s += ':';
  s += std::to_string(port);
  if (transport == kind::ws || transport == kind::wss) s += path;
  return s;
}

result<broker_uri> parse_broker_uri(std::string_view uri) {
  const auto sep = uri.find("://");
  if (sep == std::string_view::npos) return invalid("a broker URI starts with scheme://, e.g. mqtt://host:1883");
  const auto scheme = uri.substr(0, sep);
  broker_uri u;
  if (scheme == "mqtt" || scheme == "tcp") {
    u.transport = broker_uri::kind::tcp;
    u.port = 1883;
  } else if (scheme == "mqtts" || scheme == "ssl" || scheme == "tls") {
    u.transport = broker_uri::kind::tls;
    u.port = 8883;
  } else if (scheme == "ws") {
    u.transport = broker_uri::kind::ws;
    u.port = 80;
  } else if (scheme == "wss") {
    u.transport = broker_uri::kind::wss;
    u.port = 443;
  } else {
    return error{make_error_code(client_error::unsupported_scheme),
                 "the scheme is none of mqtt, tcp, mqtts, ssl, tls, ws, wss"};
  }
  auto rest = uri.substr(sep + 3);
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != std::string_view::npos)
    return invalid("user information in a broker URI is not supported: use connect_options");
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return invalid("an IPv6 address without its closing ]");
    host = rest.substr(1, close - 1);
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("text after the IPv6 address that is not :port");
      port = after.substr(1);
      if (port.empty()) return invalid("an empty port");
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return invalid("an empty port");
    if (host.find(':') != std::string_view::npos) return invalid("an IPv6 address must be in brackets");
  }
  if (host.empty()) return invalid("no host");
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return invalid("the port is not a number from 1 to 65535");
    u.port = static_cast<std::uint16_t>(value);
  }
  u.host = std::string(host);
  if (u.transport == broker_uri::kind::ws || u.transport == broker_uri::kind::wss)
    u.path = path.empty() ? std::string("/mqtt") : std::string(path);
  else if (!path.empty() && path != "/")
    return invalid("a path is only meaningful for ws:// and wss://");
  return u;
}

}  // namespace tern
