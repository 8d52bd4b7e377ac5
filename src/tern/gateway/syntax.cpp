#include "tern/gateway/syntax.hpp"

#include <array>
#include <cstddef>
#include <nlohmann/json.hpp>

#include "tern/core/utf8.hpp"

namespace tern::gateway {
namespace {

constexpr std::size_t level_count = 7;

bool is_json_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The argument value as the internal message keeps it: a string as it is,
// a number or boolean as its JSON text; nothing for null, arrays, objects.
bool argument_text(const nlohmann::json& v, std::string& out) {
  switch (v.type()) {
    case nlohmann::json::value_t::string: out = v.get_ref<const std::string&>(); return true;
    case nlohmann::json::value_t::boolean:
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: out = v.dump(); return true;
    default: return false;
  }
}

result<void> parse_json_payload(std::string_view payload, message& m) {
  // No exceptions: a parse error gives a discarded value.
  const nlohmann::json doc = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (doc.is_discarded()) return error{gateway_error::bad_json};
  if (!doc.is_object()) return error{gateway_error::payload_not_object};
  const auto action = doc.find("action");
  if (action == doc.end()) return error{gateway_error::no_action};
  if (!action->is_string()) return error{gateway_error::bad_action};
  m.action = action->get_ref<const std::string&>();
  if (m.action.empty()) return error{gateway_error::no_action};
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it == action) continue;
    std::string value;
    if (!argument_text(it.value(), value)) return error{gateway_error::bad_argument, "an argument's value is an object, an array or null"};
    m.arguments.insert_or_assign(it.key(), std::move(value));
  }
  return {};
}

// True when parse() would read `payload` as JSON: its first byte that is not
// white space is '{' or '['.
bool looks_like_json(std::string_view payload) noexcept {
  std::size_t first = 0;
  while (first < payload.size() && is_json_space(payload[first])) ++first;
  return first < payload.size() && (payload[first] == '{' || payload[first] == '[');
}

// nullopt when `token` can be one topic level, else why not.
std::optional<error> check_level(std::string_view token, std::string_view name) {
  for (char c : token)
    if (c == '/' || c == '+' || c == '#') return error{gateway_error::bad_token, name};
  if (!utf8::is_valid(token)) return error{gateway_error::bad_utf8, name};
  return std::nullopt;
}

}  // namespace

result<levels> split_topic(std::string_view topic) noexcept {
  std::array<std::string_view, level_count> l;
  std::size_t n = 0, start = 0;
  for (;;) {
    const std::size_t slash = topic.find('/', start);
    if (n == level_count) return error{gateway_error::wrong_levels};
    l[n++] = topic.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (n != level_count) return error{gateway_error::wrong_levels};
  levels out{l[0], l[1], l[2], l[3], l[4], l[5]};
  if (l[6] == "C")
    out.type = kind::command;
  else if (l[6] == "S")
    out.type = kind::status;
  else
    return error{gateway_error::unknown_type};
  return out;
}

result<parsed> parse(std::string_view topic, std::string_view payload) {
  auto l = split_topic(topic);
  if (!l) return l.error();
  if (payload.empty()) return error{gateway_error::empty_payload};
  parsed p{l->root, message{.type = l->type,
                            .function = std::string(l->function),
                            .gateway = std::string(l->gateway),
                            .location = std::string(l->location),
                            .device = std::string(l->device),
                            .sender = std::string(l->sender),
                            .action = {},
                            .arguments = {}}};
  if (looks_like_json(payload)) {
    if (auto r = parse_json_payload(payload, p.msg); !r) return r.error();
  } else {
    if (!utf8::is_valid(payload)) return error{gateway_error::bad_utf8, "the bare action is not valid UTF-8"};
    p.msg.action = std::string(payload);
  }
  return p;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

result<mqtt_message> format(std::string_view root, const message& m) {
  const std::array<std::pair<std::string_view, std::string_view>, 5> tokens{{
      {m.function, "function"}, {m.gateway, "gateway"}, {m.location, "location"},
      {m.device, "device"}, {m.sender, "sender"}}};
  std::size_t size = root.size() + 8;
  for (const auto& [token, name] : tokens) {
    if (auto e = check_level(token, name)) return *e;
    size += token.size();
  }
  if (m.action.empty()) return error{gateway_error::no_action};
  if (!utf8::is_valid(m.action)) return error{gateway_error::bad_utf8, "action"};

  mqtt_message out;
  out.topic.reserve(size);
  out.topic += root;
  for (const auto& t : tokens) {
    out.topic += '/';
    out.topic += t.first;
  }
  out.topic += m.type == kind::command ? "/C" : "/S";

  if (m.arguments.empty() && !looks_like_json(m.action)) {
    out.payload = m.action;
    return out;
  }
  out.payload.reserve(16 + m.action.size() + 16 * m.arguments.size());
  out.payload += "{\"action\":";
  append_json_string(out.payload, m.action);
  for (const auto& [key, value] : m.arguments) {
    if (key == "action") continue;
    if (!utf8::is_valid(key) || !utf8::is_valid(value)) return error{gateway_error::bad_utf8, "argument"};
    out.payload += ',';
    append_json_string(out.payload, key);
    out.payload += ':';
    append_json_string(out.payload, value);
  }
  out.payload += '}';
  return out;
}

}  // namespace tern::gateway
