#include "tern/core/fifo.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace tern {
namespace {

TEST(Fifo, TakesFromTheFrontInOrder) {
  fifo<std::uint16_t> f;
  EXPECT_TRUE(f.empty());
  f.push_back(7);
  f.push_back(9);
  f.add(8);  // in order
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(f.front(), 7);
  f.pop_front();
  EXPECT_EQ(f.front(), 8);
  f.erase(8);
  EXPECT_EQ(f.front(), 9);
  f.erase(42);  // absent: nothing happens
  f.pop_front();
  EXPECT_TRUE(f.empty());
}

TEST(Fifo, StaysSmallWhenFedAndDrainedAtTheSamePace) {
  fifo<std::uint64_t> f;
  std::uint64_t next = 0, expected = 0;
  for (int i = 0; i < 100; ++i) f.push_back(next++);
  for (int round = 0; round < 100'000; ++round) {
    f.push_back(next++);
    ASSERT_EQ(f.front(), expected++);
    f.pop_front();
  }
  EXPECT_EQ(f.size(), 100u);
}

}  // namespace
}  // namespace tern
