// apps/tern/commands.hpp: the subcommands of the `tern` program. main.cpp
// builds the CLI11 application and asks each subcommand's file to add itself;
// a subcommand's callback runs it and sets the exit status.
//
//   CLI::App app{"tern"};
//   int status = 0;
//   tern::cli::add_bench(app, status);   // bench.cpp: `tern bench <scenario> ...`
#pragma once

namespace CLI {
class App;
}

namespace tern::cli {

// `tern bench`: the load generator (fan-in, fan-out, pairs, shared, idle).
void add_bench(CLI::App& app, int& status);
// `tern pub` (pub.cpp) and `tern sub` (sub.cpp): mosquitto_pub/mosquitto_sub's flags.
void add_pub(CLI::App& app, int& status);
void add_sub(CLI::App& app, int& status);
// `tern passwd` (passwd.cpp): mosquitto_passwd's flags, on tern::auth::password_file.
void add_passwd(CLI::App& app, int& status);
// `tern gateway -c FILE` (gateway.cpp): one gateway process (tern::gateway::runner).
void add_gateway(CLI::App& app, int& status);

}  // namespace tern::cli
