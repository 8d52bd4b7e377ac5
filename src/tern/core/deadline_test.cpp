#include "tern/core/deadline.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace tern {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

TEST(DeadlineAfter, AddsAndStopsAtTheClocksEnd) {
  const clock::time_point t{100s};
  EXPECT_EQ(deadline_after(t, 5ms), t + 5ms);
  EXPECT_EQ(deadline_after(t, 0ms), t);
  EXPECT_EQ(deadline_after(t, -5s), t);  // do not wait
  EXPECT_EQ(deadline_after(t, std::chrono::milliseconds::min()), t);
  EXPECT_EQ(deadline_after(t, std::chrono::milliseconds::max()), clock::time_point::max());
  EXPECT_EQ(deadline_after(t, std::chrono::seconds::max()), clock::time_point::max());
  EXPECT_EQ(deadline_after(t, std::chrono::hours(24 * 365 * 300)), clock::time_point::max());  // past 2^63 ns
  EXPECT_EQ(deadline_after(t, std::chrono::hours(24 * 365 * 200)), t + std::chrono::hours(24 * 365 * 200));
  EXPECT_EQ(deadline_after(clock::time_point::max(), 1ms), clock::time_point::max());
}

}  // namespace
}  // namespace tern
