// tern: the command-line program of the tern MQTT toolkit. This file only
// dispatches: each subcommand lives in its own file (bench.cpp, ...) and
// registers itself through commands.hpp.
//
// Exit status: what the subcommand returns; 2 for a usage error.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tern: the command line of the tern MQTT toolkit.", "tern"};
  app.set_version_flag("--version", std::string("tern ") + TERN_VERSION, "Print the version and exit");
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "tern: " + std::string(e.what()) + "\nRun with --help for more information.\n";
  });

  int status = 0;
  tern::cli::add_bench(app, status);
  tern::cli::add_pub(app, status);
  tern::cli::add_sub(app, status);
  tern::cli::add_passwd(app, status);
  tern::cli::add_gateway(app, status);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, std::cout, std::cerr);
    return code == 0 ? 0 : 2;
  }
  return status;
}
