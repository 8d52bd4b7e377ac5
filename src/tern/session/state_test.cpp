// The session state: packet identifiers, in-flight bookkeeping, the queue
// and its limits.
#include "tern/session/state.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::session {
namespace {

const time_point t0 = time_point{} + std::chrono::hours(1);

publish_packet msg(std::string_view topic, std::size_t payload_size, qos q, std::uint16_t id = 0) {
  publish_packet m(topic, shared_bytes::copy(std::string(payload_size, 'x')), q);
  m.packet_id = id;
  return m;
}

std::vector<std::string> topics(const state& s) {
  std::vector<std::string> out;
  for (const auto& q : s.queue()) out.emplace_back(q.message.topic());
  return out;
}

std::vector<std::uint16_t> order(const state& s) {
  return {s.outgoing_order().begin(), s.outgoing_order().end()};
}

TEST(State, AllocatesIdsInOrder) {
  state s;
  EXPECT_EQ(s.allocate_packet_id(), 1);
  EXPECT_EQ(s.allocate_packet_id(), 2);
  EXPECT_EQ(s.allocate_packet_id(), 3);
  EXPECT_TRUE(s.packet_id_in_use(2));
  s.release_packet_id(2);
  EXPECT_FALSE(s.packet_id_in_use(2));
  // Allocation goes on from the last id rather than reusing at once.
  EXPECT_EQ(s.allocate_packet_id(), 4);
}

TEST(State, AllocationSkipsIdsInUse) {
  state s;
  s.add_outgoing(msg("a", 1, qos::at_least_once, 2));  // an id the state did not hand out
  EXPECT_TRUE(s.packet_id_in_use(2));
  EXPECT_EQ(s.allocate_packet_id(), 1);
  EXPECT_EQ(s.allocate_packet_id(), 3);
}

TEST(State, AllocationWrapsAndRunsOut) {
  state s;
  for (unsigned i = 1; i <= 65'535; ++i) ASSERT_EQ(s.allocate_packet_id(), i);
  EXPECT_EQ(s.allocate_packet_id(), std::nullopt);
  s.release_packet_id(7);
  EXPECT_EQ(s.allocate_packet_id(), 7);
  EXPECT_EQ(s.allocate_packet_id(), std::nullopt);
  s.release_packet_id(65'535);
  s.release_packet_id(1);
  EXPECT_EQ(s.allocate_packet_id(), 65'535);
  EXPECT_EQ(s.allocate_packet_id(), 1);  // wrapped 65535 -> 1, never 0
}

TEST(State, OutgoingKeepsSendOrder) {
  state s;
  s.add_outgoing(msg("a", 1, qos::at_least_once, 5));
  s.add_outgoing(msg("b", 1, qos::exactly_once, 3));
  s.add_outgoing(msg("c", 1, qos::at_least_once, 9));
  EXPECT_EQ(s.inflight(), 3u);
  EXPECT_EQ(order(s), (std::vector<std::uint16_t>{5, 3, 9}));
  ASSERT_NE(s.find_outgoing(3), nullptr);
  EXPECT_EQ(s.find_outgoing(3)->phase, outgoing::phase::awaiting_ack);
  s.find_outgoing(3)->phase = outgoing::phase::awaiting_comp;

  auto m = s.remove_outgoing(3);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic(), "b");
  EXPECT_FALSE(s.packet_id_in_use(3));
  EXPECT_EQ(s.find_outgoing(3), nullptr);
  EXPECT_EQ(order(s), (std::vector<std::uint16_t>{5, 9}));
  EXPECT_EQ(s.remove_outgoing(3), std::nullopt);
  EXPECT_EQ(s.inflight(), 2u);
}

TEST(State, AddingAnIdAgainReplacesWithoutReordering) {
  state s;
  s.add_outgoing(msg("a", 1, qos::at_least_once, 1));
  s.add_outgoing(msg("b", 1, qos::at_least_once, 2));
  s.add_outgoing(msg("a2", 1, qos::at_least_once, 1));
  EXPECT_EQ(order(s), (std::vector<std::uint16_t>{1, 2}));
  EXPECT_EQ(s.find_outgoing(1)->message.topic(), "a2");
}

TEST(State, SendOrderSurvivesTheRingWrappingAndGrowing) {
  // Ids come and go many times round the ring's block, acknowledged in
  // order and out of it, with the window growing past the block's size.
  state s;
  std::vector<std::uint16_t> expected;
  std::uint16_t next = 1;
  for (int round = 0; round < 300; ++round) {
    const int window = 1 + round % 20;
    while (static_cast<int>(expected.size()) < window) {
      s.add_outgoing(msg("t", 1, qos::at_least_once, next));
      expected.push_back(next++);
    }
    // Oldest first, and every fifth round one from the middle.
    const std::size_t k = round % 5 == 0 ? expected.size() / 2 : 0;
    ASSERT_TRUE(s.remove_outgoing(expected[k]));
    expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(k));
    ASSERT_EQ(order(s), expected) << "round " << round;
  }
  EXPECT_EQ(s.inflight(), expected.size());
}

TEST(State, IncomingQos2Ids) {
  state s;
  EXPECT_FALSE(s.incoming_qos2(4));
  s.add_incoming_qos2(4);
  s.add_incoming_qos2(8);
  EXPECT_TRUE(s.incoming_qos2(4));
  EXPECT_EQ(s.incoming_qos2_ids(), (std::set<std::uint16_t>{4, 8}));
  s.remove_incoming_qos2(4);
  EXPECT_FALSE(s.incoming_qos2(4));
  EXPECT_FALSE(s.packet_id_in_use(8));  // the peer's ids, not ours
}

TEST(State, QueueIsFifoAndCountsBytes) {
  state s;
  EXPECT_EQ(s.enqueue(msg("a", 10, qos::at_least_once), t0), enqueue_result::queued);
  EXPECT_EQ(s.enqueue(msg("b", 5, qos::at_most_once), t0 + std::chrono::seconds(1)), enqueue_result::queued);
  EXPECT_EQ(s.queued_bytes(), 15u);
  auto q = s.dequeue();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->message.topic(), "a");
  EXPECT_EQ(q->enqueued_at, t0);
  EXPECT_EQ(s.queued_bytes(), 5u);
  EXPECT_EQ(s.dequeue()->enqueued_at, t0 + std::chrono::seconds(1));
  EXPECT_EQ(s.dequeue(), std::nullopt);
  EXPECT_EQ(s.queued_bytes(), 0u);
}

TEST(State, FullQueueDropsOldestQos0First) {
  state s({.max_messages = 3, .max_bytes = 1000});
  ASSERT_EQ(s.enqueue(msg("a0", 1, qos::at_most_once), t0), enqueue_result::queued);
  ASSERT_EQ(s.enqueue(msg("b1", 1, qos::at_least_once), t0), enqueue_result::queued);
  ASSERT_EQ(s.enqueue(msg("c0", 1, qos::at_most_once), t0), enqueue_result::queued);
  EXPECT_EQ(s.enqueue(msg("d2", 1, qos::exactly_once), t0), enqueue_result::queued_dropping);
  EXPECT_EQ(topics(s), (std::vector<std::string>{"b1", "c0", "d2"}));
  EXPECT_EQ(s.dropped(), 1u);
  // A new QoS 0 message also pushes out the oldest QoS 0 one.
  EXPECT_EQ(s.enqueue(msg("e0", 1, qos::at_most_once), t0), enqueue_result::queued_dropping);
  EXPECT_EQ(topics(s), (std::vector<std::string>{"b1", "d2", "e0"}));
  EXPECT_EQ(s.dropped(), 2u);
  EXPECT_EQ(s.queued_bytes(), 3u);
}

TEST(State, FullOfQos12RefusesQos12AndDropsQos0) {
  state s({.max_messages = 2, .max_bytes = 1000});
  ASSERT_EQ(s.enqueue(msg("a", 1, qos::at_least_once), t0), enqueue_result::queued);
  ASSERT_EQ(s.enqueue(msg("b", 1, qos::exactly_once), t0), enqueue_result::queued);
  EXPECT_EQ(s.enqueue(msg("c", 1, qos::at_least_once), t0), enqueue_result::refused);
  EXPECT_EQ(s.enqueue(msg("d", 1, qos::at_most_once), t0), enqueue_result::dropped);
  EXPECT_EQ(topics(s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.dropped(), 2u);
}

TEST(State, ByteLimitDropsAsManyQos0AsNeeded) {
  state s({.max_messages = 100, .max_bytes = 10});
  ASSERT_EQ(s.enqueue(msg("a0", 3, qos::at_most_once), t0), enqueue_result::queued);
  ASSERT_EQ(s.enqueue(msg("b1", 3, qos::at_least_once), t0), enqueue_result::queued);
  ASSERT_EQ(s.enqueue(msg("c0", 3, qos::at_most_once), t0), enqueue_result::queued);
  // 9 bytes queued; 6 more need both QoS 0 messages gone.
  EXPECT_EQ(s.enqueue(msg("d1", 6, qos::at_least_once), t0), enqueue_result::queued_dropping);
  EXPECT_EQ(topics(s), (std::vector<std::string>{"b1", "d1"}));
  EXPECT_EQ(s.queued_bytes(), 9u);
  EXPECT_EQ(s.dropped(), 2u);
}

TEST(State, NothingIsDroppedForAMessageThatCannotFit) {
  state s({.max_messages = 100, .max_bytes = 10});
  ASSERT_EQ(s.enqueue(msg("a0", 3, qos::at_most_once), t0), enqueue_result::queued);
  EXPECT_EQ(s.enqueue(msg("huge0", 11, qos::at_most_once), t0), enqueue_result::dropped);
  EXPECT_EQ(s.enqueue(msg("huge1", 11, qos::at_least_once), t0), enqueue_result::refused);
  EXPECT_EQ(topics(s), (std::vector<std::string>{"a0"}));
  EXPECT_EQ(s.dropped(), 2u);
}

TEST(State, SetLimitsAppliesToLaterEnqueues) {
  state s;
  s.set_limits({.max_messages = 1, .max_bytes = 100});
  EXPECT_EQ(s.limits().max_messages, 1u);
  ASSERT_EQ(s.enqueue(msg("a", 1, qos::at_least_once), t0), enqueue_result::queued);
  EXPECT_EQ(s.enqueue(msg("b", 1, qos::at_least_once), t0), enqueue_result::refused);
}

TEST(State, ClearForgetsAllButLimitsAndCounters) {
  state s({.max_messages = 1, .max_bytes = 100});
  (void)s.allocate_packet_id();
  s.add_outgoing(msg("a", 1, qos::at_least_once, 1));
  s.add_incoming_qos2(9);
  ASSERT_EQ(s.enqueue(msg("q", 4, qos::at_least_once), t0), enqueue_result::queued);
  ASSERT_EQ(s.enqueue(msg("r", 4, qos::at_least_once), t0), enqueue_result::refused);
  s.clear();
  EXPECT_EQ(s.inflight(), 0u);
  EXPECT_TRUE(s.outgoing_order().empty());
  EXPECT_TRUE(s.incoming_qos2_ids().empty());
  EXPECT_TRUE(s.queue().empty());
  EXPECT_EQ(s.queued_bytes(), 0u);
  EXPECT_FALSE(s.packet_id_in_use(1));
  EXPECT_EQ(s.allocate_packet_id(), 1);
  EXPECT_EQ(s.limits().max_messages, 1u);
  EXPECT_EQ(s.dropped(), 1u);
}

// A journal that writes down what it hears.
struct recording_journal : journal {
  std::vector<std::string> log;
  std::uint64_t seq = 100;
  std::uint64_t next_seq() override { return ++seq; }
  void queued(const struct queued& q) override { log.push_back("queued " + std::to_string(q.seq)); }
  void unqueued(std::uint64_t s) override { log.push_back("unqueued " + std::to_string(s)); }
  void sent(const outgoing& o, bool was_queued) override {
    log.push_back("sent " + std::to_string(o.seq) + " id " + std::to_string(o.message.packet_id) +
                  (was_queued ? " from queue" : ""));
  }
  void released(const outgoing& o) override { log.push_back("released " + std::to_string(o.message.packet_id)); }
  void completed(std::uint16_t id) override { log.push_back("completed " + std::to_string(id)); }
  void incoming_added(std::uint16_t id) override { log.push_back("in+ " + std::to_string(id)); }
  void incoming_removed(std::uint16_t id) override { log.push_back("in- " + std::to_string(id)); }
};

TEST(State, JournalHearsEveryChangeToQos12Messages) {
  state s;
  recording_journal j;
  s.set_journal(&j);
  (void)s.enqueue(msg("zero", 1, qos::at_most_once), t0);  // QoS 0: never journaled
  (void)s.enqueue(msg("one", 1, qos::at_least_once), t0);
  (void)s.enqueue(msg("stored", 1, qos::exactly_once), t0, 0, 50, true);  // already in the copy
  (void)s.dequeue();                                                        // the QoS 0 one
  auto q = *s.dequeue();
  EXPECT_EQ(q.seq, 101u);
  q.message.packet_id = 7;
  s.add_outgoing(q.message, 0, q.seq, true);
  auto st = *s.dequeue();
  EXPECT_EQ(st.seq, 50u);
  s.discard(st);
  s.add_outgoing(msg("direct", 1, qos::exactly_once, 8));
  s.set_released(*s.find_outgoing(8));
  (void)s.remove_outgoing(7);
  (void)s.remove_outgoing(8);
  s.add_incoming_qos2(3);
  s.add_incoming_qos2(3);  // known already: nothing new
  s.remove_incoming_qos2(3);
  EXPECT_EQ(j.log, (std::vector<std::string>{"queued 101", "sent 101 id 7 from queue", "unqueued 50",
                                             "sent 102 id 8", "released 8", "completed 7", "completed 8", "in+ 3",
                                             "in- 3"}));
}

TEST(State, AttachingAJournalReportsWhatTheStateHolds) {
  state s;
  (void)s.enqueue(msg("q", 1, qos::at_least_once), t0);
  s.add_outgoing(msg("o", 1, qos::exactly_once, 4));
  s.find_outgoing(4)->phase = outgoing::phase::awaiting_comp;
  s.add_incoming_qos2(9);
  recording_journal j;
  s.attach_journal(&j);
  EXPECT_EQ(j.log, (std::vector<std::string>{"queued 101", "sent 102 id 4", "released 4", "in+ 9"}));
  // Restoring from the copy is silent.
  state r;
  r.set_journal(&j);
  j.log.clear();
  r.restore_outgoing(outgoing{msg("o", 1, qos::exactly_once, 4), outgoing::phase::awaiting_ack, 0, 102});
  r.restore_incoming_qos2(9);
  EXPECT_TRUE(j.log.empty());
  EXPECT_TRUE(r.packet_id_in_use(4));
  EXPECT_TRUE(r.incoming_qos2(9));
}

}  // namespace
}  // namespace tern::session
