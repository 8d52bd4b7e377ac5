// The gateway's TOML loader: toml++ parses, this walks the document key by
// key, collects one problem per mistake with the line toml++ recorded, and
// lists them in file order.
#include "tern/gateway/config.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "tern/client/uri.hpp"
#include "tern/core/utf8.hpp"

namespace tern::gateway {

void throw_exception_from_error(const config_error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

namespace {

// A key or value from the document as one line of a refusal: as a JSON
// string, control characters escaped (syntax.hpp's writer).
std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

class reader {
 public:
  reader(std::string_view file, std::filesystem::path base) : file_(file), base_(std::move(base)) {}

  void refuse(const toml::node& at, std::string_view key, std::string_view what) {
    const auto& b = at.source().begin;
    problems_.push_back({b.line, b.column, fmt::format("{}:{}: {}: {}", file_, b.line, key, what)});
  }

  [[nodiscard]] bool ok() const noexcept { return problems_.empty(); }

  std::string message() {
    std::stable_sort(problems_.begin(), problems_.end(), [](const problem& a, const problem& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    std::string out;
    for (const auto& p : problems_) {
      if (!out.empty()) out += '\n';
      out += p.text;
    }
    return out;
  }

  void string(const toml::node& n, std::string_view key, std::string& out) {
    if (const auto* s = n.as_string())
      out = s->get();
    else
      refuse(n, key, "must be a string");
  }

  void path(const toml::node& n, std::string_view key, std::filesystem::path& out) {
    std::string s;
    string(n, key, s);
    out = s.empty() ? std::filesystem::path{} : base_ / s;
  }

  template <class T>
  void integer(const toml::node& n, std::string_view key, T& out, std::int64_t max) {
    const auto* i = n.as_integer();
    if (!i || i->get() < 0 || i->get() > max) {
      refuse(n, key, fmt::format("must be an integer from 0 to {}", max));
      return;
    }
    out = static_cast<T>(i->get());
  }

  void top(const toml::table& t, config& c) {
    for (const auto& [k, n] : t) {
      const std::string_view key = k.str();
      if (key == "name") {
        string(n, key, c.name);
        if (n.is_string() && (c.name.empty() || c.name.find_first_of("/+#") != std::string::npos ||
                              !utf8::is_valid(c.name)))
          refuse(n, key, "must be one topic level: not empty, no '/', '+' or '#', valid UTF-8");
      } else if (key == "metrics_interval") {
        integer(n, key, c.metrics_interval, 86'400);
      } else if (key == "mqtt") {
        section(n, key, [&](const toml::table& s) { mqtt(s, c.mqtt); });
      } else if (key == "map") {
        section(n, key, [&](const toml::table& s) {
          for (const auto& [mk, mn] : s) {
            if (mk.str() == "file")
              path(mn, "map.file", c.map.file);
            else
              unknown(mn, "map", mk.str());
          }
        });
      } else if (key == "interface") {
        section(n, key, [&](const toml::table& s) { interface(s, c.interface); });
      } else if (key == "log") {
        section(n, key, [&](const toml::table& s) {
          for (const auto& [lk, ln] : s) {
            if (lk.str() != "level") {
              unknown(ln, "log", lk.str());
              continue;
            }
            std::string level;
            string(ln, "log.level", level);
            if (const auto l = log::parse_level(level))
              c.log.level = *l;
            else if (ln.is_string())
              refuse(ln, "log.level", "must be \"trace\", \"debug\", \"info\", \"warn\", \"error\" or \"off\"");
          }
        });
      } else {
        unknown(n, "", key);
      }
    }
  }

 private:
  struct problem {
    std::uint32_t line, column;
    std::string text;
  };

  void unknown(const toml::node& n, std::string_view table, std::string_view key) {
    const std::string full = table.empty() ? quoted(key) : fmt::format("{}.{}", table, quoted(key));
    refuse(n, full, n.is_table() ? "unknown section" : "unknown key");
  }

  template <class F>
  void section(const toml::node& n, std::string_view key, F&& read) {
    if (const auto* t = n.as_table())
      read(*t);
    else
      refuse(n, key, "must be a table ([" + std::string(key) + "])");
  }

  void mqtt(const toml::table& t, config::mqtt_section& m) {
    for (const auto& [k, n] : t) {
      const std::string_view key = k.str();
      const std::string full = "mqtt." + std::string(key);
      if (key == "uri") {
        string(n, full, m.uri);
        if (n.is_string())
          if (auto u = parse_broker_uri(m.uri); !u) refuse(n, full, "not a broker URI: " + u.error().message());
      } else if (key == "client_id") {
        string(n, full, m.client_id);
      } else if (key == "username") {
        string(n, full, m.username);
      } else if (key == "password") {
        string(n, full, m.password);
      } else if (key == "ca_file" || key == "cert_file" || key == "key_file") {
        std::filesystem::path p;
        path(n, full, p);
        (key == "ca_file" ? m.ca_file : key == "cert_file" ? m.cert_file : m.key_file) = p.string();
      } else if (key == "persistence_dir") {
        path(n, full, m.persistence_dir);
      } else if (key == "keep_alive") {
        integer(n, full, m.keep_alive, std::numeric_limits<std::uint16_t>::max());
      } else if (key == "qos") {
        integer(n, full, m.qos, 2);
      } else if (key == "queue") {
        integer(n, full, m.queue, 100'000'000);
      } else {
        unknown(n, "mqtt", key);
      }
    }
  }

  void interface(const toml::table& t, config::interface_section& i) {
    for (const auto& [k, n] : t) {
      const std::string_view key = k.str();
      const std::string full = "interface." + std::string(key);
      if (key == "name") {
        string(n, full, i.name);
      } else if (key == "library") {
        path(n, full, i.library);
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

  std::string_view file_;
  std::filesystem::path base_;
  std::vector<problem> problems_;
};

}  // namespace

config_result<config> parse_config(std::string_view text, std::string_view name, const std::filesystem::path& base_dir) {
  toml::table document;
  try {
    document = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    std::replace_if(what.begin(), what.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
    return config_error{fmt::format("{}:{}:{}: {}", name, e.source().begin.line, e.source().begin.column, what)};
  }
  config c;
  reader r(name, base_dir);
  r.top(document, c);
  if (!r.ok()) return config_error{r.message()};
  return c;
}

config_result<config> load_config(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return config_error{name + ": is a directory"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return config_error{fmt::format("{}: cannot open: {}", name, std::generic_category().message(errno))};
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return config_error{name + ": cannot read"};
  return parse_config(text, name, std::filesystem::absolute(path, ec).parent_path());
}

}  // namespace tern::gateway
