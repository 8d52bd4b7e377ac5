// The gateway's TOML loader: its schema walked with conf::reader (one problem
// per mistake with the line toml++ recorded, in file order).
#include "tern/gateway/config.hpp"

#include <array>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "tern/client/uri.hpp"
#include "tern/conf/reader.hpp"
#include "tern/core/utf8.hpp"

namespace tern::gateway {

namespace {

using namespace std::string_view_literals;

constexpr std::array top_keys{"name"sv, "metrics_interval"sv, "mqtt"sv, "map"sv, "interface"sv, "log"sv};
constexpr std::array mqtt_keys{"uri"sv,       "client_id"sv, "username"sv,        "password"sv,
                               "ca_file"sv,   "cert_file"sv, "key_file"sv,        "persistence_dir"sv,
                               "keep_alive"sv, "qos"sv,      "queue"sv};
constexpr std::array map_keys{"file"sv};
constexpr std::array log_keys{"level"sv};
// The tables whose keys may be suggested for a key written in the wrong
// place ([interface]'s keys belong to the interface).
constexpr std::array<conf::section, 4> sections{{
    {"", top_keys},
    {"mqtt", mqtt_keys},
    {"map", map_keys},
    {"log", log_keys},
}};

// The gateway's schema walked with conf::reader (the problems, the usual
// values); relative paths are made absolute against `base`.
class reader : public conf::reader {
 public:
  reader(std::string_view file, std::filesystem::path base) : conf::reader(file, sections), base_(std::move(base)) {}

  void top(const toml::table& t, config& c) {
    for_each_key(t, "", "", top_keys, [&](std::string_view name, const toml::node& n, const std::string& key) {
      if (name == "name") {
        if (string(n, key, c.name) &&
            (c.name.empty() || c.name.find_first_of("/+#") != std::string::npos || !utf8::is_valid(c.name)))
          refuse(n, key, "must be one topic level: not empty, no '/', '+' or '#', valid UTF-8");
      } else if (name == "metrics_interval") {
        integer(n, key, 0, 86'400, c.metrics_interval);
      } else if (name == "mqtt") {
        if (const auto* s = table(n, key)) mqtt(*s, c.mqtt);
      } else if (name == "map") {
        if (const auto* s = table(n, key))
          for_each_key(*s, "map", "map", map_keys,
                       [&](std::string_view, const toml::node& v, const std::string& k) { absolute(v, k, c.map.file); });
      } else if (name == "interface") {
        if (const auto* s = table(n, key)) interface(*s, c.interface);
      } else if (name == "log") {
        if (const auto* s = table(n, key))
          for_each_key(*s, "log", "log", log_keys, [&](std::string_view, const toml::node& v, const std::string& k) {
            choice<log::level>(v, k, log::level_names, c.log.level);
          });
      }
    });
  }

 private:
  // A path made absolute against the configuration's directory.
  void absolute(const toml::node& n, std::string_view key, std::filesystem::path& out) {
    std::filesystem::path p;
    if (path(n, key, p)) out = p.empty() ? std::filesystem::path{} : base_ / p;
  }

  void mqtt(const toml::table& t, config::mqtt_section& m) {
    for_each_key(t, "mqtt", "mqtt", mqtt_keys, [&](std::string_view name, const toml::node& n, const std::string& key) {
      if (name == "uri") {
        if (string(n, key, m.uri))
          if (auto u = parse_broker_uri(m.uri); !u) refuse(n, key, "not a broker URI: " + u.error().message());
      } else if (name == "client_id") {
        string(n, key, m.client_id);
      } else if (name == "username") {
        string(n, key, m.username);
      } else if (name == "password") {
        string(n, key, m.password);
      } else if (name == "ca_file" || name == "cert_file" || name == "key_file") {
        std::filesystem::path p;
        absolute(n, key, p);
        (name == "ca_file" ? m.ca_file : name == "cert_file" ? m.cert_file : m.key_file) = p.string();
      } else if (name == "persistence_dir") {
        absolute(n, key, m.persistence_dir);
      } else if (name == "keep_alive") {
        integer(n, key, 0, conf::u16_max, m.keep_alive);
      } else if (name == "qos") {
        integer(n, key, 0, 2, m.qos);
      } else if (name == "queue") {
        integer(n, key, 0, 100'000'000, m.queue);
      }
    });
  }

  // Every key but name and library belongs to the interface.
  void interface(const toml::table& t, config::interface_section& i) {
    for (const auto& [k, n] : t) {
      const std::string_view key = k.str();
      const std::string full = "interface." + std::string(key);
      if (key == "name") {
        string(n, full, i.name);
      } else if (key == "library") {
        absolute(n, full, i.library);
      } else if (const auto* a = n.as_array()) {
        std::vector<std::string> values;
        for (const auto& e : *a) {
          if (const auto* s = e.as_string())
            values.emplace_back(s->get());
          else
            refuse(e, full, "an array here holds strings only");
        }
        i.settings.insert_or_assign(std::string(key), std::move(values));
      } else if (n.is_table()) {
        refuse(n, full, "an interface setting is a string, a number, a boolean or an array of strings");
      } else if (const auto* s = n.as_string()) {
        i.settings.insert_or_assign(std::string(key), s->get());
      } else if (const auto* b = n.as_boolean()) {
        i.settings.insert_or_assign(std::string(key), b->get() ? "true" : "false");
      } else if (const auto* in = n.as_integer()) {
        i.settings.insert_or_assign(std::string(key), std::to_string(in->get()));
      } else if (const auto* f = n.as_floating_point()) {
        i.settings.insert_or_assign(std::string(key), fmt::format("{}", f->get()));
      } else {
        refuse(n, full, "an interface setting is a string, a number, a boolean or an array of strings");
      }
    }
  }

  std::filesystem::path base_;
};

}  // namespace

config_result<config> parse_config(std::string_view text, std::string_view name, const std::filesystem::path& base_dir) {
  auto document = conf::read_toml(text, name);
  if (!document) return document.error();
  config c;
  reader r(name, base_dir);
  r.top(*document, c);
  if (r.problem_count() > 0) return config_error{r.message()};
  return c;
}

config_result<config> load_config(const std::filesystem::path& path) {
  auto text = conf::read_file(path);
  if (!text) return text.error();
  std::error_code ec;
  return parse_config(*text, path.string(), std::filesystem::absolute(path, ec).parent_path());
}

}  // namespace tern::gateway
