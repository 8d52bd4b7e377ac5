// tern/gateway/json_line.hpp: the internal message as one line of JSON, what
// the process interface exchanges with its program (commands to its stdin,
// statuses from its stdout):
//
//   {"type":"command","function":"Lighting","gateway":"Dummy","location":"Office",
//    "device":"light1","sender":"app","action":"LIGHT_ON","arguments":{"level":"80"}}
//
// Every key is written; empty strings for fields not set. Read back, a
// missing key is an empty string (or "status", or no arguments); an unknown
// key, a value that is not a string, or a "type" that is neither "command"
// nor "status" refuses the line (gateway_error::bad_line, the detail says why).
//
//   std::string line = tern::gateway::to_json_line(m);      // ends with '\n'
//   auto back = tern::gateway::from_json_line(line);         // == m
#pragma once

#include <string>
#include <string_view>

#include "tern/core/result.hpp"
#include "tern/gateway/error.hpp"
#include "tern/gateway/message.hpp"

namespace tern::gateway {

// `m` as one JSON object and a '\n'. Text that is not valid UTF-8 is written
// as it is (the JSON is then invalid; the map never produces such text).
[[nodiscard]] std::string to_json_line(const message& m);

// One line (a trailing "\n" or "\r\n" ignored) as a message. Errors:
// bad_json (not JSON), bad_line (not an object, an unknown key, a value of
// the wrong type, an unknown type).
[[nodiscard]] result<message> from_json_line(std::string_view line);

}  // namespace tern::gateway
