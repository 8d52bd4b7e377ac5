// ternd's broker: a tern::Broker with the configuration ternd built, running
// until SIGINT or SIGTERM, then stopped gracefully (MQTT 5 clients get
// DISCONNECT 0x8B, everything written is flushed for up to a second).
#include <pthread.h>
#include <signal.h>

#include <exception>

#include "run.hpp"
#include "tern/server/broker.hpp"

namespace ternd {

int run_broker(const tern::server::broker_config& config, tern::log::logger& log) {
  // Block the stop signals before the broker starts its threads, which inherit
  // the mask: the signals then wait for sigwait() below instead of killing the
  // process, whichever thread the kernel picks.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  tern::Broker broker(config, log);
  try {
    broker.start();  // logs "listening on 127.0.0.1:1883" for each socket
  } catch (const std::exception& e) {
    log.error("cannot start the broker: {}", e.what());
    return 1;
  }

  int signal = 0;
  while (sigwait(&stop_signals, &signal) != 0) {
  }
  log.info("{}: stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
  broker.stop();
  return 0;
}

}  // namespace ternd
