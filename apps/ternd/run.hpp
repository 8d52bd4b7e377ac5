// apps/ternd/run.hpp: the one call from ternd's command-line handling into the
// broker: run with this configuration until told to stop.
//
//   tern::log::logger log{tern::log::make_stderr_sink(), "ternd", config.log_level};
//   return ternd::run_broker(config, log);
//
// run.cpp defines it: start a tern::Broker, wait for SIGINT/SIGTERM, stop
// it gracefully.
#pragma once

#include "tern/log/log.hpp"
#include "tern/server/config.hpp"

namespace ternd {

// Runs a broker with `config`, logging through `log`, until it is stopped
// (SIGINT, SIGTERM). Returns the process's exit code: 0 after a clean stop.
int run_broker(const tern::server::config& config, tern::log::logger& log);

}  // namespace ternd
