// ternd's broker: a tern::Broker with the configuration ternd built, running
// until SIGINT or SIGTERM, then stopped gracefully (MQTT 5 clients get
// DISCONNECT 0x8B, everything written is flushed for up to a second).
// SIGHUP, which operators and service managers send to reload, re-reads the
// files the configuration names (the mqtts listeners' certificates and keys
// for new connections, the password file and the ACL); a file that cannot be used is logged and the one in
// force stays: never fatal. (The configuration file itself is not re-read.)
#include <pthread.h>
#include <signal.h>

#include <exception>

#include "run.hpp"
#include "tern/server/broker.hpp"

namespace ternd {

int run_broker(const tern::server::config& config, tern::log::logger& log) {
  // Block the stop signals before the broker starts its threads, which inherit
  // the mask: the signals then wait for sigwait() below instead of killing the
  // process, whichever thread the kernel picks.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  tern::Broker broker(config, log);
  try {
    broker.start();  // logs "listening on 127.0.0.1:1883" for each socket
  } catch (const std::exception& e) {
    log.error("cannot start the broker: {}", e.what());
    return 1;
  }

  int signal = 0;
  for (;;) {
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal != SIGHUP) break;
    log.info("SIGHUP: re-reading certificates, keys, the password file and the ACL");
    broker.reload();
  }
  log.info("{}: stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
  broker.stop();
  return 0;
}

}  // namespace ternd
