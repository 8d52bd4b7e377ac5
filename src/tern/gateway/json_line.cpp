#include "tern/gateway/json_line.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "tern/core/json.hpp"
#include "tern/gateway/syntax.hpp"

namespace tern::gateway {
namespace {

using field_ptr = std::string message::*;
constexpr std::array<std::pair<std::string_view, field_ptr>, 6> fields{{
    {"function", &message::function},
    {"gateway", &message::gateway},
    {"location", &message::location},
    {"device", &message::device},
    {"sender", &message::sender},
    {"action", &message::action},
}};

}  // namespace

std::string to_json_line(const message& m) {
  std::string out;
  out.reserve(128);
  out += m.type == kind::command ? R"({"type":"command")" : R"({"type":"status")";
  for (const auto& [name, member] : fields) {
    out += ",\"";
    out += name;
    out += "\":";
    append_json_string(out, m.*member);
  }
  out += ",\"arguments\":{";
  bool first = true;
  for (const auto& [k, v] : m.arguments) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ':';
    append_json_string(out, v);
  }
  out += "}}\n";
  return out;
}

result<message> from_json_line(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  const nlohmann::json doc = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (doc.is_discarded()) return error{gateway_error::bad_json};
  if (!doc.is_object()) return error{gateway_error::bad_line, "not a JSON object"};
  message m;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "arguments") {
      if (!v.is_object()) return error{gateway_error::bad_line, "\"arguments\" must be an object of strings"};
      for (auto a = v.begin(); a != v.end(); ++a) {
        if (!a->is_string()) return error{gateway_error::bad_line, "\"arguments\" must be an object of strings"};
        m.arguments.insert_or_assign(a.key(), a->get<std::string>());
      }
      continue;
    }
    if (!v.is_string()) return error{gateway_error::bad_line, "every field but \"arguments\" is a string"};
    const std::string& s = v.get_ref<const std::string&>();
    if (key == "type") {
      if (s == "command")
        m.type = kind::command;
      else if (s == "status")
        m.type = kind::status;
      else
        return error{gateway_error::bad_line, "\"type\" must be \"command\" or \"status\""};
      continue;
    }
    bool known = false;
    for (const auto& [name, member] : fields) {
      if (key == name) {
        m.*member = s;
        known = true;
        break;
      }
    }
    if (!known) return error{gateway_error::bad_line, "an unknown key (type, function, gateway, location, device, sender, action, arguments)"};
  }
  return m;
}

}  // namespace tern::gateway
