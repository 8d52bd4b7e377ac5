#include "tern/codec/packet.hpp"

namespace tern {

publish_packet::publish_packet(std::string_view topic, shared_bytes payload, tern::qos q, bool retain,
                               properties props)
    : qos(q), retain(retain), topic_(shared_bytes::copy(topic)), payload_(std::move(payload)),
      props_(std::move(props)) {}

publish_packet::publish_packet(shared_bytes topic, shared_bytes payload, properties props, tern::qos q,
                               bool retain, bool dup, std::uint16_t packet_id) noexcept
    : qos(q), retain(retain), dup(dup), packet_id(packet_id), topic_(std::move(topic)),
      payload_(std::move(payload)), props_(std::move(props)) {}

std::string_view name(packet_type t) noexcept {
  switch (t) {
    case packet_type::connect: return "CONNECT";
    case packet_type::connack: return "CONNACK";
    case packet_type::publish: return "PUBLISH";
    case packet_type::puback: return "PUBACK";
    case packet_type::pubrec: return "PUBREC";
    case packet_type::pubrel: return "PUBREL";
    case packet_type::pubcomp: return "PUBCOMP";
    case packet_type::subscribe: return "SUBSCRIBE";
    case packet_type::suback: return "SUBACK";
    case packet_type::unsubscribe: return "UNSUBSCRIBE";
    case packet_type::unsuback: return "UNSUBACK";
    case packet_type::pingreq: return "PINGREQ";
    case packet_type::pingresp: return "PINGRESP";
    case packet_type::disconnect: return "DISCONNECT";
    case packet_type::auth: return "AUTH";
  }
  return "reserved";
}

std::string_view name(protocol_version v) noexcept {
  switch (v) {
    case protocol_version::v3_1: return "3.1";
    case protocol_version::v3_1_1: return "3.1.1";
    case protocol_version::v5: return "5.0";
    case protocol_version::unknown: break;
  }
  return "unknown";
}

}  // namespace tern
