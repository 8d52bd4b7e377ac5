// tern/client/backoff.hpp: reconnect delays: exponential backoff with jitter.
//
//   tern::reconnect_backoff b({.min_delay = 100ms, .max_delay = 5s, .jitter = 0.5});
//   auto d = b.next();   // within [50ms, 100ms], then [100ms, 200ms], ... up to [2.5s, 5s]
//   b.reset();           // after a successful connection
//
// Pure: no clock, no I/O. Thread safety: none.
#pragma once

#include <chrono>
#include <random>

#include "tern/client/options.hpp"

namespace tern {

class reconnect_backoff {
 public:
  explicit reconnect_backoff(const reconnect_options& o);

  // The delay before the next attempt; counts the attempt.
  std::chrono::milliseconds next();
  // Back to min_delay (a connection succeeded).
  void reset() noexcept { attempts_ = 0; }
  unsigned attempts() const noexcept { return attempts_; }

 private:
  std::chrono::milliseconds min_, max_;
  double jitter_;
  unsigned attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace tern
