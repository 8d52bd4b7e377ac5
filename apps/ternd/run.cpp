// ternd's broker: a tern::Broker with the configuration ternd built, running
// until SIGINT or SIGTERM, then stopped gracefully (MQTT 5 clients get
// DISCONNECT 0x8B, everything written is flushed for up to a second).
// SIGHUP, which operators and service managers send to reload, re-reads the
// files the configuration names (the mqtts listeners' certificates and keys
// for new connections, the password file and the ACL); a file that cannot be used is logged and the one in
// force stays: never fatal. (The configuration file itself is not re-read.)
#include <exception>

#include "common/signals.hpp"
#include "run.hpp"
#include "tern/server/broker.hpp"

namespace ternd {

int run_broker(const tern::server::config& config, tern::log::logger& log) {
  // Before the broker starts its threads, which inherit the mask.
  const tern::apps::control_signals signals(tern::apps::control_signals::with_reload::yes);

  tern::Broker broker(config, log);
  try {
    broker.start();  // logs "listening on 127.0.0.1:1883" for each socket
  } catch (const std::exception& e) {
    log.error("cannot start the broker: {}", e.what());
    return 1;
  }

  int signal = 0;
  while ((signal = signals.wait()) == SIGHUP) {
    log.info("SIGHUP: re-reading certificates, keys, the password file and the ACL");
    broker.reload();
  }
  log.info("{}: stopping", tern::apps::control_signals::name(signal));
  broker.stop();
  return 0;
}

}  // namespace ternd
