// tern/codec/packet.hpp: every MQTT control packet of 3.1, 3.1.1 and 5.0 as a
// value type, and `packet`, the variant of them all.
//
// One type per packet serves every version: the version is an argument of
// encode and decode, so a broker can forward a PUBLISH from a 5.0 publisher
// to a 3.1.1 subscriber without converting it. Fields a version does not
// have (properties, reason codes before 5.0) are ignored when encoding for
// it. Reason codes are always tern::reason: a 3.1.1 CONNACK return code or
// SUBACK failure maps one-to-one onto its 5.0 equivalent.
//
//   tern::publish_packet p("sensors/t1", tern::shared_bytes::copy("21.5"), tern::qos::at_least_once);
//   p.packet_id = 7;
//   auto bytes = tern::encode(tern::packet{p}, tern::protocol_version::v5);
//
// A decoded PUBLISH keeps topic, properties and payload in the one block the
// decoder copied its body into; copying the packet copies no bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tern/codec/properties.hpp"
#include "tern/core/bytes.hpp"

namespace tern {

// The Protocol Level byte of CONNECT.
enum class protocol_version : std::uint8_t { unknown = 0, v3_1 = 3, v3_1_1 = 4, v5 = 5 };

enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

// MQTT Control Packet types (the high nibble of the first byte).
enum class packet_type : std::uint8_t {
  connect = 1, connack, publish, puback, pubrec, pubrel, pubcomp,
  subscribe, suback, unsubscribe, unsuback, pingreq, pingresp, disconnect, auth,
};

std::string_view name(packet_type t) noexcept;
std::string_view name(protocol_version v) noexcept;

// The optional-field layout a 5.0 acknowledgement, DISCONNECT or AUTH used on
// the wire (the spec lets the sender omit a success reason code and an empty
// property length). The encoder writes at least this much, so decoded
// packets re-encode byte for byte; a new packet encodes in the shortest form.
enum class wire_form : std::uint8_t { shortest = 0, with_reason = 1, with_properties = 2 };

struct will_message {
  std::string topic;
  shared_bytes payload;
  tern::qos qos = qos::at_most_once;
  bool retain = false;
  properties props;  // 5.0 will properties

  friend bool operator==(const will_message&, const will_message&) = default;
};

struct connect_packet {
  protocol_version version = protocol_version::v5;
  std::string client_id;
  bool clean_start = true;  // Clean Session before 5.0
  std::uint16_t keep_alive = 60;
  std::optional<will_message> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary data; std::string holds any bytes
  properties props;

  static constexpr packet_type type = packet_type::connect;
  friend bool operator==(const connect_packet&, const connect_packet&) = default;
};

struct connack_packet {
  bool session_present = false;
  reason reason_code = reason::success;  // 3.1.1: the return code, mapped (to_reason)
  properties props;

  static constexpr packet_type type = packet_type::connack;
  friend bool operator==(const connack_packet&, const connack_packet&) = default;
};

class publish_packet {
 public:
  static constexpr packet_type type = packet_type::publish;

  publish_packet() = default;
  // A new message. The topic is copied; the payload is shared.
  publish_packet(std::string_view topic, shared_bytes payload, tern::qos q = qos::at_most_once,
                 bool retain = false, properties props = {});
  // A message whose topic, payload and properties already live in shared
  // blocks (the decoder, a store). No bytes are copied.
  publish_packet(shared_bytes topic, shared_bytes payload, properties props, tern::qos q, bool retain, bool dup,
                 std::uint16_t packet_id) noexcept;

  std::string_view topic() const noexcept { return topic_.view(); }
  const shared_bytes& topic_bytes() const noexcept { return topic_; }
  void set_topic(std::string_view t) { topic_ = shared_bytes::copy(t); }
  void set_topic(shared_bytes t) noexcept { topic_ = std::move(t); }

  const shared_bytes& payload() const noexcept { return payload_; }
  void set_payload(shared_bytes p) noexcept { payload_ = std::move(p); }

  const properties& props() const noexcept { return props_; }
  void set_props(properties p) noexcept { props_ = std::move(p); }

  tern::qos qos = qos::at_most_once;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;  // 0 for QoS 0

  friend bool operator==(const publish_packet&, const publish_packet&) = default;

 private:
  shared_bytes topic_;
  shared_bytes payload_;
  properties props_;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout.
template <packet_type Type>
struct ack_packet {
  std::uint16_t packet_id = 0;
  reason reason_code = reason::success;  // 5.0 only
  properties props;                      // 5.0 only
  wire_form form = wire_form::shortest;

  static constexpr packet_type type = Type;
  friend bool operator==(const ack_packet& a, const ack_packet& b) noexcept {
    return a.packet_id == b.packet_id && a.reason_code == b.reason_code && a.props == b.props;
  }
};
using puback_packet = ack_packet<packet_type::puback>;
using pubrec_packet = ack_packet<packet_type::pubrec>;
using pubrel_packet = ack_packet<packet_type::pubrel>;
using pubcomp_packet = ack_packet<packet_type::pubcomp>;

enum class retain_handling : std::uint8_t { send_on_subscribe = 0, send_if_new = 1, dont_send = 2 };

struct subscribe_options {
  tern::qos max_qos = qos::at_most_once;
  bool no_local = false;             // 5.0 only
  bool retain_as_published = false;  // 5.0 only
  tern::retain_handling retain_handling = retain_handling::send_on_subscribe;  // 5.0 only

  friend bool operator==(const subscribe_options&, const subscribe_options&) = default;
};

struct subscription {
  std::string filter;
  subscribe_options options;

  friend bool operator==(const subscription&, const subscription&) = default;
};

struct subscribe_packet {
  std::uint16_t packet_id = 0;
  std::vector<subscription> entries;
  properties props;

  static constexpr packet_type type = packet_type::subscribe;
  friend bool operator==(const subscribe_packet&, const subscribe_packet&) = default;
};

struct suback_packet {
  std::uint16_t packet_id = 0;
  std::vector<reason> reason_codes;  // 3.1.1: 0x00-0x02 granted, 0x80 failure
  properties props;

  static constexpr packet_type type = packet_type::suback;
  friend bool operator==(const suback_packet&, const suback_packet&) = default;
};

struct unsubscribe_packet {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;
  properties props;

  static constexpr packet_type type = packet_type::unsubscribe;
  friend bool operator==(const unsubscribe_packet&, const unsubscribe_packet&) = default;
};

struct unsuback_packet {
  std::uint16_t packet_id = 0;
  std::vector<reason> reason_codes;  // 5.0 only; empty before
  properties props;

  static constexpr packet_type type = packet_type::unsuback;
  friend bool operator==(const unsuback_packet&, const unsuback_packet&) = default;
};

struct pingreq_packet {
  static constexpr packet_type type = packet_type::pingreq;
  friend bool operator==(const pingreq_packet&, const pingreq_packet&) = default;
};

struct pingresp_packet {
  static constexpr packet_type type = packet_type::pingresp;
  friend bool operator==(const pingresp_packet&, const pingresp_packet&) = default;
};

struct disconnect_packet {
  reason reason_code = reason::normal_disconnection;  // 5.0 only
  properties props;                                   // 5.0 only
  wire_form form = wire_form::shortest;

  static constexpr packet_type type = packet_type::disconnect;
  friend bool operator==(const disconnect_packet& a, const disconnect_packet& b) noexcept {
    return a.reason_code == b.reason_code && a.props == b.props;
  }
};

// 5.0 only.
struct auth_packet {
  reason reason_code = reason::success;
  properties props;
  wire_form form = wire_form::shortest;

  static constexpr packet_type type = packet_type::auth;
  friend bool operator==(const auth_packet& a, const auth_packet& b) noexcept {
    return a.reason_code == b.reason_code && a.props == b.props;
  }
};

using packet = std::variant<connect_packet, connack_packet, publish_packet, puback_packet, pubrec_packet,
                            pubrel_packet, pubcomp_packet, subscribe_packet, suback_packet, unsubscribe_packet,
                            unsuback_packet, pingreq_packet, pingresp_packet, disconnect_packet, auth_packet>;

inline packet_type type_of(const packet& p) noexcept {
  return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::type; }, p);
}

}  // namespace tern
