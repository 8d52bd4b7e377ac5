// tests/support/raw_connect.hpp: the bytes of a minimal MQTT 5.0 CONNECT, for
// tests that speak to a listener below the client library (raw TLS, raw
// WebSocket frames).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tern::testing {

// CONNECT, MQTT 5.0, clean start, keep alive 60, no properties, client id
// `id` (under 115 bytes: one byte of remaining length).
inline std::vector<std::uint8_t> raw_connect_v5(const std::string& id) {
  const auto n = static_cast<std::uint8_t>(id.size());
  std::vector<std::uint8_t> p;
  p.reserve(15 + id.size());
  for (const std::uint8_t b :
       {std::uint8_t{0x10}, static_cast<std::uint8_t>(13 + n), std::uint8_t{0}, std::uint8_t{4}, std::uint8_t{'M'},
        std::uint8_t{'Q'}, std::uint8_t{'T'}, std::uint8_t{'T'}, std::uint8_t{5}, std::uint8_t{2}, std::uint8_t{0},
        std::uint8_t{60}, std::uint8_t{0}, std::uint8_t{0}, n})
    p.push_back(b);
  for (const char ch : id) p.push_back(static_cast<std::uint8_t>(ch));
  return p;
}

}  // namespace tern::testing
