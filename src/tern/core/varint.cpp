#include "tern/core/varint.hpp"

namespace tern::varint {

result<std::optional<decoded>> decode(bytes_view in) noexcept {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < max_size; ++i) {
    if (i == in.size()) return std::optional<decoded>{};
    auto b = static_cast<std::uint8_t>(in[i]);
    value |= static_cast<std::uint32_t>(b & 0x7Fu) << (7 * i);
    if ((b & 0x80u) == 0) {
      if (b == 0 && i > 0) {
        return error{reason::malformed_packet,
                     "MQTT-1.5.5-1: variable byte integer not encoded in the minimum number of bytes"};
      }
      return std::optional<decoded>{decoded{value, i + 1}};
    }
  }
  return error{reason::malformed_packet, "MQTT-1.5.5: variable byte integer longer than 4 bytes"};
}

}  // namespace tern::varint
