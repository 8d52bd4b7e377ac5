// apps/common/signals.hpp: the signals that stop a program (SIGINT,
// SIGTERM) and, where it reloads, SIGHUP, received by one thread that waits
// for them. ternd, `tern gateway` and `tern sub` share it.
#pragma once

#include <signal.h>

#include <chrono>

namespace tern::apps {

class control_signals {
 public:
  enum class with_reload : bool { no, yes };

  // Blocks SIGINT, SIGTERM (and SIGHUP with `reload`) in the calling thread.
  // Make it before the program starts any thread: threads inherit the mask,
  // so the signals wait for wait() whichever thread the kernel picks,
  // instead of killing the process. (Programs a thread starts get an empty
  // mask from tern's process interface.)
  explicit control_signals(with_reload reload);

  // The next of them to arrive.
  int wait() const;
  // The next within `timeout`; 0 when none came.
  int wait_for(std::chrono::milliseconds timeout) const;

  static const char* name(int signal);

 private:
  sigset_t set_{};
};

}  // namespace tern::apps
