// `tern gateway -c FILE`: one gateway process (issue 18): its configuration
// (etc/gateway.toml lists every key), its map, one interface, run by
// tern::gateway::runner until SIGINT or SIGTERM.
//
//   tern gateway -c /etc/tern/entry2mqtt.toml
//   kill -HUP $PID       # reads the map file again; a bad one is refused (every problem logged), the old one kept
//
// Logs go to stderr (the config's [log] level; --log-level overrides it).
// Exit status: 0 after SIGINT/SIGTERM; 1 when the configuration, the map or
// the interface is refused, or the first connection fails; 2 for a usage error.
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common/signals.hpp"
#include "tern/gateway/builtin.hpp"
#include "tern/gateway/config.hpp"
#include "tern/gateway/map.hpp"
#include "tern/gateway/runner.hpp"
#include "tern/log/stderr_sink.hpp"

namespace tern::cli {
namespace {

struct gateway_settings {
  std::string config_file;
  std::string log_level;
};

// The map the configuration names (mqttgateway's NO_MAP when none).
gateway::map_result<gateway::message_map> load_map(const gateway::config& c) {
  if (c.map.file.empty()) return gateway::message_map{};
  return gateway::message_map::load(c.map.file);
}

int run_gateway(const gateway_settings& s) {
  auto c = gateway::load_config(s.config_file);
  if (!c) {
    std::cerr << "tern gateway: the configuration is refused:\n" << c.error().message << '\n';
    return 1;
  }
  if (!s.log_level.empty()) {
    const auto l = log::parse_level(s.log_level);
    if (!l) {
      std::cerr << "tern gateway: --log-level: \"" << s.log_level << "\" is not a level\n";
      return 2;
    }
    c->log.level = *l;
  }
  const log::logger log{log::make_stderr_sink(), "gateway", c->log.level};
  auto map = load_map(*c);
  if (!map) {
    log.error("the map is refused:\n{}", map.error().message);
    return 1;
  }
  auto iface = gateway::make_interface(c->interface);
  if (!iface) {
    log.error("{}", iface.error().message);
    return 1;
  }

  // Before any thread starts (the process interface's programs start with
  // none blocked).
  const apps::control_signals signals(apps::control_signals::with_reload::yes);

  gateway::runner r(*c, std::move(*map), std::move(*iface), log);
  if (const auto ec = r.start()) {
    log.error("cannot connect to {}: {}", c->mqtt.uri, ec.message());
    return 1;
  }
  for (;;) {
    const int sig = signals.wait();
    if (sig != SIGHUP) {
      log.info("{}: stopping", apps::control_signals::name(sig));
      break;
    }
    if (auto next = load_map(*c))
      r.reload_map(std::move(*next));
    else
      log.error("SIGHUP: the new map is refused, the old one kept:\n{}", next.error().message);
  }
  r.stop();
  const auto st = r.stats();
  log.info("stopped: {} in, {} out, {} unmapped, {} dropped, {} restarts", st.in, st.out,
           st.refused_in + st.refused_out, st.dropped, st.restarts);
  return 0;
}

}  // namespace

void add_gateway(CLI::App& app, int& status) {
  auto s = std::make_shared<gateway_settings>();
  auto* cmd = app.add_subcommand("gateway", "Run a gateway: devices to MQTT through a map and an interface");
  cmd->add_option("-c,--config", s->config_file, "The gateway's TOML configuration (see etc/gateway.toml)")
      ->required();
  cmd->add_option("--log-level", s->log_level, "trace, debug, info, warn, error or off (overrides [log] level)");
  cmd->callback([s, &status] { status = run_gateway(*s); });
}

}  // namespace tern::cli
