#include "tern/core/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace tern::utf8 {
namespace {

constexpr std::string_view ill_formed = "MQTT-1.5.4-1 (3.1.1: MQTT-1.5.3-1): ill-formed UTF-8 string";
constexpr std::string_view surrogate = "MQTT-1.5.4-1 (3.1.1: MQTT-1.5.3-1): UTF-8 string encodes a UTF-16 surrogate";
constexpr std::string_view null_char = "MQTT-1.5.4-2 (3.1.1: MQTT-1.5.3-2): UTF-8 string contains U+0000";

inline bool is_cont(std::uint8_t b) noexcept { return (b & 0xC0u) == 0x80u; }

}  // namespace

std::optional<error> validate(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII fast path, 8 bytes at a time: no high bit and no zero byte.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      constexpr std::uint64_t lo = 0x0101010101010101ull, hi = 0x8080808080808080ull;
      if (((w | ((w - lo) & ~w)) & hi) != 0) break;  // a high bit or a zero byte
      p += 8;
    }
    if (p == end) break;
    std::uint8_t b = *p;
    if (b < 0x80u) {
      if (b == 0) return error{reason::malformed_packet, null_char};
      ++p;
      continue;
    }
    if (b < 0xC2u) return error{reason::malformed_packet, ill_formed};  // continuation or overlong
    if (b < 0xE0u) {
      if (end - p < 2 || !is_cont(p[1])) return error{reason::malformed_packet, ill_formed};
      p += 2;
      continue;
    }
    if (b < 0xF0u) {
      if (end - p < 3 || !is_cont(p[1]) || !is_cont(p[2])) return error{reason::malformed_packet, ill_formed};
      if (b == 0xE0u && p[1] < 0xA0u) return error{reason::malformed_packet, ill_formed};  // overlong
      if (b == 0xEDu && p[1] >= 0xA0u) return error{reason::malformed_packet, surrogate};
      p += 3;
      continue;
    }
    if (b < 0xF5u) {
      if (end - p < 4 || !is_cont(p[1]) || !is_cont(p[2]) || !is_cont(p[3]))
        return error{reason::malformed_packet, ill_formed};
      if (b == 0xF0u && p[1] < 0x90u) return error{reason::malformed_packet, ill_formed};  // overlong
      if (b == 0xF4u && p[1] >= 0x90u) return error{reason::malformed_packet, ill_formed};  // > U+10FFFF
      p += 4;
      continue;
    }
    return error{reason::malformed_packet, ill_formed};
  }
  return std::nullopt;
}

name_chars check_topic_name(std::string_view s) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  auto has_zero = [](std::uint64_t w) { return (w - ones) & ~w & highs; };
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if ((w & highs) | has_zero(w) | has_zero(w ^ (ones * '+')) | has_zero(w ^ (ones * '#'))) break;
  }
  name_chars r;
  for (std::size_t j = i; j < s.size(); ++j) {
    const char c = s[j];
    if (c == '+' || c == '#') {
      r.wildcard = true;
    } else if (c == 0 || (static_cast<unsigned char>(c) & 0x80u)) {
      const auto rest = s.substr(j);
      r.encoding = validate(rest);
      r.wildcard = r.wildcard || rest.find_first_of("+#") != std::string_view::npos;
      return r;
    }
  }
  return r;
}

}  // namespace tern::utf8
