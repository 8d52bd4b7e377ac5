// tern/core/varint.hpp: MQTT's Variable Byte Integer (MQTT 5.0 section 1.5.5,
// 3.1.1 section 2.2.3): 7 bits per byte, at most 4 bytes, values up to
// 268,435,455.
//
//   std::byte buf[4];
//   std::size_t n = tern::varint::encode(321, buf);   // n == 2
//   auto r = tern::varint::decode({buf, n});          // r->value == 321, r->size == 2
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "tern/core/bytes.hpp"
#include "tern/core/result.hpp"

namespace tern::varint {

inline constexpr std::uint32_t max_value = 268'435'455;
inline constexpr std::size_t max_size = 4;

// The number of bytes `value` takes (1 to 4). `value` must be <= max_value.
constexpr std::size_t size(std::uint32_t value) noexcept {
  return value < 128u ? 1 : value < 16'384u ? 2 : value < 2'097'152u ? 3 : 4;
}

// Writes `value` (<= max_value) at `out` and returns the bytes written.
inline std::size_t encode(std::uint32_t value, std::byte* out) noexcept {
  std::size_t n = 0;
  do {
    auto digit = static_cast<std::uint8_t>(value & 0x7Fu);
    value >>= 7;
    if (value != 0) digit = static_cast<std::uint8_t>(digit | 0x80u);
    out[n++] = std::byte{digit};
  } while (value != 0);
  return n;
}

struct decoded {
  std::uint32_t value;
  std::size_t size;
};

// Decodes the integer at the start of `in`. Returns nullopt when `in` ends
// before the integer does (more bytes needed). Refuses a fifth byte and a
// non-minimal encoding as Malformed Packet.
result<std::optional<decoded>> decode(bytes_view in) noexcept;

}  // namespace tern::varint
