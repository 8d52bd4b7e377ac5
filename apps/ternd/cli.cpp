#include "cli.hpp"

#include <algorithm>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <CLI/CLI.hpp>

namespace ternd {
namespace {

using tern::server::config;

constexpr std::string_view version = "ternd " TERND_VERSION;

// One "ternd: " line per line of `message`.
void print_problems(std::ostream& err, std::string_view message) {
  while (!message.empty()) {
    const auto end = message.find('\n');
    err << "ternd: " << message.substr(0, end) << '\n';
    message = end == std::string_view::npos ? std::string_view{} : message.substr(end + 1);
  }
}

}  // namespace

std::variant<options, int> parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                              std::ostream& err) {
  CLI::App app{"ternd: the tern MQTT broker.", "ternd"};
  app.footer(
      "Without --config, ternd runs with the defaults (etc/ternd.toml lists them).\n"
      "Exit status: 0 after --help or --version, 2 for a usage or configuration error.");
  app.set_version_flag("--version", std::string(version), "Print the version and exit");

  options o;
  std::string config_file;
  int port = 0;
  std::string data_dir;
  std::string storage;
  app.add_option("-c,--config", config_file, "Configuration file (TOML)")->type_name("FILE");
  auto* port_option = app.add_option("-p,--port", port, "Port of the first listener (or of one added on 127.0.0.1)")
                          ->type_name("PORT")
                          ->check(CLI::Range(0, 65535));
  app.add_flag("-v,--verbose", o.verbosity, "Log more: once for debug, twice for trace (from the default info)");
  app.add_option("--data-dir", data_dir, "Directory of the embedded store (storage.data_dir)")->type_name("DIR");
  app.add_option("--storage", storage, "Storage backend (storage.backend)")
      ->type_name("memory|rocksdb")
      ->check(CLI::IsMember({"memory", "rocksdb"}));
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "ternd: " + std::string(e.what()) + "\nRun with --help for more information.\n";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? 0 : 2;
  }
  if (app.count("--config") > 0) o.config_file = config_file;
  if (port_option->count() > 0) o.port = static_cast<std::uint16_t>(port);
  if (app.count("--data-dir") > 0) o.data_dir = data_dir;
  if (app.count("--storage") > 0)
    o.storage = storage == "memory" ? tern::server::storage_backend::memory : tern::server::storage_backend::rocksdb;
  return o;
}

void apply(const options& o, config& config) {
  if (o.port) {
    if (config.listeners.empty()) config.listeners.emplace_back();
    config.listeners.front().port = *o.port;
  }
  if (o.verbosity > 0) {
    const int lowered = std::max(0, static_cast<int>(config.log_level) - o.verbosity);
    config.log_level = static_cast<tern::log::level>(lowered);
  }
  if (o.data_dir) config.storage.data_dir = *o.data_dir;
  if (o.storage) config.storage.backend = *o.storage;
}

tern::server::config_result<config> effective_config(const options& o) {
  config config;
  if (o.config_file) {
    auto loaded = tern::server::load_config(*o.config_file);
    if (!loaded) return loaded;
    config = std::move(*loaded);
  }
  apply(o, config);
  return config;
}

void report(const config& config, const tern::log::logger& log) {
  if (log.enabled(tern::log::level::debug)) {
    std::string text = tern::server::to_toml(config);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    log.debug("effective configuration:\n{}", text);
  }
  for (const auto& l : config.listeners) {
    if (tern::server::is_loopback(l.address)) continue;
    const bool v6 = l.address.find(':') != std::string::npos;
    if (tern::server::allows_anonymous(config, l))
      log.warn("{}{}{}:{} accepts clients without a user name from other machines (allow_anonymous = true)",
               v6 ? "[" : "", l.address, v6 ? "]" : "", l.port);
    if (l.protocol == tern::server::listener_protocol::mqtt && !config.auth.password_file.empty())
      log.warn("{}{}{}:{} takes passwords from other machines over plain TCP, readable on the way (use mqtts)",
               v6 ? "[" : "", l.address, v6 ? "]" : "", l.port);
  }
}

int program(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
            std::shared_ptr<tern::log::sink> log_output, const broker_runner& run) {
  auto parsed = parse_command_line(argc, argv, out, err);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  auto config = effective_config(std::get<options>(parsed));
  if (!config) {
    print_problems(err, config.error().message);
    return 2;
  }
  if (config->listeners.empty()) {
    err << "ternd: no listener: add a [[listeners]] table to the configuration, or pass --port\n";
    return 2;
  }
  tern::log::logger log{std::move(log_output), "ternd", config->log_level};
  report(*config, log);
  return run(*config, log);
}

}  // namespace ternd
