// The TOML loader. toml++ parses; this file walks the document against the
// schema below, collects one problem per mistake (with the line toml++
// recorded for the key or value), and sorts them into file order.
#include "tern/server/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <unistd.h>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "tern/topic/topic.hpp"

namespace tern::server {
namespace {

using namespace std::string_view_literals;

// ---- names used in the file ------------------------------------------------

template <class E>
using name_table = std::span<const std::pair<std::string_view, E>>;

constexpr std::pair<std::string_view, listener_protocol> protocol_names[] = {
    {"mqtt", listener_protocol::mqtt},
    {"mqtts", listener_protocol::mqtts},
    {"ws", listener_protocol::ws},
    {"wss", listener_protocol::wss},
};
constexpr std::pair<std::string_view, storage_backend> backend_names[] = {
    {"rocksdb", storage_backend::rocksdb},
    {"memory", storage_backend::memory},
};
constexpr std::pair<std::string_view, durability_mode> durability_names[] = {
    {"fsync", durability_mode::fsync},
    {"batch", durability_mode::batch},
    {"none", durability_mode::none},
};
constexpr std::pair<std::string_view, queue_full_mode> queue_full_names[] = {
    {"store", queue_full_mode::store},
    {"hold_acks", queue_full_mode::hold_acks},
};
constexpr std::pair<std::string_view, corruption_policy> corruption_names[] = {
    {"move_aside", corruption_policy::move_aside},
    {"refuse", corruption_policy::refuse},
};
constexpr std::pair<std::string_view, log::level> level_names[] = {
    {"trace", log::level::trace}, {"debug", log::level::debug}, {"info", log::level::info},
    {"warn", log::level::warn},   {"error", log::level::error}, {"off", log::level::off},
};

template <class E>
std::string_view name_of(name_table<E> names, E value) noexcept {
  for (const auto& [name, v] : names)
    if (v == value) return name;
  return "?";
}

// ---- the schema: every key of every table ----------------------------------

constexpr std::array<std::string_view, 7> top_keys{"listeners",    "io_threads", "log_level", "sys_interval",
                                                   "limits",       "storage",    "auth"};
constexpr std::array<std::string_view, 12> listener_keys{
    "address", "port", "protocol", "cert_file", "key_file", "ca_file", "require_certificate",
    "use_identity_as_username", "handshake_timeout", "allow_anonymous", "max_connections", "path"};
constexpr std::array<std::string_view, 17> limits_keys{
    "max_connections",  "maximum_packet_size", "receive_maximum",
    "topic_alias_maximum", "max_queued_messages", "max_queued_bytes", "max_stored_messages", "queue_full",
    "max_inflight",     "maximum_qos",         "retain_available",
    "max_keep_alive",   "max_session_expiry_interval", "allow_zero_length_client_id",
    "denied_subscriptions", "max_topic_levels", "max_publish_rate"};
constexpr std::array<std::string_view, 4> storage_keys{"backend", "data_dir", "durability", "on_corruption"};
constexpr std::array<std::string_view, 3> auth_keys{"allow_anonymous", "password_file", "acl_file"};

// The tables whose keys may be suggested for a key written in the wrong place.
struct section {
  std::string_view name;
  std::span<const std::string_view> keys;
};
constexpr std::array<section, 4> sections{{
    {"", top_keys},
    {"limits", limits_keys},
    {"storage", storage_keys},
    {"auth", auth_keys},
}};

constexpr std::int64_t u16_max = std::numeric_limits<std::uint16_t>::max();
constexpr std::int64_t u32_max = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();

// ---- text helpers ------------------------------------------------------------

// `s` with its control characters escaped (\n, \x1b...): text from the
// document (a quoted key, toml++'s description of what it saw) must not
// break a refusal's one line per problem or reach a terminal raw.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out;
}

// `s` as a TOML basic string.
std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  out += '"';
  return out;
}

// A value as a refusal quotes it: "ten", 70000, 1.5, true, an array...
std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: {
      std::string_view s = n.as_string()->get();
      constexpr std::size_t shown = 60;
      if (s.size() <= shown) return quote(s);
      std::size_t cut = shown;
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // a UTF-8 boundary
      return quote(s.substr(0, cut)) + "...";
    }
    case toml::node_type::integer: return fmt::format("{}", n.as_integer()->get());
    case toml::node_type::floating_point: {
      const double d = n.as_floating_point()->get();
      if (std::isnan(d)) return "nan";
      if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
      std::string s = fmt::format("{}", d);
      if (s.find_first_of(".eE") == std::string::npos) s += ".0";
      return s;
    }
    case toml::node_type::boolean: return n.as_boolean()->get() ? "true" : "false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// "a" or "b"; "a", "b" or "c".
template <class E>
std::string alternatives(name_table<E> names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += quote(names[i].first);
  }
  return out;
}

char fold(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  return c == '-' ? '_' : c;
}

// Edit distance (insertions, deletions, substitutions, adjacent swaps),
// ignoring case and treating '-' as '_'.
std::size_t distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::size_t> d((n + 1) * (m + 1));
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]))
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
    }
  }
  return at(n, m);
}

// The known key closest to `key` written in table `table` ("" for the top
// level), as the user should write it, if one is close enough: a key of the
// same table first, else a key of another table, named with its table.
std::optional<std::string> suggestion(std::string_view key, std::string_view table,
                                      std::span<const std::string_view> own_keys) {
  const std::size_t limit = std::max<std::size_t>(1, key.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto known : own_keys) {
    const std::size_t dist = distance(key, known);
    if (dist < best_distance) {
      best_distance = dist;
      best = std::string(known);
    }
  }
  if (best) return best;
  for (const auto& s : sections) {
    if (s.name == table || s.name.empty()) continue;
    for (const auto known : s.keys) {
      const std::size_t dist = distance(key, known);
      if (dist < best_distance) {
        best_distance = dist;
        best = fmt::format("{}.{}", s.name, known);
      }
    }
  }
  return best;
}

// ---- the walk ----------------------------------------------------------------

struct problem {
  toml::source_index line;
  toml::source_index column;
  std::string text;
};

class reader {
 public:
  // `check_files`: the files a listener names must be readable now.
  explicit reader(std::string_view file, bool check_files = false) : file_(file), check_files_(check_files) {}

  void refuse(const toml::source_region& at, std::string_view key, std::string_view what) {
    problems_.push_back(
        {at.begin.line, at.begin.column, fmt::format("{}:{}: {}: {}", file_, at.begin.line, printable(key), printable(what))});
  }
  void refuse(const toml::node& at, std::string_view key, std::string_view what) { refuse(at.source(), key, what); }

  std::size_t problem_count() const noexcept { return problems_.size(); }

  // All problems, in file order, one per line.
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

  // Calls `read(name, node, full_key)` for every known key of `t`; refuses
  // the others. `table` is the name of `t` for suggestions ("" at the top),
  // `prefix` how keys are named in refusals ("limits", "listeners[0]").
  void for_each_key(const toml::table& t, std::string_view table, std::string_view prefix,
                    std::span<const std::string_view> known,
                    const std::function<void(std::string_view, const toml::node&, const std::string&)>& read) {
    for (const auto& [k, node] : t) {
      const std::string_view name = k.str();
      const std::string full = prefix.empty() ? std::string(name) : fmt::format("{}.{}", prefix, name);
      if (std::find(known.begin(), known.end(), name) != known.end()) {
        read(name, node, full);
        continue;
      }
      const bool is_section = node.is_table() || node.is_array_of_tables();
      std::string what = is_section ? "unknown section" : "unknown key";
      if (auto s = suggestion(name, table, known)) what += fmt::format("; did you mean {}?", quote(*s));
      refuse(k.source(), full, what);
    }
  }

  // ---- one value each ----

  template <class T>
  bool integer(const toml::node& n, std::string_view key, std::int64_t lo, std::int64_t hi, T& out) {
    if (const auto* v = n.as_integer(); v && v->get() >= lo && v->get() <= hi) {
      out = static_cast<T>(v->get());
      return true;
    }
    refuse(n, key, fmt::format("expected an integer between {} and {}, got {}", lo, hi, describe(n)));
    return false;
  }

  void boolean(const toml::node& n, std::string_view key, bool& out) {
    if (const auto* v = n.as_boolean()) {
      out = v->get();
      return;
    }
    refuse(n, key, fmt::format("expected true or false, got {}", describe(n)));
  }

  template <class E>
  bool choice(const toml::node& n, std::string_view key, name_table<E> names, E& out) {
    if (const auto* v = n.as_string()) {
      for (const auto& [name, value] : names) {
        if (name == v->get()) {
          out = value;
          return true;
        }
      }
    }
    refuse(n, key, fmt::format("expected {}, got {}", alternatives(names), describe(n)));
    return false;
  }

  void path(const toml::node& n, std::string_view key, std::filesystem::path& out) {
    if (const auto* v = n.as_string()) {
      out = std::filesystem::path(v->get());
      return;
    }
    refuse(n, key, fmt::format("expected a path (a string), got {}", describe(n)));
  }

  // A WebSocket listener's HTTP path: "/" and what follows, no query.
  void url_path(const toml::node& n, std::string_view key, std::string& out) {
    if (const auto* v = n.as_string(); v && v->get().starts_with('/') &&
                                       v->get().find_first_of("? \t\r\n#") == std::string::npos) {
      out = v->get();
      return;
    }
    refuse(n, key, fmt::format("expected an HTTP path (a string starting with \"/\"), got {}", describe(n)));
  }

  void address(const toml::node& n, std::string_view key, std::string& out) {
    if (const auto* v = n.as_string(); v && !v->get().empty()) {
      out = v->get();
      return;
    }
    refuse(n, key, fmt::format("expected an address (a non-empty string), got {}", describe(n)));
  }

  void filters(const toml::node& n, std::string_view key, std::vector<std::string>& out) {
    const auto* a = n.as_array();
    if (a == nullptr) {
      refuse(n, key, fmt::format("expected an array of topic filters, got {}", describe(n)));
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const std::string element = fmt::format("{}[{}]", key, i);
      const auto* s = e.as_string();
      if (s == nullptr) {
        refuse(e, element, fmt::format("expected a topic filter (a string), got {}", describe(e)));
        continue;
      }
      if (const auto bad = topic::validate_filter(s->get())) {
        refuse(e, element, fmt::format("{} is not a valid topic filter: {}", describe(e), bad->detail));
        continue;
      }
      out.push_back(s->get());
    }
  }

  const toml::table* table(const toml::node& n, std::string_view key) {
    if (const auto* t = n.as_table()) return t;
    refuse(n, key, fmt::format("expected a table ([{}]), got {}", key, describe(n)));
    return nullptr;
  }

  // ---- the tables ----

  void top(const toml::table& t, config& c) {
    for_each_key(t, "", "", top_keys, [&](std::string_view name, const toml::node& n, const std::string& key) {
      if (name == "listeners") listeners(n, key, c.listeners);
      else if (name == "io_threads") integer(n, key, 0, 1024, c.io_threads);
      else if (name == "log_level") choice<log::level>(n, key, level_names, c.log_level);
      else if (name == "sys_interval") integer(n, key, 0, 86'400, c.sys_interval);
      else if (name == "limits") { if (const auto* s = table(n, key)) limits(*s, c.limits); }
      else if (name == "storage") { if (const auto* s = table(n, key)) storage(*s, c.storage); }
      else if (name == "auth") { if (const auto* s = table(n, key)) auth(*s, c.auth); }
    });
  }

  void listeners(const toml::node& n, std::string_view key, std::vector<listener_config>& out) {
    const auto* a = n.as_array();
    if (a == nullptr || !std::all_of(a->begin(), a->end(), [](const toml::node& e) { return e.is_table(); })) {
      refuse(n, key, fmt::format("expected an array of tables ([[listeners]]), got {}", describe(n)));
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::table& t = *a->get(i)->as_table();
      const std::string prefix = fmt::format("listeners[{}]", i);
      const std::size_t before = problem_count();
      listener_config l;
      for_each_key(t, "listeners", prefix, listener_keys,
                   [&](std::string_view name, const toml::node& v, const std::string& k) {
                     if (name == "address") address(v, k, l.address);
                     else if (name == "port") integer(v, k, 0, u16_max, l.port);
                     else if (name == "protocol") choice<listener_protocol>(v, k, protocol_names, l.protocol);
                     else if (name == "cert_file") path(v, k, l.cert_file);
                     else if (name == "key_file") path(v, k, l.key_file);
                     else if (name == "ca_file") path(v, k, l.ca_file);
                     else if (name == "require_certificate") boolean(v, k, l.require_certificate);
                     else if (name == "use_identity_as_username") boolean(v, k, l.use_identity_as_username);
                     else if (name == "handshake_timeout") integer(v, k, 1, 3600, l.handshake_timeout);
                     else if (name == "allow_anonymous") boolean(v, k, l.allow_anonymous.emplace());
                     else if (name == "max_connections") integer(v, k, 0, u32_max, l.max_connections);
                     else if (name == "path") url_path(v, k, l.path);
                   });
      if (problem_count() == before) check_listener(t, prefix, l, out);
      out.push_back(std::move(l));
    }
  }

  // What a listener's keys must agree on; `earlier` are the listeners before it.
  void check_listener(const toml::table& t, const std::string& prefix, listener_config& l,
                      const std::vector<listener_config>& earlier) {
    const std::string protocol = quote(to_string(l.protocol));
    if (!t.contains("port")) {
      if (l.protocol == listener_protocol::mqtt) l.port = 1883;
      else if (l.protocol == listener_protocol::mqtts) l.port = 8883;
      else refuse(t, prefix + ".port", fmt::format("required for a {} listener", protocol));
    }
    const std::pair<std::string_view, const std::filesystem::path*> files[] = {
        {"cert_file", &l.cert_file}, {"key_file", &l.key_file}, {"ca_file", &l.ca_file}};
    for (const auto& [name, file] : files) {
      const std::string key = fmt::format("{}.{}", prefix, name);
      if (uses_tls(l.protocol) && file->empty() && name != "ca_file")
        refuse(t, key, fmt::format("required for a {} listener", protocol));
      if (!uses_tls(l.protocol) && !file->empty())
        refuse(*t.get(name), key, fmt::format("only used by \"mqtts\" and \"wss\" listeners, not {}", protocol));
      // Checked when the file is loaded (load_config), before anything listens.
      if (check_files_ && uses_tls(l.protocol) && !file->empty()) {
        std::error_code ec;
        if (std::filesystem::is_directory(*file, ec))
          refuse(*t.get(name), key, fmt::format("{} is a directory", quote(file->string())));
        else if (::access(file->c_str(), R_OK) != 0)
          refuse(*t.get(name), key,
                 fmt::format("cannot read {}: {}", quote(file->string()), std::generic_category().message(errno)));
      }
    }
    for (const std::string_view name : {"require_certificate"sv, "use_identity_as_username"sv}) {
      const toml::node* n = t.get(name);
      if (n == nullptr) continue;
      const std::string key = fmt::format("{}.{}", prefix, name);
      if (!uses_tls(l.protocol))
        refuse(*n, key, fmt::format("only used by \"mqtts\" and \"wss\" listeners, not {}", protocol));
      else if (l.ca_file.empty())
        refuse(*n, key, "needs ca_file (the CA that signs the client certificates)");
    }
    if (l.use_identity_as_username && !l.require_certificate && !l.ca_file.empty())
      refuse(*t.get("use_identity_as_username"), prefix + ".use_identity_as_username",
             "needs require_certificate = true (a client without a certificate has no name)");
    if (l.protocol == listener_protocol::mqtt && t.contains("handshake_timeout"))
      refuse(*t.get("handshake_timeout"), prefix + ".handshake_timeout",
             "only used by \"mqtts\", \"ws\" and \"wss\" listeners (a TCP connection has no handshake)");
    if (const toml::node* n = t.get("path");
        n && l.protocol != listener_protocol::ws && l.protocol != listener_protocol::wss)
      refuse(*n, prefix + ".path", fmt::format("only used by \"ws\" and \"wss\" listeners, not {}", protocol));
    for (std::size_t j = 0; j < earlier.size(); ++j) {
      if (l.port != 0 && earlier[j].port == l.port && earlier[j].address == l.address) {
        refuse(t, prefix, fmt::format("{}:{} is also listeners[{}]", l.address, l.port, j));
        break;
      }
    }
  }

  void limits(const toml::table& t, limits_config& c) {
    for_each_key(t, "limits", "limits", limits_keys,
                 [&](std::string_view name, const toml::node& n, const std::string& key) {
                   if (name == "max_connections") integer(n, key, 0, u32_max, c.max_connections);
                   else if (name == "maximum_packet_size") integer(n, key, 1, 268'435'460, c.maximum_packet_size);
                   else if (name == "receive_maximum") integer(n, key, 1, u16_max, c.receive_maximum);
                   else if (name == "topic_alias_maximum") integer(n, key, 0, u16_max, c.topic_alias_maximum);
                   else if (name == "max_queued_messages") integer(n, key, 1, u32_max, c.max_queued_messages);
                   else if (name == "max_queued_bytes") integer(n, key, 1, i64_max, c.max_queued_bytes);
                   else if (name == "max_stored_messages") integer(n, key, 0, i64_max, c.max_stored_messages);
                   else if (name == "queue_full") choice<queue_full_mode>(n, key, queue_full_names, c.queue_full);
                   else if (name == "max_inflight") integer(n, key, 1, u16_max, c.max_inflight);
                   else if (name == "maximum_qos") integer(n, key, 0, 2, c.maximum_qos);
                   else if (name == "retain_available") boolean(n, key, c.retain_available);
                   else if (name == "max_keep_alive") integer(n, key, 0, u16_max, c.max_keep_alive);
                   else if (name == "max_session_expiry_interval")
                     integer(n, key, 0, u32_max, c.max_session_expiry_interval);
                   else if (name == "allow_zero_length_client_id") boolean(n, key, c.allow_zero_length_client_id);
                   else if (name == "denied_subscriptions") filters(n, key, c.denied_subscriptions);
                   else if (name == "max_topic_levels") integer(n, key, 1, 65'535, c.max_topic_levels);
                   else if (name == "max_publish_rate") integer(n, key, 0, u32_max, c.max_publish_rate);
                 });
  }

  void storage(const toml::table& t, storage_config& c) {
    for_each_key(t, "storage", "storage", storage_keys,
                 [&](std::string_view name, const toml::node& n, const std::string& key) {
                   if (name == "backend") choice<storage_backend>(n, key, backend_names, c.backend);
                   else if (name == "data_dir") path(n, key, c.data_dir);
                   else if (name == "durability") choice<durability_mode>(n, key, durability_names, c.durability);
                   else if (name == "on_corruption")
                     choice<corruption_policy>(n, key, corruption_names, c.on_corruption);
                 });
  }

  void auth(const toml::table& t, auth_config& c) {
    const std::size_t before = problem_count();
    for_each_key(t, "auth", "auth", auth_keys,
                 [&](std::string_view name, const toml::node& n, const std::string& key) {
                   if (name == "allow_anonymous") boolean(n, key, c.allow_anonymous);
                   else if (name == "password_file") path(n, key, c.password_file);
                   else if (name == "acl_file") path(n, key, c.acl_file);
                 });
    if (problem_count() == before && !c.allow_anonymous && c.password_file.empty())
      refuse(*t.get("allow_anonymous"), "auth.allow_anonymous",
             "false, but no auth.password_file is set: no client could connect");
  }

 private:
  std::string_view file_;
  bool check_files_;
  std::vector<problem> problems_;
};

}  // namespace

std::string_view to_string(listener_protocol p) noexcept { return name_of<listener_protocol>(protocol_names, p); }
std::string_view to_string(storage_backend b) noexcept { return name_of<storage_backend>(backend_names, b); }
std::string_view to_string(durability_mode d) noexcept { return name_of<durability_mode>(durability_names, d); }
std::string_view to_string(queue_full_mode q) noexcept { return name_of<queue_full_mode>(queue_full_names, q); }
std::string_view to_string(corruption_policy c) noexcept { return name_of<corruption_policy>(corruption_names, c); }

void throw_exception_from_error(const config_error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

namespace {

config_result<config> parse(std::string_view text, std::string_view name, bool check_files) {
  toml::table document;
  try {
    document = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return config_error{
        fmt::format("{}:{}:{}: {}", name, e.source().begin.line, e.source().begin.column, printable(e.description()))};
  }
  config config;
  reader r(name, check_files);
  r.top(document, config);
  if (r.problem_count() > 0) return config_error{r.message()};
  return config;
}

}  // namespace

bool is_loopback(std::string_view address) noexcept {
  if (address == "localhost") return true;
  const std::string text(address);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  in6_addr v6{};
  return ::inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);  // "::1", "0::1"
}

bool allows_anonymous(const config& c, const listener_config& l) noexcept {
  if (l.allow_anonymous) return *l.allow_anonymous;
  return c.auth.allow_anonymous && is_loopback(l.address);
}

config_result<config> parse_config(std::string_view text, std::string_view name) { return parse(text, name, false); }

config_result<config> load_config(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return config_error{fmt::format("{}: is a directory", name)};
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return config_error{fmt::format("{}: cannot open: {}", name, std::generic_category().message(errno))};
  // A configuration is small; this bound keeps `-c /dev/zero` from eating memory.
  constexpr std::size_t max_size = 4 << 20;
  std::string text;
  char buffer[16384];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get())) {
    text.append(buffer, n);
    if (text.size() > max_size) return config_error{fmt::format("{}: larger than 4 MiB: not a configuration", name)};
  }
  if (std::ferror(file.get()))
    return config_error{fmt::format("{}: cannot read: {}", name, std::generic_category().message(errno))};
  return parse(text, name, true);
}

std::string to_toml(const config& c) {
  std::string out;
  auto line = [&out](std::string_view key, const auto& value) { out += fmt::format("{} = {}\n", key, value); };
  auto string = [&line](std::string_view key, std::string_view value) { line(key, quote(value)); };
  auto boolean = [&line](std::string_view key, bool value) { line(key, value ? "true" : "false"); };

  line("io_threads", c.io_threads);
  string("log_level", log::to_string(c.log_level));
  line("sys_interval", c.sys_interval);
  if (c.listeners.empty()) line("listeners", "[]");
  for (const auto& l : c.listeners) {
    out += "\n[[listeners]]\n";
    string("address", l.address);
    line("port", l.port);
    string("protocol", to_string(l.protocol));
    if (uses_tls(l.protocol)) {
      string("cert_file", l.cert_file.string());
      string("key_file", l.key_file.string());
      string("ca_file", l.ca_file.string());
      if (!l.ca_file.empty()) {
        boolean("require_certificate", l.require_certificate);
        boolean("use_identity_as_username", l.use_identity_as_username);
      }
    }
    if (l.protocol != listener_protocol::mqtt) line("handshake_timeout", l.handshake_timeout);
    if (l.allow_anonymous) boolean("allow_anonymous", *l.allow_anonymous);
    if (l.max_connections != 0) line("max_connections", l.max_connections);
    if (!l.path.empty()) string("path", l.path);  // none: any path
  }
  const auto& m = c.limits;
  out += "\n[limits]\n";
  line("max_connections", m.max_connections);
  line("maximum_packet_size", m.maximum_packet_size);
  line("receive_maximum", m.receive_maximum);
  line("topic_alias_maximum", m.topic_alias_maximum);
  line("max_queued_messages", m.max_queued_messages);
  line("max_queued_bytes", m.max_queued_bytes);
  line("max_stored_messages", m.max_stored_messages);
  string("queue_full", to_string(m.queue_full));
  line("max_inflight", m.max_inflight);
  line("maximum_qos", m.maximum_qos);
  boolean("retain_available", m.retain_available);
  line("max_keep_alive", m.max_keep_alive);
  line("max_session_expiry_interval", m.max_session_expiry_interval);
  boolean("allow_zero_length_client_id", m.allow_zero_length_client_id);
  std::string filters;
  for (const auto& f : m.denied_subscriptions) filters += (filters.empty() ? "" : ", ") + quote(f);
  line("denied_subscriptions", "[" + filters + "]");
  line("max_topic_levels", m.max_topic_levels);
  line("max_publish_rate", m.max_publish_rate);
  out += "\n[storage]\n";
  string("backend", to_string(c.storage.backend));
  string("data_dir", c.storage.data_dir.string());
  string("durability", to_string(c.storage.durability));
  string("on_corruption", to_string(c.storage.on_corruption));
  out += "\n[auth]\n";
  boolean("allow_anonymous", c.auth.allow_anonymous);
  string("password_file", c.auth.password_file.string());
  string("acl_file", c.auth.acl_file.string());
  return out;
}

}  // namespace tern::server
