#include "tern/gateway/map.hpp"

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "tern/core/json.hpp"
#include "tern/core/utf8.hpp"
#include "tern/gateway/schema_check.hpp"
#include "tern/topic/topic.hpp"

namespace tern::gateway {

// ---- token_map ---------------------------------------------------------------

token_map::token_map(map_type type, const std::vector<std::pair<std::string, std::vector<std::string>>>& entries) {
  if (type == map_type::none || entries.empty()) return;  // mqttgateway: no map is no mapping
  type_ = type;
  for (const auto& [internal, tokens] : entries) {
    if (tokens.empty()) continue;
    i2m_.emplace(internal, tokens.front());
    for (const auto& t : tokens) m2i_.emplace(t, internal);
  }
}

std::optional<std::string_view> token_map::lookup(const table& t, std::string_view token) const {
  if (type_ == map_type::none) return token;
  if (const auto it = t.find(token); it != t.end()) return std::string_view(it->second);
  if (type_ == map_type::loose || token.empty()) return token;
  return std::nullopt;
}

std::optional<std::string_view> token_map::to_internal(std::string_view mqtt) const { return lookup(m2i_, mqtt); }
std::optional<std::string_view> token_map::to_mqtt(std::string_view internal) const { return lookup(i2m_, internal); }

// ---- translation ---------------------------------------------------------------

namespace {

// The detail of an unmapped error, per field (tern::error holds literals only).
constexpr std::array<std::string_view, field_count> unmapped_detail{
    "function: not in its strict map", "gateway: not in its strict map",  "location: not in its strict map",
    "device: not in its strict map",   "sender: not in its strict map",   "action: not in its strict map",
    "argkey: not in its strict map",   "argvalue: not in its strict map"};

enum class direction { to_internal, to_mqtt };

template <direction D>
std::optional<std::string_view> translate(const token_map& t, std::string_view token) {
  if constexpr (D == direction::to_internal)
    return t.to_internal(token);
  else
    return t.to_mqtt(token);
}

// The arguments translated by the argkey and argvalue maps, or an unmapped error.
template <direction D>
result<arguments_map> translate_arguments(const std::array<token_map, field_count>& maps, const arguments_map& in) {
  const token_map& keys = maps[static_cast<std::size_t>(field::argkey)];
  const token_map& values = maps[static_cast<std::size_t>(field::argvalue)];
  arguments_map out;
  for (const auto& [k, v] : in) {
    const auto key = translate<D>(keys, k);
    if (!key) return error{gateway_error::unmapped, unmapped_detail[static_cast<std::size_t>(field::argkey)]};
    const auto value = translate<D>(values, v);
    if (!value) return error{gateway_error::unmapped, unmapped_detail[static_cast<std::size_t>(field::argvalue)]};
    out.insert_or_assign(std::string(*key), std::string(*value));
  }
  return out;
}

bool maps_arguments(const std::array<token_map, field_count>& maps) {
  return maps[static_cast<std::size_t>(field::argkey)].type() != map_type::none ||
         maps[static_cast<std::size_t>(field::argvalue)].type() != map_type::none;
}

}  // namespace

result<message> message_map::to_internal(std::string_view topic, std::string_view payload,
                                         std::string_view own_name) const {
  const auto l = split_topic(topic);
  if (!l) return l.error();
  if (l->root != root_) return error{gateway_error::wrong_root};
  if (!own_name.empty() && l->sender == own_name) return error{gateway_error::own_message};
  const std::string_view levels[] = {l->function, l->gateway, l->location, l->device, l->sender};
  std::string_view internal[std::size(levels)];
  for (std::size_t i = 0; i < std::size(levels); ++i) {
    const auto t = maps_[i].to_internal(levels[i]);
    if (!t) return error{gateway_error::unmapped, unmapped_detail[i]};
    internal[i] = *t;
  }
  message m{.type = l->type,
            .function = std::string(internal[0]),
            .gateway = std::string(internal[1]),
            .location = std::string(internal[2]),
            .device = std::string(internal[3]),
            .sender = std::string(internal[4]),
            .action = {},
            .arguments = {}};
  if (auto r = parse_payload(payload, m); !r) return r.error();
  const token_map& actions = maps_[static_cast<std::size_t>(field::action)];
  if (actions.type() != map_type::none) {
    const auto a = actions.to_internal(m.action);
    if (!a) return error{gateway_error::unmapped, unmapped_detail[static_cast<std::size_t>(field::action)]};
    if (a->data() != m.action.data()) m.action.assign(*a);
  }
  if (!m.arguments.empty() && maps_arguments(maps_)) {
    auto args = translate_arguments<direction::to_internal>(maps_, m.arguments);
    if (!args) return args.error();
    m.arguments = std::move(*args);
  }
  return m;
}

result<mqtt_message> message_map::to_mqtt(const message& m, std::string_view own_name) const {
  const std::string_view fields[] = {m.function, m.gateway, m.location, m.device, m.sender, m.action};
  std::string_view mqtt[std::size(fields)];
  for (std::size_t i = 0; i < std::size(fields); ++i) {
    const auto t = maps_[i].to_mqtt(fields[i]);
    if (!t) return error{gateway_error::unmapped, unmapped_detail[i]};
    mqtt[i] = *t;
  }
  const std::size_t sender = static_cast<std::size_t>(field::sender);
  if (mqtt[sender].empty()) mqtt[sender] = own_name;
  message_view v{.type = m.type,
                 .function = mqtt[0],
                 .gateway = mqtt[1],
                 .location = mqtt[2],
                 .device = mqtt[3],
                 .sender = mqtt[4],
                 .action = mqtt[5],
                 .arguments = &m.arguments};
  if (m.arguments.empty() || !maps_arguments(maps_)) return format(root_, v);
  auto args = translate_arguments<direction::to_mqtt>(maps_, m.arguments);
  if (!args) return args.error();
  v.arguments = &*args;
  return format(root_, v);
}

// ---- reading the file -----------------------------------------------------------

void throw_exception_from_error(const map_error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

namespace {

using detail::pointer_token;

// Control characters of a key or token as \u escapes, so that one problem stays on one line.
std::string printable(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// Line and column (from 1) of byte `offset` of `text`.
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

class problems {
 public:
  explicit problems(std::string_view file) : file_(file) {}
  void add(std::string_view pointer, std::string_view what) {
    if (!text_.empty()) text_ += '\n';
    text_ += file_;
    text_ += ": ";
    text_ += pointer;
    text_ += ": ";
    text_ += what;
  }
  [[nodiscard]] bool empty() const noexcept { return text_.empty(); }
  [[nodiscard]] map_error error() && { return map_error{std::move(text_)}; }

 private:
  std::string_view file_;
  std::string text_;
};

using entries = std::vector<std::pair<std::string, std::vector<std::string>>>;

// A schema-valid field's map, and the problems of its tokens.
entries read_entries(const nlohmann::json& map, const std::string& base, bool topic_level, problems& out) {
  entries result;
  // MQTT token -> where it was first listed (internal name, pointer).
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string at = base + "/" + pointer_token(it.key());
    std::vector<std::string> tokens;
    if (it.value().empty()) out.add(at, "an internal name with no MQTT token (the first is the one written)");
    for (std::size_t i = 0; i < it.value().size(); ++i) {
      const std::string& token = it.value()[i].get_ref<const std::string&>();
      const std::string token_at = at + "/" + std::to_string(i);
      if (topic_level && token.find_first_of("/+#") != std::string::npos)
        out.add(token_at, printable(token) + " is a topic level: it may not contain '/', '+' or '#'");
      else if (!utf8::is_valid(token))
        out.add(token_at, "not a valid MQTT string (UTF-8 without U+0000)");
      const auto [where, fresh] = seen.try_emplace(token, it.key(), token_at);
      if (!fresh)
        out.add(base, printable(token) + " is listed under " + printable(where->second.first) + " (" +
                          where->second.second + ") and " + printable(it.key()) + " (" + token_at +
                          "): an MQTT token must name one internal name");
      tokens.push_back(token);
    }
    result.emplace_back(it.key(), std::move(tokens));
  }
  return result;
}

}  // namespace

map_result<message_map> message_map::parse(std::string_view json, std::string_view file_name) {
  problems out(file_name);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::parse_error& e) {
    const auto [line, column] = line_column(json, e.byte == 0 ? 0 : e.byte - 1);
    std::string what = e.what();
    if (const auto colon = what.find(": "); colon != std::string::npos) what.erase(0, colon + 2);
    return map_error{std::string(file_name) + ":" + std::to_string(line) + ":" + std::to_string(column) +
                     ": not JSON: " + what};
  } catch (const nlohmann::json::exception& e) {
    // A number out of range ("1E400") is refused without a position.
    std::string what = e.what();
    if (const auto bracket = what.find("] "); bracket != std::string::npos) what.erase(0, bracket + 2);
    return map_error{std::string(file_name) + ": not JSON: " + what};
  }

  for (const auto& p : detail::schema_problems(doc)) out.add(p.pointer, p.what);
  if (!out.empty()) return std::move(out).error();

  message_map m;
  m.root_ = doc["root"].get<std::string>();
  if (m.root_.find_first_of("/+#") != std::string::npos)
    out.add("/root", printable(m.root_) + " is the first topic level: it may not contain '/', '+' or '#'");
  else if (!utf8::is_valid(m.root_))
    out.add("/root", "not a valid MQTT string (UTF-8 without U+0000)");
  const auto& topics = doc["topics"];
  for (std::size_t i = 0; i < topics.size(); ++i) {
    std::string t = topics[i].get<std::string>();
    if (auto e = topic::validate_filter(t))
      out.add("/topics/" + std::to_string(i), printable(t) + " is not a topic filter: " + e->message());
    m.topics_.push_back(std::move(t));
  }
  for (std::size_t f = 0; f < field_count; ++f) {
    const auto& spec = doc[std::string(field_names[f])];
    const std::string& type = spec["maptype"].get_ref<const std::string&>();
    const map_type t = type == "strict" ? map_type::strict : type == "loose" ? map_type::loose : map_type::none;
    if (t == map_type::none) continue;  // a map beside "none" is not read, as in mqttgateway
    const bool topic_level = f <= static_cast<std::size_t>(field::sender);
    const entries e = read_entries(spec["map"], "/" + std::string(field_names[f]) + "/map", topic_level, out);
    m.maps_[f] = token_map(t, e);
  }
  if (!out.empty()) return std::move(out).error();
  return m;
}

map_result<message_map> message_map::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return map_error{path.string() + ": cannot open the map file"};
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return map_error{path.string() + ": cannot read the map file"};
  return parse(text, path.string());
}

}  // namespace tern::gateway
