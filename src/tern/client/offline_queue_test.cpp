#include "tern/client/offline_queue.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

using overflow = offline_queue_options::overflow;

offline_queue::entry msg(std::uint64_t tag, std::string_view payload = "1234") {
  return {publish_packet("t", shared_bytes::copy(payload), qos::at_least_once), {}, tag};
}

TEST(OfflineQueue, RefusesPastTheMessageBound) {
  offline_queue q({.max_messages = 2, .max_bytes = 1000, .on_full = overflow::refuse});
  EXPECT_TRUE(q.push(msg(1)).accepted);
  EXPECT_TRUE(q.push(msg(2)).accepted);
  auto r = q.push(msg(3));
  EXPECT_FALSE(r.accepted);
  EXPECT_TRUE(r.dropped.empty());
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.pop_front().tag, 1u);
  EXPECT_TRUE(q.push(msg(4)).accepted);
}

TEST(OfflineQueue, DropsTheOldestPastTheMessageBound) {
  offline_queue q({.max_messages = 2, .max_bytes = 1000, .on_full = overflow::drop_oldest});
  (void)q.push(msg(1));
  (void)q.push(msg(2));
  auto r = q.push(msg(3));
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.dropped, std::vector<std::uint64_t>{1});
  EXPECT_EQ(q.front().tag, 2u);
}

TEST(OfflineQueue, ByteBound) {
  // Each message costs 1 (topic) + 4 (payload) = 5 bytes.
  offline_queue q({.max_messages = 100, .max_bytes = 12, .on_full = overflow::drop_oldest});
  EXPECT_EQ(offline_queue::cost(msg(0).message), 5u);
  (void)q.push(msg(1));
  (void)q.push(msg(2));
  EXPECT_EQ(q.bytes(), 10u);
  auto r = q.push(msg(3));
  EXPECT_EQ(r.dropped, std::vector<std::uint64_t>{1});
  EXPECT_EQ(q.bytes(), 10u);
  auto big = q.push(msg(4, std::string(20, 'x')));  // larger than the bound alone
  EXPECT_FALSE(big.accepted);
  EXPECT_TRUE(big.dropped.empty());
  EXPECT_EQ(q.size(), 2u);

  offline_queue refusing({.max_messages = 100, .max_bytes = 12, .on_full = overflow::refuse});
  (void)refusing.push(msg(1));
  (void)refusing.push(msg(2));
  EXPECT_FALSE(refusing.push(msg(3)).accepted);
  EXPECT_TRUE(refusing.push(msg(4, "")).accepted);  // 1 byte still fits
}

TEST(OfflineQueue, PushFrontIgnoresBoundsAndTakeAllEmpties) {
  offline_queue q({.max_messages = 1, .max_bytes = 1000});
  (void)q.push(msg(2));
  q.push_front(msg(1));
  EXPECT_EQ(q.size(), 2u);
  auto all = q.take_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].tag, 1u);
  EXPECT_EQ(all[1].tag, 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(OfflineQueue, ZeroMessagesRefusesEverything) {
  offline_queue q({.max_messages = 0, .on_full = overflow::drop_oldest});
  EXPECT_FALSE(q.push(msg(1)).accepted);
}

}  // namespace
}  // namespace tern
