// tern/gateway/map.hpp: mqttgateway's mapping file, read as it is, and the
// translation it defines between MQTT's vocabulary and an interface's.
//
// The file is a JSON object: "root" (the first topic level), "topics" (the
// filters to subscribe to), and one map per field (function, gateway,
// location, device, sender, action, argkey, argvalue):
//
//   "location": {"maptype": "strict", "map": {"Office": ["office", "study"]}}
//
// An internal name, then its MQTT tokens: the first is the one written,
// every one is read ("study" is an alias). maptype "none" passes every token
// through; "loose" translates what it lists and passes the rest; "strict"
// translates or drops the message (gateway_error::unmapped). An empty token
// passes a strict map, and a loose or strict map with no entry is "none", as
// in mqttgateway.
//
// The file is checked against mqttgateway's own JSON Schema
// (mqtt_map_schema.json, draft-07, compiled in) with valijson, then for what
// a schema cannot say: an MQTT token listed twice in one map (mqttgateway
// silently keeps the last), an internal name with no token, a token of a
// topic level (and the root) with '/', '+' or '#', a topic that is not a
// valid MQTT topic filter. A refusal lists every problem, one a line:
//
//   entry_map.json: /location/map/Office/0: Invalid type.
//   entry_map.json: /device/map: "gate" is listed under "Gate" (/device/map/Gate/0) and "Door" (/device/map/Door/1)
//
//   auto m = tern::gateway::message_map::load("entry_map.json");
//   if (!m) { log(m.error().message); return; }
//   auto in = m->to_internal(topic, payload, "entry2mqtt");  // a command for the interface
//   auto out = m->to_mqtt(status, "entry2mqtt");            // a status to publish
//
// A message_map is a value, immutable once read: share it between threads
// for reading (a reload builds a new one).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/system/result.hpp>

#include "tern/core/result.hpp"
#include "tern/core/string_hash.hpp"
#include "tern/gateway/message.hpp"
#include "tern/gateway/syntax.hpp"

namespace tern::gateway {

enum class map_type : std::uint8_t { none, loose, strict };

// The eight mapped fields, in the file's (and mqttgateway's) order.
enum class field : std::uint8_t { function, gateway, location, device, sender, action, argkey, argvalue };
inline constexpr std::size_t field_count = 8;
inline constexpr std::array<std::string_view, field_count> field_names{
    "function", "gateway", "location", "device", "sender", "action", "argkey", "argvalue"};

// One field's map.
class token_map {
 public:
  // "none".
  token_map() = default;
  // From {internal: [mqtt tokens...]}; every list non-empty, no token twice
  // (message_map::parse checks both). No entry makes it "none".
  token_map(map_type type, const std::vector<std::pair<std::string, std::vector<std::string>>>& entries);

  [[nodiscard]] map_type type() const noexcept { return type_; }
  // The internal name of an MQTT token: translated, passed through (none,
  // loose, or an empty token), or nullopt (strict, not listed).
  [[nodiscard]] std::optional<std::string_view> to_internal(std::string_view mqtt) const;
  // The MQTT token of an internal name (the first listed), likewise.
  [[nodiscard]] std::optional<std::string_view> to_mqtt(std::string_view internal) const;

 private:
  using table = std::unordered_map<std::string, std::string, string_hash, std::equal_to<>>;
  [[nodiscard]] std::optional<std::string_view> lookup(const table& t, std::string_view token) const;

  map_type type_ = map_type::none;
  table m2i_;
  table i2m_;
};

// A refusal: every problem, one a line, each starting with the file name.
struct map_error {
  std::string message;
};

template <class T>
using map_result = boost::system::result<T, map_error>;

// Called by map_result<T>::value() on an error: throws std::runtime_error.
[[noreturn]] void throw_exception_from_error(const map_error& e, const boost::source_location& loc);

// mqttgateway's JSON Schema for map files (draft-07), as shipped in
// src/tern/gateway/mqtt_map_schema.json.
[[nodiscard]] std::string_view map_schema() noexcept;

class message_map {
 public:
  // mqttgateway's NO_MAP: root "", no topics, every field "none".
  message_map() = default;

  // Reads `json`, a map file's text; `file_name` starts each line of a refusal.
  [[nodiscard]] static map_result<message_map> parse(std::string_view json, std::string_view file_name);
  // Reads the file at `path` (named in refusals as written).
  [[nodiscard]] static map_result<message_map> load(const std::filesystem::path& path);

  [[nodiscard]] const std::string& root() const noexcept { return root_; }
  [[nodiscard]] const std::vector<std::string>& topics() const noexcept { return topics_; }
  [[nodiscard]] const token_map& operator[](field f) const noexcept { return maps_[static_cast<std::size_t>(f)]; }

  // An MQTT message as the interface sees it: parse(), then the checks and
  // translation below. Errors: parse()'s, wrong_root (the first level is not
  // root()), own_message (the sender level is `own_name`, not empty: the
  // gateway published it itself), unmapped (a strict map has no such token;
  // the detail names the field).
  [[nodiscard]] result<message> to_internal(std::string_view topic, std::string_view payload,
                                            std::string_view own_name) const;
  // An interface's message as it goes on MQTT: the fields translated, an
  // empty sender replaced by `own_name`, then format(). Errors: unmapped,
  // and format()'s.
  [[nodiscard]] result<mqtt_message> to_mqtt(const message& m, std::string_view own_name) const;


 private:
  std::string root_;
  std::vector<std::string> topics_;
  std::array<token_map, field_count> maps_;
};

}  // namespace tern::gateway
