#include "signals.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <thread>

namespace tern::apps {
namespace {

using namespace std::chrono_literals;

TEST(ControlSignals, ASignalSentToAnotherThreadReachesTheWaiter) {
  const control_signals s(control_signals::with_reload::yes);
  // Sent to the process from a thread started after: blocked there too
  // (inherited), so it waits for wait() instead of ending the test.
  std::thread other([] { ::kill(::getpid(), SIGHUP); });
  other.join();
  EXPECT_EQ(s.wait(), SIGHUP);
  std::thread([] { ::kill(::getpid(), SIGTERM); }).join();
  EXPECT_EQ(s.wait_for(1s), SIGTERM);
  EXPECT_STREQ(control_signals::name(SIGTERM), "SIGTERM");
}

TEST(ControlSignals, WaitForAnswersZeroWhenNoneCame) {
  const control_signals s(control_signals::with_reload::no);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.wait_for(30ms), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);
}

}  // namespace
}  // namespace tern::apps
