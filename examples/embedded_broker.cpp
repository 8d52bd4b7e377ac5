// examples/embedded_broker.cpp: an MQTT broker inside your own program.
//
// tern::Broker is an object: build it from a configuration, give it hooks,
// start() it, stop() it. Here the hooks
//   - authenticate: on_connect accepts only the user names and passwords of a
//     small table, and refuses everyone else with "Bad User Name or Password"
//     (MQTT 5 reason 0x86; 3.1.1 clients get return code 4);
//   - filter what is published: on_publish redirects "raw/..." to "clean/..."
//     and silently discards anything under "private/".
// Hooks run on the broker's io threads, several at once: they must be
// thread-safe and must not block (no I/O, no locks held for long).
//
//   embedded_broker [PORT [SECONDS]]    # PORT 0: any free port; default 1883, until Ctrl-C
//
//   mosquitto_sub -p 1883 -u alice -P wonderland -t 'clean/#' -v &
//   mosquitto_pub -p 1883 -u alice -P wonderland -t raw/temperature -m 21.5   # arrives as clean/temperature
//   mosquitto_pub -p 1883 -u mallory -P guess -t raw/x -m y                   # refused: bad user name or password
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "tern/log/stderr_sink.hpp"
#include "tern/server/broker.hpp"

namespace {

class my_hooks final : public tern::engine::hooks {
 public:
  tern::reason on_connect(const tern::engine::connect_request& r) override {
    // Read-only after construction: safe from every io thread at once.
    auto user = r.username ? users_.find(*r.username) : users_.end();
    if (user == users_.end() || !r.password || *r.password != user->second)
      return tern::reason::bad_user_name_or_password;
    return tern::reason::success;
  }

  tern::engine::publish_verdict on_publish(const tern::engine::client_info&, tern::publish_packet& m) override {
    if (m.topic().starts_with("private/")) return {tern::engine::publish_action::discard};
    if (m.topic().starts_with("raw/")) m.set_topic("clean/" + std::string(m.topic().substr(4)));
    return {};  // allow, as (possibly) changed
  }

 private:
  // A real program keeps password hashes, not passwords.
  const std::map<std::string, std::string, std::less<>> users_{{"alice", "wonderland"}, {"bob", "builder"}};
};

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 1883;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : -1;  // -1: until SIGINT or SIGTERM

  // Wait for the stop signals in main() only: block them before the broker's
  // threads start (they inherit the mask).
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  tern::server::config config;  // 127.0.0.1, limits at their defaults
  config.listeners[0].port = static_cast<std::uint16_t>(port);
  config.storage.backend = tern::server::storage_backend::memory;
  my_hooks hooks;
  tern::Broker broker(config, hooks, tern::log::logger{tern::log::make_stderr_sink(), "example"});
  try {
    broker.start();
  } catch (const std::exception& e) {
    std::cerr << "embedded_broker: " << e.what() << "\n";
    return 1;
  }
  std::cout << "listening on " << broker.addresses()[0] << std::endl;

  if (seconds < 0) {
    int signal = 0;
    sigwait(&stop, &signal);
  } else if (seconds > 0) {
    timespec t{seconds, 0};
    sigtimedwait(&stop, nullptr, &t);
  }
  broker.stop();  // MQTT 5 clients get DISCONNECT 0x8B (Server shutting down)
  return 0;
}
