// apps/ternd/cli.hpp: ternd's command line, and everything ternd does before
// the broker runs: read the configuration file, apply the command line's
// overrides, set up logging, report the effective configuration.
//
//   ternd [-c FILE] [-p PORT] [-v...] [--data-dir DIR] [--storage memory|rocksdb]
//   ternd --help | --version
//
//   int main(int argc, char** argv) {
//     return ternd::program(argc, argv, std::cout, std::cerr, tern::log::make_stderr_sink(), ternd::run_broker);
//   }
//
// Exit codes: 0 after --help and --version; 2 for a usage or configuration
// error (one "ternd: ..." line per problem on stderr); otherwise the broker's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <variant>

#include "tern/log/log.hpp"
#include "tern/server/config.hpp"

namespace ternd {

// What the command line asks for; unset members leave the file's value.
struct options {
  std::optional<std::filesystem::path> config_file;  // -c/--config; none: the defaults
  std::optional<std::uint16_t> port;                 // -p/--port
  int verbosity = 0;                                 // how many -v
  std::optional<std::filesystem::path> data_dir;     // --data-dir
  std::optional<tern::server::storage_backend> storage;  // --storage
};

// The options in `argv`, or an exit code: 0 once --help or --version has been
// written to `out`, 2 once a usage error has been written to `err`.
[[nodiscard]] std::variant<options, int> parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                                            std::ostream& err);

// Applies the overrides of `o` to `config`: --port sets the first listener's
// port (adding one on 127.0.0.1 when there is none), each -v lowers the log
// level one step (info -> debug -> trace), --data-dir and --storage set
// storage.data_dir and storage.backend.
void apply(const options& o, tern::server::config& config);

// The configuration to run with: the file's (or the defaults), then apply().
[[nodiscard]] tern::server::config_result<tern::server::config> effective_config(const options& o);

// Logs `config` at debug level, and a warning for each risky setting.
void report(const tern::server::config& config, const tern::log::logger& log);

using broker_runner = std::function<int(const tern::server::config&, tern::log::logger&)>;

// All of ternd: parses the command line, builds the configuration, logs to
// `log_output` (channel "ternd"), then returns run(config, logger)'s exit code.
int program(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
            std::shared_ptr<tern::log::sink> log_output, const broker_runner& run);

}  // namespace ternd
