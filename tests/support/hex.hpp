// tests/support/hex.hpp: bytes from and to hex text, for readable test packets.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tern/core/varint.hpp"

namespace tern::testing {

// "10 0c 00 04" -> bytes; spaces are ignored.
inline std::vector<std::byte> from_hex(std::string_view hex) {
  std::vector<std::byte> out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (c == ' ') continue;
    else throw std::invalid_argument("bad hex");
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(std::byte(hi * 16 + v));
      hi = -1;
    }
  }
  if (hi >= 0) throw std::invalid_argument("odd hex");
  return out;
}

inline std::string to_hex(bytes_view b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s += d[static_cast<unsigned>(x) >> 4];
    s += d[static_cast<unsigned>(x) & 15];
  }
  return s;
}

// A whole packet: the first byte, a remaining length computed from the body
// given in hex, then the body.
inline std::vector<std::byte> packet_bytes(unsigned first, std::string_view body_hex) {
  // Sized up front and filled by index: g++ 12 -O2 reports a false
  // -Warray-bounds on vector::insert here.
  const auto body = from_hex(body_hex);
  std::byte len[4];
  const auto n = varint::encode(static_cast<std::uint32_t>(body.size()), len);
  std::vector<std::byte> out(1 + n + body.size());
  out[0] = std::byte(first);
  for (std::size_t i = 0; i < n; ++i) out[1 + i] = len[i];
  for (std::size_t i = 0; i < body.size(); ++i) out[1 + n + i] = body[i];
  return out;
}

}  // namespace tern::testing
