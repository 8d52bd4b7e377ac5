// tern/gateway/syntax.hpp: mqttgateway's MQTT syntax, both directions, with
// no mapping (tokens stay in MQTT's vocabulary; tern/gateway/map.hpp
// translates them).
//
// Topic: root/function/gateway/location/device/sender/type, exactly 7 levels,
// type "C" (command) or "S" (status). Payload: a bare action ("light_on"), or
// a JSON object whose "action" key is the action and whose other keys are the
// arguments ({"action": "dim", "level": "80"}). Argument values come in as
// strings, numbers or booleans (kept as their JSON text: 80 -> "80") and go
// out as JSON strings. A payload is JSON when its first byte that is not
// white space is '{' or '['.
//
//   auto p = tern::gateway::parse("home/lighting/dummy/office/light1/me/C", "light_on");
//   if (!p) log(p.error().message());   // why it was dropped (tern::gateway::gateway_error)
//   p->root;          // "home"
//   p->msg.action;    // "light_on"
//   auto out = tern::gateway::format("home", p->msg);   // the same topic and payload back
//
// Pure functions: no I/O, no state, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "tern/core/result.hpp"
#include "tern/gateway/error.hpp"
#include "tern/gateway/message.hpp"

namespace tern::gateway {

// An MQTT message as the gateway publishes it (QoS and retain are the
// runner's business).
struct mqtt_message {
  std::string topic;
  std::string payload;
  friend bool operator==(const mqtt_message&, const mqtt_message&) = default;
};

// A message read off MQTT: its root (the first level, which the map checks)
// and its other levels and payload, untranslated.
struct parsed {
  std::string_view root;  // a view into the topic given to parse()
  message msg;
};

// Reads a topic and payload. Errors (gateway_error): wrong_levels,
// unknown_type, empty_payload, bad_json, payload_not_object, no_action (no
// "action" key, or an empty action), bad_action (not a string), bad_argument
// (an object, array or null), bad_utf8 (a bare action that is not valid UTF-8).
[[nodiscard]] result<parsed> parse(std::string_view topic, std::string_view payload);

// The levels of a topic; wrong_levels or unknown_type as parse() says them.
struct levels {
  std::string_view root, function, gateway, location, device, sender;
  kind type = kind::status;
};
[[nodiscard]] result<levels> split_topic(std::string_view topic) noexcept;

// Reads a payload into m.action and m.arguments (added to what is there):
// parse()'s payload half, with its payload errors.
[[nodiscard]] result<void> parse_payload(std::string_view payload, message& m);

// parse_payload() with nlohmann's parser alone, where parse_payload() reads
// the common flat objects itself: the same results (gateway_syntax_fuzz
// checks), for tests and fuzzing.
[[nodiscard]] result<void> parse_payload_reference(std::string_view payload, message& m);

// A message's fields as views: what format() writes. message_map::to_mqtt
// fills one with translated tokens, so the message is not copied.
struct message_view {
  kind type = kind::status;
  std::string_view function, gateway, location, device, sender, action;
  const arguments_map* arguments = nullptr;  // null: none
};

// Writes `m` under `root`: the bare action when there are no arguments (and
// the action does not itself look like JSON), else a JSON object: "action"
// first, then the arguments in key order, every value a string (the action
// wins over an argument named "action", as in mqttgateway). Errors:
// bad_token (a level with '/', '+' or '#'; the detail names it), bad_utf8
// (a level, the action or an argument not valid UTF-8 or holding U+0000),
// no_action (an empty action: it would be an empty payload). The root is the
// map's, checked when the map was read; it is not checked again here.
[[nodiscard]] result<mqtt_message> format(std::string_view root, const message_view& m);
[[nodiscard]] result<mqtt_message> format(std::string_view root, const message& m);

}  // namespace tern::gateway
