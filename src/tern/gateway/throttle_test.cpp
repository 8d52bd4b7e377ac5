#include "tern/gateway/throttle.hpp"

#include <gtest/gtest.h>

namespace tern::gateway {
namespace {

using namespace std::chrono_literals;

TEST(GatewayThrottle, OncePerIntervalWithTheCountSkipped) {
  throttle t(10s);
  const throttle::clock::time_point t0{};
  EXPECT_EQ(t.allow(t0), 0u);
  EXPECT_FALSE(t.allow(t0 + 1s));
  EXPECT_FALSE(t.allow(t0 + 9s));
  EXPECT_EQ(t.allow(t0 + 10s), 2u);
  EXPECT_FALSE(t.allow(t0 + 19s));
  EXPECT_EQ(t.allow(t0 + 30s), 1u);
  EXPECT_EQ(t.allow(t0 + 41s), 0u);
}

}  // namespace
}  // namespace tern::gateway
