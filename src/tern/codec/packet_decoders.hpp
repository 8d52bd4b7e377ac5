// tern/codec/packet_decoders.hpp (internal to the codec): what the
// incremental decoder (decoder.cpp) asks of packet_decoders.cpp, which knows
// each control packet's body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tern/codec/packet.hpp"
#include "tern/core/error.hpp"
#include "tern/core/bytes.hpp"

namespace tern::codec_detail {

// A refusal both the packets and the whole-buffer decode() name.
inline constexpr std::string_view trailing = "MQTT 5.0 2.1.4: bytes left over after the packet's last field";

// Checks a packet's first byte as soon as it arrives: its type and flags,
// and that a connection starts with CONNECT.
std::optional<error> start_packet(std::uint8_t first, protocol_version v) noexcept;

// Decodes a whole packet of first byte `first_byte` and body `body` (taken
// over: payloads and properties keep references to its block) into `out`.
std::optional<error> decode_packet(std::uint8_t first_byte, shared_bytes& body, protocol_version v, packet& out);

// PUBACK, PUBREC, PUBREL or PUBCOMP.
bool is_ack(packet_type t) noexcept;

// Bodies of acknowledgements this short are kept in the decoder itself (no
// allocation): a packet id, a reason code and an empty property block at most.
constexpr std::size_t small_ack_body = 4;

// decode_packet for an acknowledgement whose body (at most small_ack_body
// bytes) is not in a shared block.
std::optional<error> decode_small_ack(std::uint8_t first_byte, bytes_view bytes, protocol_version v, packet& out);

}  // namespace tern::codec_detail
