// ternd's configuration file: its schema walked with conf::reader (one
// problem per mistake, with the line toml++ recorded, in file order), the
// checks across keys, and the writer to_toml().
#include "tern/server/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

#include <unistd.h>

#include <fmt/format.h>

#include "tern/conf/reader.hpp"
#include "tern/topic/topic.hpp"

namespace tern::server {
namespace {

using conf::alternatives;
using conf::describe;
using conf::name_table;
using conf::quote;
using conf::section;
using conf::u16_max;
using conf::u32_max;
using conf::i64_max;

using namespace std::string_view_literals;

// ---- names used in the file ------------------------------------------------

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
constexpr std::array<section, 4> sections{{
    {"", top_keys},
    {"limits", limits_keys},
    {"storage", storage_keys},
    {"auth", auth_keys},
}};

// ---- the walk ----------------------------------------------------------------

// ternd's schema walked with conf::reader (the problems, the usual values).
class reader : public conf::reader {
 public:
  // `check_files`: the files a listener names must be readable now.
  explicit reader(std::string_view file, bool check_files = false)
      : conf::reader(file, sections), check_files_(check_files) {}

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

  // ---- the tables ----

  void top(const toml::table& t, config& c) {
    for_each_key(t, "", "", top_keys, [&](std::string_view name, const toml::node& n, const std::string& key) {
      if (name == "listeners") listeners(n, key, c.listeners);
      else if (name == "io_threads") integer(n, key, 0, 1024, c.io_threads);
      else if (name == "log_level") choice<log::level>(n, key, log::level_names, c.log_level);
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
  bool check_files_;
};

}  // namespace

std::string_view to_string(listener_protocol p) noexcept { return conf::name_of<listener_protocol>(protocol_names, p); }
std::string_view to_string(storage_backend b) noexcept { return conf::name_of<storage_backend>(backend_names, b); }
std::string_view to_string(durability_mode d) noexcept { return conf::name_of<durability_mode>(durability_names, d); }
std::string_view to_string(queue_full_mode q) noexcept { return conf::name_of<queue_full_mode>(queue_full_names, q); }
std::string_view to_string(corruption_policy c) noexcept { return conf::name_of<corruption_policy>(corruption_names, c); }

namespace {

config_result<config> parse(std::string_view text, std::string_view name, bool check_files) {
  auto document = conf::read_toml(text, name);
  if (!document) return document.error();
  config config;
  reader r(name, check_files);
  r.top(*document, config);
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
  auto text = conf::read_file(path);
  if (!text) return text.error();
  return parse(*text, path.string(), true);
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
