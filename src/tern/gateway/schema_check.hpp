// tern/gateway/schema_check.hpp (internal): a document's problems against
// mqttgateway's map schema (map_schema(), draft-07), found by valijson. Apart
// from map.cpp because valijson's std::regex needs its own warning flags.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tern::gateway::detail {

struct schema_problem {
  std::string pointer;  // RFC 6901 JSON Pointer of the value at fault; "/" for the document
  std::string what;     // valijson's description
};

// Every problem valijson reports, in its order; empty when `doc` is valid.
[[nodiscard]] std::vector<schema_problem> schema_problems(const nlohmann::json& doc);

// `key` as one JSON Pointer reference token ('~' -> "~0", '/' -> "~1").
[[nodiscard]] std::string pointer_token(std::string_view key);

}  // namespace tern::gateway::detail
