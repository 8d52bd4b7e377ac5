#include "tern/gateway/syntax.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <optional>
#include <utility>
#include <nlohmann/json.hpp>

#include "tern/core/json.hpp"
#include "tern/core/utf8.hpp"

namespace tern::gateway {
namespace {

constexpr std::size_t level_count = 7;

bool is_json_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Reads a JSON payload into `m` as nlohmann's SAX events arrive, with no
// document built: the action and the arguments of the top-level object;
// values nested deeper are only checked to be JSON. Faults are noted and
// reported once the whole payload has parsed, in parse()'s order.
class payload_reader {
 public:
  using json = nlohmann::json;
  explicit payload_reader(message& m) : m_(m) {}

  bool null() { return scalar(std::nullopt); }
  bool boolean(bool v) { return scalar(v ? "true" : "false"); }
  bool number_integer(json::number_integer_t v) { return scalar(std::to_string(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return scalar(std::to_string(v)); }
  bool number_float(json::number_float_t, const json::string_t& text) { return scalar(text); }
  bool string(json::string_t& v) { return scalar(std::move(v), true); }
  bool binary(json::binary_t&) { return true; }  // not in JSON text
  bool start_object(std::size_t) { return open(); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) {
    if (depth_ == 0) not_object_ = true;
    return open();
  }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    if (depth_ == 1) key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

  // After sax_parse: the outcome, in parse()'s order of faults.
  result<void> finish(bool parsed) const {
    if (!parsed) return error{gateway_error::bad_json};
    if (not_object_) return error{gateway_error::payload_not_object};
    if (action_ == state::missing || (action_ == state::good && m_.action.empty()))
      return error{gateway_error::no_action};
    if (action_ == state::bad) return error{gateway_error::bad_action};
    if (bad_argument_) return error{gateway_error::bad_argument, "an argument's value is an object, an array or null"};
    return {};
  }

 private:
  enum class state : unsigned char { missing, good, bad };

  bool open() {
    if (depth_ == 1) bad_value();  // an object or array as a top-level value
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  void bad_value() {
    if (key_ == "action")
      action_ = state::bad;
    else
      bad_argument_ = true;
  }
  // A scalar: the top-level document (not an object), a top-level value
  // (the action or an argument), or one nested deeper (ignored). `text` is
  // what an argument keeps (nullopt: null), `is_string` whether it was a
  // JSON string (the only kind an action may be).
  bool scalar(std::optional<std::string> text, bool is_string = false) {
    if (depth_ == 0) {
      not_object_ = true;
    } else if (depth_ == 1) {
      if (!text) {
        bad_value();
      } else if (key_ == "action") {
        action_ = is_string ? state::good : state::bad;
        if (is_string) m_.action = std::move(*text);
      } else {
        m_.arguments.insert_or_assign(key_, std::move(*text));
      }
    }
    return true;
  }

  message& m_;
  int depth_ = 0;
  std::string key_;
  bool not_object_ = false;
  bool bad_argument_ = false;
  state action_ = state::missing;
};

}  // namespace

result<void> parse_payload_reference(std::string_view payload, message& m);

namespace {

// The common payload read without nlohmann, about three times faster: a flat
// object whose keys and values are strings without escapes, or true or
// false. `false` when the payload is anything else (numbers, escapes, nested
// values, faults): nlohmann then reads it from the start.
bool read_flat_object(std::string_view p, message& m) {
  std::size_t i = 0;
  const auto skip_space = [&] {
    while (i < p.size() && is_json_space(p[i])) ++i;
  };
  const auto string = [&](std::string_view& out) {
    if (i >= p.size() || p[i] != '"') return false;
    const std::size_t start = ++i;
    while (i < p.size() && p[i] != '"') {
      const auto c = static_cast<unsigned char>(p[i]);
      if (c == '\\' || c < 0x20) return false;
      ++i;
    }
    if (i == p.size()) return false;
    out = p.substr(start, i++ - start);
    return utf8::is_valid(out);
  };
  skip_space();
  if (i >= p.size() || p[i++] != '{') return false;
  skip_space();
  // Written straight into `m`: should nlohmann read it again, it writes the
  // same members again in the same order, and more.
  bool action = false;
  if (i < p.size() && p[i] == '}') {
    ++i;
  } else {
    for (;;) {
      std::string_view key, value;
      if (!string(key)) return false;
      skip_space();
      if (i >= p.size() || p[i++] != ':') return false;
      skip_space();
      bool is_string = false;
      if (p.substr(i, 4) == "true") {
        value = "true", i += 4;
      } else if (p.substr(i, 5) == "false") {
        value = "false", i += 5;
      } else if (string(value)) {
        is_string = true;
      } else {
        return false;
      }
      if (key == "action") {
        if (!is_string) return false;  // a bad action: nlohmann says which fault comes first
        m.action.assign(value);
        action = true;
      } else {
        m.arguments.insert_or_assign(std::string(key), std::string(value));
      }
      skip_space();
      if (i >= p.size()) return false;
      if (p[i] == '}') {
        ++i;
        break;
      }
      if (p[i++] != ',') return false;
      skip_space();
    }
  }
  skip_space();
  return i == p.size() && action && !m.action.empty();
}

result<void> parse_json_payload(std::string_view payload, message& m) {
  if (read_flat_object(payload, m)) return {};
  return parse_payload_reference(payload, m);
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

result<void> parse_payload_reference(std::string_view payload, message& m) {
  if (payload.empty()) return error{gateway_error::empty_payload};
  if (!looks_like_json(payload)) {
    if (!utf8::is_valid(payload)) return error{gateway_error::bad_utf8, "the bare action is not valid UTF-8"};
    m.action = std::string(payload);
    return {};
  }
  payload_reader reader(m);
  const bool parsed = nlohmann::json::sax_parse(payload.begin(), payload.end(), &reader);
  return reader.finish(parsed);
}

result<void> parse_payload(std::string_view payload, message& m) {
  if (payload.empty()) return error{gateway_error::empty_payload};
  if (looks_like_json(payload)) return parse_json_payload(payload, m);
  if (!utf8::is_valid(payload)) return error{gateway_error::bad_utf8, "the bare action is not valid UTF-8"};
  m.action = std::string(payload);
  return {};
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
  if (auto r = parse_payload(payload, p.msg); !r) return r.error();
  return p;
}

result<mqtt_message> format(std::string_view root, const message& m) {
  return format(root, message_view{.type = m.type,
                                   .function = m.function,
                                   .gateway = m.gateway,
                                   .location = m.location,
                                   .device = m.device,
                                   .sender = m.sender,
                                   .action = m.action,
                                   .arguments = &m.arguments});
}

result<mqtt_message> format(std::string_view root, const message_view& m) {
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

  const bool no_arguments = m.arguments == nullptr || m.arguments->empty();
  if (no_arguments && !looks_like_json(m.action)) {
    out.payload = m.action;
    return out;
  }
  out.payload.reserve(16 + m.action.size() + (no_arguments ? 0 : 24 * m.arguments->size()));
  out.payload += "{\"action\":";
  append_json_string(out.payload, m.action);
  if (!no_arguments) {
    for (const auto& [key, value] : *m.arguments) {
      if (key == "action") continue;
      if (!utf8::is_valid(key) || !utf8::is_valid(value)) return error{gateway_error::bad_utf8, "argument"};
      out.payload += ',';
      append_json_string(out.payload, key);
      out.payload += ':';
      append_json_string(out.payload, value);
    }
  }
  out.payload += '}';
  return out;
}

}  // namespace tern::gateway
