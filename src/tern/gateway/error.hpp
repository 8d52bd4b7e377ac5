// tern/gateway/error.hpp: why the gateway dropped one MQTT message or could
// not write one, as a std::error_code category like tern's others. The
// tern::error that carries one may add a detail (a string literal) naming the
// field, e.g. {gateway_error::unmapped, "location: no such token in a strict map"}.
//
//   auto m = tern::gateway::parse(topic, payload);
//   if (!m && m.error().code == tern::gateway::gateway_error::no_action) ...
#pragma once

#include <cstdint>
#include <system_error>

namespace tern::gateway {

enum class gateway_error : std::uint8_t {
  wrong_levels = 1,    // the topic has not 7 levels (root/function/gateway/location/device/sender/type)
  unknown_type,        // the 7th level is neither "C" (command) nor "S" (status)
  empty_payload,       // no payload at all
  bad_json,            // the payload starts as JSON ('{' or '[') and is not valid JSON
  payload_not_object,  // the payload is JSON but not an object
  no_action,           // a JSON payload without an "action" key, or an empty action
  bad_action,          // the "action" of a JSON payload is not a string
  bad_argument,        // an argument's value is an object, an array or null
  bad_token,           // outbound: a topic level would hold '/', '+', '#' or NUL
  bad_utf8,            // an action, argument or topic level is not valid UTF-8 (or holds U+0000)
  unmapped,            // a strict map has no such token (the detail names the field)
  wrong_root,          // the topic's first level is not the map's root
  own_message,         // the sender level is the gateway's own name: it sent this itself
  bad_line,            // a process interface's line is not a message (the detail says why)
};

// The category of gateway_error; name "tern.gateway".
const std::error_category& gateway_error_category() noexcept;

inline std::error_code make_error_code(gateway_error e) noexcept {
  return {static_cast<int>(e), gateway_error_category()};
}

}  // namespace tern::gateway

template <>
struct std::is_error_code_enum<tern::gateway::gateway_error> : std::true_type {};
