// A subscriber slower than its publishers, with limits.queue_full =
// "hold_acks" (issue 16, fault 12): over real sockets, nothing acknowledged
// is lost and the publishers' acknowledgements wait for the subscriber.
// The "store" default is tested in faults_test.cpp (Fault12).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "integration/broker_fixture.hpp"

namespace tern::testing {
namespace {

using namespace std::chrono_literals;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

server::config hold_acks_config() {
  auto config = test_config(2);  // publishers and subscriber on both io threads
  config.limits.max_inflight = 10;
  config.limits.max_queued_messages = 20;
  config.limits.queue_full = server::queue_full_mode::hold_acks;
  return config;
}

// The PUBACKs `c` has been sent, until none comes for `quiet`.
std::vector<std::uint16_t> pubacks(test_client& c, std::chrono::milliseconds quiet) {
  std::vector<std::uint16_t> ids;
  while (auto p = c.receive(quiet)) {
    if (!std::holds_alternative<puback_packet>(*p)) {
      ADD_FAILURE() << "got " << name(type_of(*p));
      break;
    }
    ids.push_back(std::get<puback_packet>(*p).packet_id);
  }
  return ids;
}

// Four publishers send 50 QoS 1 messages each without waiting, to one
// subscriber that reads none at first: 30 fit (10 in flight, 20 queued),
// and only those are acknowledged. As it reads, slowly, the rest are
// acknowledged; every message reaches it, in each publisher's order.
TEST(HoldAcks, FanInToASlowSubscriberLosesNothingAndWaitsForIt) {
  running_broker b(hold_acks_config(), nullptr);
  test_client sub(b.port, v5);
  ASSERT_EQ(sub.connect("slow").reason_code, reason::success);
  sub.subscribe("fan/#", qos::at_least_once);
  constexpr int publishers = 4, each = 50;
  std::vector<std::unique_ptr<test_client>> pubs;
  for (int p = 0; p < publishers; ++p) {
    pubs.push_back(std::make_unique<test_client>(b.port, p % 2 ? v5 : v311));
    ASSERT_EQ(pubs.back()->connect("fast-" + std::to_string(p)).reason_code, reason::success);
  }
  for (int i = 0; i < each; ++i) {
    for (int p = 0; p < publishers; ++p) {
      publish_packet m("fan/" + std::to_string(p), shared_bytes::copy(std::to_string(i)), qos::at_least_once, false);
      m.packet_id = static_cast<std::uint16_t>(i + 1);
      pubs[static_cast<std::size_t>(p)]->send(m);
    }
  }
  std::size_t acknowledged = 0;
  for (auto& p : pubs) acknowledged += pubacks(*p, 200ms).size();
  EXPECT_EQ(acknowledged, 30u);  // what the subscriber's window and queue hold; the rest wait
  std::vector<int> next(publishers, 0);
  for (int n = 0; n < publishers * each; ++n) {
    const auto m = sub.receive_publish();
    const auto p = static_cast<std::size_t>(std::stoi(std::string(m.topic().substr(4))));
    ASSERT_LT(p, next.size());
    ASSERT_EQ(m.payload().view(), std::to_string(next[p]++)) << "publisher " << p;
    if (n % 20 == 0) std::this_thread::sleep_for(2ms);  // a subscriber with work to do
  }
  EXPECT_TRUE(sub.nothing_within(100ms));
  for (auto& p : pubs) acknowledged += pubacks(*p, 200ms).size();
  EXPECT_EQ(acknowledged, std::size_t{publishers * each});  // every one, once the subscriber had room
  EXPECT_EQ(b.broker->stats().messages_dropped.load(), 0u);
  EXPECT_EQ(b.broker->stats().stored_dropped.load(), 0u);
  EXPECT_GE(b.broker->stats().acknowledgements_held.load(), std::uint64_t{publishers * each - 30});
  sub.disconnect();
}

// A full subscriber that goes holds nobody up any more: the publisher's
// withheld acknowledgements are sent.
TEST(HoldAcks, ASubscriberThatLeavesReleasesItsPublishers) {
  running_broker b(hold_acks_config(), nullptr);
  test_client sub(b.port, v311);
  ASSERT_EQ(sub.connect("stuck").reason_code, reason::success);
  sub.subscribe("t", qos::at_least_once);
  test_client pub(b.port, v5);
  ASSERT_EQ(pub.connect("pub").reason_code, reason::success);
  for (std::uint16_t i = 1; i <= 40; ++i) {
    publish_packet m("t", shared_bytes::copy(std::to_string(i)), qos::at_least_once, false);
    m.packet_id = i;
    pub.send(m);
  }
  EXPECT_EQ(pubacks(pub, 200ms).size(), 30u);
  sub.close();
  EXPECT_EQ(pubacks(pub, 500ms).size(), 10u);
  EXPECT_TRUE(pub.alive());
}

}  // namespace
}  // namespace tern::testing
