// ternd: the tern MQTT broker. This file only wires the real streams, the
// stderr log sink and the broker into ternd::program (cli.hpp).
#include <iostream>

#include "cli.hpp"
#include "run.hpp"
#include "tern/log/stderr_sink.hpp"

int main(int argc, char** argv) {
  return ternd::program(argc, argv, std::cout, std::cerr, tern::log::make_stderr_sink(), ternd::run_broker);
}
