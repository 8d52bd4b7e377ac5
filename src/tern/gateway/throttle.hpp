// tern/gateway/throttle.hpp: a repeated error logged at most once per
// interval, with how many were not (mqttgateway's throttled exception). Time
// is an argument, so tests need no clock.
//
//   tern::gateway::throttle t(std::chrono::seconds(10));
//   if (auto skipped = t.allow(std::chrono::steady_clock::now()))
//     log.warn("dropped: {} ({} more since the last report)", why, *skipped);
//
// Not thread-safe: one throttle per thread that reports.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace tern::gateway {

class throttle {
 public:
  using clock = std::chrono::steady_clock;
  explicit throttle(clock::duration interval) : interval_(interval) {}

  // The number of occurrences not reported since the last report, when this
  // one is to be reported (the first, or the first after `interval`);
  // nullopt when it is to be counted only.
  [[nodiscard]] std::optional<std::uint64_t> allow(clock::time_point now) {
    if (reported_ && now - *reported_ < interval_) {
      ++skipped_;
      return std::nullopt;
    }
    reported_ = now;
    const std::uint64_t skipped = skipped_;
    skipped_ = 0;
    return skipped;
  }

 private:
  clock::duration interval_;
  std::optional<clock::time_point> reported_;
  std::uint64_t skipped_ = 0;
};

}  // namespace tern::gateway
