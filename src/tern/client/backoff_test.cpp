#include "tern/client/backoff.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, DoublesUpToTheMaximumWithoutJitter) {
  reconnect_backoff b({.min_delay = 100ms, .max_delay = 1s, .jitter = 0.0});
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 200ms);
  EXPECT_EQ(b.next(), 400ms);
  EXPECT_EQ(b.next(), 800ms);
  EXPECT_EQ(b.next(), 1s);
  EXPECT_EQ(b.next(), 1s);
  EXPECT_EQ(b.attempts(), 6u);
  b.reset();
  EXPECT_EQ(b.next(), 100ms);
}

TEST(Backoff, JitterStaysWithinItsShare) {
  reconnect_backoff b({.min_delay = 100ms, .max_delay = 800ms, .jitter = 0.5, .seed = 42});
  std::chrono::milliseconds nominal = 100ms;
  bool varied = false;
  std::chrono::milliseconds last{};
  for (int i = 0; i < 40; ++i) {
    const auto d = b.next();
    EXPECT_GE(d, nominal / 2) << i;
    EXPECT_LE(d, nominal) << i;
    if (i > 4 && d != last) varied = true;
    last = d;
    nominal = std::min(nominal * 2, std::chrono::milliseconds(800));
  }
  EXPECT_TRUE(varied);
}

TEST(Backoff, ManyAttemptsDoNotOverflow) {
  reconnect_backoff b({.min_delay = 1ms, .max_delay = 3'600'000ms, .jitter = 0.0});
  std::chrono::milliseconds d{};
  for (int i = 0; i < 10'000; ++i) d = b.next();
  EXPECT_EQ(d, 3'600'000ms);
}

TEST(Backoff, DelaysAtTheEndOfTheRangeDoNotOverflow) {
  // "Never give up, wait for ever" written as milliseconds::max().
  reconnect_backoff b({.min_delay = std::chrono::milliseconds::max() / 2 + 1ms,
                       .max_delay = std::chrono::milliseconds::max(), .jitter = 0.0});
  EXPECT_EQ(b.next(), std::chrono::milliseconds::max() / 2 + 1ms);
  EXPECT_EQ(b.next(), std::chrono::milliseconds::max());
  EXPECT_EQ(b.next(), std::chrono::milliseconds::max());
}

TEST(Backoff, NonsenseOptionsAreClamped) {
  reconnect_backoff b({.min_delay = 0ms, .max_delay = 0ms, .jitter = 7.0, .seed = 1});
  for (int i = 0; i < 10; ++i) EXPECT_GE(b.next(), 1ms);
}

}  // namespace
}  // namespace tern
