// tern/core/error.hpp: MQTT reason codes as std::error_code categories, and
// tern::error, the error value every fallible tern call returns.
//
// MQTT 5 reason codes (spec 2.4) live in one category, MQTT 3.1/3.1.1 CONNACK
// return codes (3.1.1 spec 3.2.2.3) in another, so an error_code says both the
// code and the protocol it belongs to:
//
//   std::error_code ec = tern::reason::packet_too_large;   // implicit
//   assert(ec.category() == tern::reason_category());
//   tern::error e{tern::reason::malformed_packet, "MQTT-1.5.5-1: variable byte integer not minimal"};
//   std::cout << e.message();   // "MQTT-1.5.5-1: variable byte integer not minimal"
//
// Codes below 0x80 are outcomes, not failures (granted QoS 1, no matching
// subscribers...): use tern::is_failure() before treating one as an error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace tern {

// Every reason code of MQTT 5.0 (OASIS MQTT 5.0, section 2.4). 0x00 is
// "Success", "Normal disconnection" or "Granted QoS 0" depending on the packet.
enum class reason : std::uint8_t {
  success = 0x00,
  normal_disconnection = 0x00,
  granted_qos_0 = 0x00,
  granted_qos_1 = 0x01,
  granted_qos_2 = 0x02,
  disconnect_with_will_message = 0x04,
  no_matching_subscribers = 0x10,
  no_subscription_existed = 0x11,
  continue_authentication = 0x18,
  re_authenticate = 0x19,
  unspecified_error = 0x80,
  malformed_packet = 0x81,
  protocol_error = 0x82,
  implementation_specific_error = 0x83,
  unsupported_protocol_version = 0x84,
  client_identifier_not_valid = 0x85,
  bad_user_name_or_password = 0x86,
  not_authorized = 0x87,
  server_unavailable = 0x88,
  server_busy = 0x89,
  banned = 0x8A,
  server_shutting_down = 0x8B,
  bad_authentication_method = 0x8C,
  keep_alive_timeout = 0x8D,
  session_taken_over = 0x8E,
  topic_filter_invalid = 0x8F,
  topic_name_invalid = 0x90,
  packet_identifier_in_use = 0x91,
  packet_identifier_not_found = 0x92,
  receive_maximum_exceeded = 0x93,
  topic_alias_invalid = 0x94,
  packet_too_large = 0x95,
  message_rate_too_high = 0x96,
  quota_exceeded = 0x97,
  administrative_action = 0x98,
  payload_format_invalid = 0x99,
  retain_not_supported = 0x9A,
  qos_not_supported = 0x9B,
  use_another_server = 0x9C,
  server_moved = 0x9D,
  shared_subscriptions_not_supported = 0x9E,
  connection_rate_exceeded = 0x9F,
  maximum_connect_time = 0xA0,
  subscription_identifiers_not_supported = 0xA1,
  wildcard_subscriptions_not_supported = 0xA2,
};

// CONNACK return codes of MQTT 3.1 and 3.1.1 (3.1.1 spec table 3.1).
enum class connect_return_code : std::uint8_t {
  accepted = 0,
  unacceptable_protocol_version = 1,
  identifier_rejected = 2,
  server_unavailable = 3,
  bad_user_name_or_password = 4,
  not_authorized = 5,
};

// The category of MQTT 5 reason codes; name "mqtt5".
const std::error_category& reason_category() noexcept;
// The category of MQTT 3.1/3.1.1 CONNACK return codes; name "mqtt3.connack".
const std::error_category& connect_return_code_category() noexcept;

// True when `r` is defined by MQTT 5.0 (not every byte value is).
bool is_defined(reason r) noexcept;
// True for reason codes 0x80 and above, which the spec calls failures.
constexpr bool is_failure(reason r) noexcept { return static_cast<std::uint8_t>(r) >= 0x80; }
// The spec's name of a reason code, e.g. "Packet too large".
std::string_view name(reason r) noexcept;

// The 3.1.1 CONNACK return code closest to an MQTT 5 CONNACK reason code
// (used when a v3 client is refused for a reason the hooks phrase in v5 terms).
connect_return_code to_connect_return_code(reason r) noexcept;
// The MQTT 5 reason code for a 3.1.1 CONNACK return code.
reason to_reason(connect_return_code c) noexcept;

inline std::error_code make_error_code(reason r) noexcept {
  return {static_cast<int>(r), reason_category()};
}
inline std::error_code make_error_code(connect_return_code c) noexcept {
  return {static_cast<int>(c), connect_return_code_category()};
}

// An error value: a code, and for protocol violations the rule that failed,
// e.g. "MQTT-3.8.3-2: SUBSCRIBE without a topic filter". `detail` always
// points at a string literal, so making an error never allocates.
struct error {
  std::error_code code;
  std::string_view detail;

  error() = default;
  error(std::error_code c, std::string_view d = {}) noexcept : code(c), detail(d) {}
  error(reason r, std::string_view d = {}) noexcept : code(make_error_code(r)), detail(d) {}

  // The detail if there is one, else the code's message.
  std::string message() const;
  friend bool operator==(const error& a, const error& b) noexcept { return a.code == b.code; }
};

// The exception thrown by result<T>::value() on an error, at application edges.
class system_error : public std::system_error {
 public:
  explicit system_error(const error& e) : std::system_error(e.code, e.message()) {}
};

}  // namespace tern

template <>
struct std::is_error_code_enum<tern::reason> : std::true_type {};
template <>
struct std::is_error_code_enum<tern::connect_return_code> : std::true_type {};
