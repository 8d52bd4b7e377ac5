// Stands in for the broker engine until src/tern/server provides it: replace
// this file with the real run_broker().
#include "run.hpp"

namespace ternd {

int run_broker(const tern::server::broker_config&, tern::log::logger& log) {
  log.error("the broker engine is not linked yet");  // "... error ternd: the broker engine is not linked yet"
  return 1;
}

}  // namespace ternd
