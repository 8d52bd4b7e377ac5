#include "tern/client/seq_ring.hpp"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace tern::client_detail {
namespace {

TEST(SeqRing, TakesEachKeyOnceInAnyOrder) {
  seq_ring<std::uint64_t> r;
  for (std::uint64_t k = 10; k < 20; ++k) r.put(k, k * 100);
  EXPECT_EQ(r.take(15), 1500u);
  EXPECT_EQ(r.take(15), std::nullopt);  // once
  EXPECT_EQ(r.take(10), 1000u);         // the front goes
  EXPECT_EQ(r.take(9), std::nullopt);   // never put
  EXPECT_EQ(r.take(25), std::nullopt);
  for (std::uint64_t k = 11; k < 20; ++k) {
    if (k == 15) continue;
    EXPECT_EQ(r.take(k), k * 100) << k;
  }
  // Empty now: the next key starts it again.
  r.put(1000, 7);
  EXPECT_EQ(r.take(1000), 7u);
}

TEST(SeqRing, GapsAndKeysBelowTheBase) {
  seq_ring<std::uint64_t> r;
  r.put(5, 50);
  r.put(9, 90);  // 6..8: nothing there
  EXPECT_EQ(r.take(7), std::nullopt);
  r.put(3, 30);  // below the base: kept apart
  EXPECT_EQ(r.take(5), 50u);
  EXPECT_EQ(r.take(3), 30u);
  std::vector<std::uint64_t> left;
  r.for_each([&](std::uint64_t v) { left.push_back(v); });
  EXPECT_EQ(left, (std::vector<std::uint64_t>{90}));
  r.clear();
  EXPECT_EQ(r.take(9), std::nullopt);
}

}  // namespace
}  // namespace tern::client_detail
