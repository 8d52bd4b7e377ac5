#include "signals.hpp"

#include <pthread.h>

#include <cerrno>

namespace tern::apps {

control_signals::control_signals(with_reload reload) {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  if (reload == with_reload::yes) sigaddset(&set_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

int control_signals::wait() const {
  for (;;) {
    int signal = 0;
    if (sigwait(&set_, &signal) == 0) return signal;
  }
}

int control_signals::wait_for(std::chrono::milliseconds timeout) const {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec ts{static_cast<time_t>(s.count()),
                    static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout - s).count())};
  for (;;) {
    const int signal = sigtimedwait(&set_, nullptr, &ts);
    if (signal > 0) return signal;
    if (errno != EINTR) return 0;
  }
}

const char* control_signals::name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
  }
}

}  // namespace tern::apps
