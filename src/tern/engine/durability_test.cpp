// Engine tests of what outlives a connection: the store (durability
// policies, recovery after a crash, persistent sessions' queues), a slow
// clean session's overflow waiting in the store (issue 16, fault 12), and
// hold_acks (its publishers wait instead). Raw packets in, decoded packets
// out, on a manual clock.
#include "tern/engine/engine_test_support.hpp"

namespace tern::engine {
namespace {

using namespace test_support;
using namespace std::chrono_literals;

class Durability : public Engine, public ::testing::WithParamInterface<std::size_t> {};

connect_packet resume(std::string id, std::uint32_t expiry = 300) {
  connect_packet c;
  c.client_id = std::move(id);
  c.clean_start = false;
  c.props = properties::builder{}.add<property_id::session_expiry_interval>(expiry).build();
  return c;
}

TEST_P(Durability, SessionsQueuesInflightAndWillsSurviveACrash) {
  const auto workers = GetParam();
  make(workers);
  auto away = connect("away", v5, false, 300);
  away->subscribe("d/#", qos::at_least_once);
  away->close();
  auto slow = connect("slow", v311, false);  // 3.1.1 persistent: never acknowledges
  slow->subscribe("d/#", qos::exactly_once);
  connect_packet wc = resume("willing");
  wc.clean_start = true;
  wc.will = will_message{"wills/willing", shared_bytes::copy("gone"), qos::at_least_once, false,
                         properties::builder{}.add<property_id::will_delay_interval>(100).build()};
  auto willing = open(wc);
  (void)willing->expect<connack_packet>();
  willing->close();  // abnormal: the will waits 100 s
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 3; ++i) {
    pub->publish("d/" + std::to_string(i), "m" + std::to_string(i), qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  std::vector<std::uint16_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(slow->expect<publish_packet>().packet_id);
  const auto writes = store->stats().operations;
  EXPECT_GT(writes, 0u);

  crash_and_restart(workers);
  EXPECT_EQ(recovered.sessions, 3u);
  EXPECT_EQ(recovered.subscriptions, 2u);
  EXPECT_EQ(recovered.queued, 3u);
  EXPECT_EQ(recovered.inflight, 3u);
  EXPECT_EQ(recovered.wills, 1u);

  auto watcher = connect("watcher");
  watcher->subscribe("wills/#", qos::at_least_once);
  auto back = open(resume("away"));
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  for (int i = 1; i <= 3; ++i) {
    auto m = back->expect<publish_packet>();
    EXPECT_EQ(m.payload().view(), "m" + std::to_string(i));
    EXPECT_FALSE(m.dup);
  }
  connect_packet sc;
  sc.version = v311;
  sc.client_id = "slow";
  sc.clean_start = false;
  auto slow_back = open(sc);
  EXPECT_TRUE(slow_back->expect<connack_packet>().session_present);
  for (int i = 0; i < 3; ++i) {
    auto m = slow_back->expect<publish_packet>();
    EXPECT_TRUE(m.dup);
    EXPECT_EQ(m.packet_id, ids[static_cast<std::size_t>(i)]);
    EXPECT_EQ(m.payload().view(), "m" + std::to_string(i + 1));
  }
  // The subscription came back too: a new message reaches both.
  auto pub2 = connect("pub");
  pub2->publish("d/4", "m4", qos::at_least_once, false, 1);
  (void)pub2->expect<puback_packet>();
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "m4");
  EXPECT_EQ(slow_back->expect<publish_packet>().payload().view(), "m4");
  // The delayed will still goes out when its time comes.
  EXPECT_TRUE(watcher->quiet());
  advance(100s);
  EXPECT_EQ(watcher->expect<publish_packet>().payload().view(), "gone");
}

TEST_P(Durability, IncomingQos2IsDeliveredOnceAcrossACrash) {
  const auto workers = GetParam();
  make(workers);
  auto sub = connect("sub2", v5, false, 300);
  sub->subscribe("x", qos::exactly_once);
  sub->close();
  auto pub = open(resume("pub2"));
  (void)pub->expect<connack_packet>();
  pub->publish("x", "once", qos::exactly_once, false, 9);
  EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, 9);

  crash_and_restart(workers);
  EXPECT_EQ(recovered.incoming, 1u);
  auto again = open(resume("pub2"));
  EXPECT_TRUE(again->expect<connack_packet>().session_present);
  publish_packet dup("x", shared_bytes::copy("once"), qos::exactly_once);
  dup.packet_id = 9;
  dup.dup = true;
  again->send(dup);
  EXPECT_EQ(again->expect<pubrec_packet>().packet_id, 9);
  pubrel_packet rel;
  rel.packet_id = 9;
  again->send(rel);
  EXPECT_EQ(again->expect<pubcomp_packet>().reason_code, reason::success);

  auto back = open(resume("sub2"));
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "once");
  EXPECT_TRUE(back->quiet());
}

TEST_P(Durability, ReleasedQos2ResumesWithPubrel) {
  const auto workers = GetParam();
  make(workers);
  auto sub = connect("sub3", v5, false, 300);
  sub->subscribe("y", qos::exactly_once);
  auto pub = connect("pub3");
  pub->publish("y", "two", qos::exactly_once, false, 1);
  auto m = sub->expect<publish_packet>();
  sub->send(pubrec_packet{m.packet_id, reason::success, {}, {}});
  EXPECT_EQ(sub->expect<pubrel_packet>().packet_id, m.packet_id);

  crash_and_restart(workers);
  auto back = open(resume("sub3"));
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  EXPECT_EQ(back->expect<pubrel_packet>().packet_id, m.packet_id);
  back->send(pubcomp_packet{m.packet_id, reason::success, {}, {}});
  EXPECT_TRUE(back->quiet());
}

TEST_P(Durability, LongOfflineQueuesArePagedFromTheStore) {
  const auto workers = GetParam();
  options o;
  o.queue.max_messages = 4;  // in memory; the rest stays in the store
  o.max_inflight = 2;
  make(workers, o);
  auto sub = connect("pager", v5, false, 300);
  sub->subscribe("p", qos::at_least_once);
  sub->close();
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 25; ++i) {
    pub->publish("p", std::to_string(i), qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  EXPECT_EQ(eng->stats().messages_dropped.load(), 0u);
  auto back = open(resume("pager"));
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  for (int i = 1; i <= 25; ++i) {
    auto m = back->expect<publish_packet>();
    ASSERT_EQ(m.payload().view(), std::to_string(i));
    back->send(puback_packet{m.packet_id, reason::success, {}, {}});
  }
  EXPECT_TRUE(back->quiet());
  crash_and_restart(workers, o);  // everything was acknowledged: nothing comes back
  EXPECT_EQ(recovered.queued, 0u);
  EXPECT_EQ(recovered.inflight, 0u);
}

TEST_P(Durability, CleanSessionsCostNoDiskWrite) {
  make(GetParam());
  auto sub = connect("clean-sub");
  sub->subscribe("c", qos::exactly_once);
  auto pub = connect("clean-pub");
  for (std::uint16_t i = 1; i <= 10; ++i) {
    pub->publish("c", "v", qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
    auto m = sub->expect<publish_packet>();
    sub->send(puback_packet{m.packet_id, reason::success, {}, {}});
  }
  sub->close();
  pub->close();
  EXPECT_EQ(store->stats().commits, 0u);
  EXPECT_EQ(store->stats().operations, 0u);
}

TEST_P(Durability, ExpiredSessionsAreForgottenAtRecoveryAndTheirWillsSent) {
  const auto workers = GetParam();
  make(workers);
  connect_packet wc = resume("brief", 10);
  wc.clean_start = true;
  wc.will = will_message{"wills/brief", shared_bytes::copy("bye"), qos::at_most_once, true,
                         properties::builder{}.add<property_id::will_delay_interval>(60).build()};
  auto c = open(wc);
  (void)c->expect<connack_packet>();
  c->close();  // session ends in 10 s, will in min(60, 10) s
  crash_and_restart(workers);
  now += 30s;  // the broker was down longer than the session lasts
  crash_and_restart(workers);
  EXPECT_EQ(recovered.sessions, 0u);
  EXPECT_EQ(recovered.discarded, 1u);
  auto watcher = connect("watcher");
  watcher->subscribe("wills/#");
  auto m = watcher->expect<publish_packet>();  // retained by the will
  EXPECT_EQ(m.payload().view(), "bye");
  crash_and_restart(workers);
  EXPECT_EQ(recovered.discarded, 0u);
}

INSTANTIATE_TEST_SUITE_P(Workers, Durability, ::testing::Values(1, 2));

// Two workers on two threads, as the network layer runs them: worker 0
// routes message after message (reading the subscription index under its
// own reader lock) while worker 1 changes the index all along (subscribe,
// unsubscribe, and sessions that end with subscriptions, shared ones too).
// A read without the lock would race the writes (ASan: use after free).
TEST(EngineThreads, OneWorkerRoutesWhileAnotherChangesTheIndex) {
  const time_point now{std::chrono::hours(1)};
  hooks h;
  auto store = storage::make_memory_store();
  options o;
  o.sys_interval = std::chrono::seconds(0);
  engine eng(o, h, *store, 2, now);
  // A client id worker `w` owns, and its connection there.
  auto id_on = [&](std::size_t w, std::string prefix) {
    for (int k = 0;; ++k)
      if (auto id = prefix + std::to_string(k); eng.owner_of(id) == w) return id;
  };
  auto connect = [&](std::size_t w, std::string id) {
    connect_packet c;
    c.version = v311;
    c.client_id = std::move(id);
    c.clean_start = true;
    auto ep = std::make_unique<test_endpoint>(eng.worker_at(w), now);
    ep->receive(encode(packet{std::move(c)}, v311), now);
    eng.worker_at(w).admit(*ep, now);
    EXPECT_TRUE(eng.worker_at(w).commit());
    ep->output().clear();
    return ep;
  };
  auto subscribe = [](std::string filter) {
    subscribe_packet s;
    s.packet_id = 1;
    s.entries.push_back({std::move(filter), subscribe_options{qos::at_most_once, false, false, retain_handling::dont_send}});
    return encode(packet{std::move(s)}, v311);
  };
  unsubscribe_packet u;
  u.packet_id = 2;
  u.filters = {"load/x", "$share/g/load/#"};
  const auto unsubscribe = encode(packet{std::move(u)}, v311);
  const auto publish = encode(packet{publish_packet("load/x", shared_bytes::copy("m"), qos::at_most_once)}, v311);
  const auto sub_x = subscribe("load/x"), sub_shared = subscribe("$share/g/load/#"), sub_hash = subscribe("load/#");

  auto publisher = connect(0, id_on(0, "publisher-"));
  auto local = connect(0, id_on(0, "local-"));  // a subscriber on the routing worker
  local->receive(sub_hash, now);
  ASSERT_TRUE(eng.worker_at(0).commit());
  local->output().clear();
  auto changing = connect(1, id_on(1, "changing-"));
  const std::string leaving_id = id_on(1, "leaving-");

  constexpr int rounds = 20'000;
  std::thread router([&] {
    auto& w = eng.worker_at(0);
    for (int k = 0; k < rounds; ++k) {
      publisher->receive(publish, now);
      EXPECT_TRUE(w.commit());
      publisher->output().clear();
      local->output().clear();
      w.hand_over_outbox([](std::size_t, batch&) {});  // (worker 1's batches: not delivered here)
    }
  });
  std::thread changer([&] {
    auto& w = eng.worker_at(1);
    for (int k = 0; k < rounds / 4; ++k) {
      changing->receive(sub_x, now);
      changing->receive(sub_shared, now);
      changing->receive(unsubscribe, now);
      auto leaving = connect(1, leaving_id);  // subscribes, then its session ends with the connection
      leaving->receive(sub_shared, now);
      leaving->receive(sub_x, now);
      leaving->transport_closed(error{reason::unspecified_error, "test closed"}, now);
      EXPECT_TRUE(w.commit());
      changing->output().clear();
      w.hand_over_outbox([](std::size_t, batch&) {});
    }
  });
  router.join();
  changer.join();
  EXPECT_EQ(eng.stats().subscriptions.load(), 1u);  // local's "load/#"
}

// ---------------------------------------------------------------- a slow clean session (issue 16, fault 12)

std::size_t stored_for(storage::store& st, std::string_view id) {
  std::size_t n = 0;
  st.messages().for_each(id, [&](const storage::message_record&) { ++n; });
  return n;
}

TEST_F(Engine, ACleanSessionsOverflowWaitsInTheStoreAndLeavesItAsItIsRead) {
  options o;
  o.queue.max_messages = 2;
  o.max_inflight = 2;
  make(2, o);
  auto sub = connect("slow", v311);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect("pub", v5);
  for (std::uint16_t i = 1; i <= 10; ++i) {
    pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
    EXPECT_EQ(pub->expect<puback_packet>().reason_code, reason::success);
  }
  EXPECT_EQ(stored_for(*store, "slow"), 6u);  // 2 in flight, 2 queued in memory, 6 in the store
  EXPECT_TRUE(store->sessions().load("slow"));  // under a record that recovery discards
  for (int i = 1; i <= 10; ++i) {
    const auto m = sub->expect<publish_packet>();
    ASSERT_EQ(m.payload().view(), std::to_string(i));
    sub->send(puback_packet{m.packet_id, reason::success, {}, {}});
  }
  EXPECT_TRUE(sub->quiet());
  EXPECT_EQ(stored_for(*store, "slow"), 0u);
  EXPECT_EQ(eng->stats().messages_dropped.load(), 0u);
  sub->close();
  EXPECT_FALSE(store->sessions().load("slow"));
}

TEST_F(Engine, ACleanSessionsStoredMessagesAreForgottenAfterACrash) {
  options o;
  o.queue.max_messages = 1;
  o.max_inflight = 1;
  make(1, o);
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::exactly_once);
  auto pub = connect("pub", v311);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  EXPECT_EQ(stored_for(*store, "slow"), 3u);
  crash_and_restart(1, o);
  EXPECT_EQ(recovered.sessions, 0u);
  EXPECT_EQ(recovered.discarded, 1u);
  EXPECT_EQ(stored_for(*store, "slow"), 0u);
  auto again = connect("slow", v5, /*clean=*/false, /*expiry=*/60);
  EXPECT_TRUE(again->quiet());
}

TEST_F(Engine, PastMaxStoredMessagesDropsAreCountedAndLogged) {
  auto captured = std::make_shared<log::capture_sink>();
  options o;
  o.queue.max_messages = 1;
  o.max_inflight = 1;
  o.max_stored_messages = 3;
  o.log = log::logger{captured, "broker"};
  make(1, o);
  auto sub = connect("slow", v311);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect("pub", v311);
  for (std::uint16_t i = 1; i <= 10; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  EXPECT_EQ(eng->stats().stored_dropped.load(), 5u);  // 1 in flight, 1 queued, 3 stored
  EXPECT_EQ(captured->entries().size(), 1u) << captured->text();
  // It reads: the store drains to half, storing again says how many were dropped.
  for (int i = 1; i <= 4; ++i) {
    const auto m = sub->expect<publish_packet>();
    ASSERT_EQ(m.payload().view(), std::to_string(i));
    sub->send(puback_packet{m.packet_id, reason::success, {}, {}});
  }
  EXPECT_EQ(captured->text(),
            "warn broker: client slow: 3 messages wait in the store for it (limits.max_stored_messages): its QoS 1/2 "
            "messages are dropped until it reads\n"
            "warn broker: client slow: 5 QoS 1/2 messages were dropped for it; its queue in the store has room again\n");
}


// ---------------------------------------------------------------- hold_acks: the publishers wait (issue 16, fault 12)

// One worker, or two with the publisher and the subscriber on different
// ones (the hold and its release travel in batches).
class HoldAcks : public Engine, public ::testing::WithParamInterface<std::size_t> {
 protected:
  void SetUp() override {
    options o;
    o.queue.max_messages = 2;
    o.max_inflight = 2;
    o.queue_full = queue_full_policy::hold_acks;
    make(GetParam(), o);
  }
  // A client id owned by another worker than `other`'s, when there are two.
  std::string apart_from(std::string_view other) {
    for (int i = 0;; ++i) {
      auto id = "pub-" + std::to_string(i);
      if (eng->workers() == 1 || eng->owner_of(id) != eng->owner_of(other)) return id;
    }
  }
  // The first packet of type P the client got (others stay, in order).
  template <class P>
  static P take(client& c) {
    c.collect();
    for (auto it = c.in.begin(); it != c.in.end(); ++it) {
      if (!std::holds_alternative<P>(*it)) continue;
      auto p = std::get<P>(std::move(*it));
      c.in.erase(it);
      return p;
    }
    ADD_FAILURE() << "no " << name(P::type);
    return P{};
  }
  // The subscriber reads one message and acknowledges it; returns its payload.
  static std::string read_one(client& sub) {
    const auto m = take<publish_packet>(sub);
    if (m.qos == qos::exactly_once) {
      sub.send(pubrec_packet{m.packet_id, reason::success, {}, {}});
      EXPECT_EQ(take<pubrel_packet>(sub).packet_id, m.packet_id);
      sub.send(pubcomp_packet{m.packet_id, reason::success, {}, {}});
    } else {
      sub.send(puback_packet{m.packet_id, reason::success, {}, {}});
    }
    return std::string(m.payload().view());
  }
};

TEST_P(HoldAcks, AFullSubscriberHoldsThePublishersPubackUntilItReads) {
  auto sub = connect("slow", v311);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect(apart_from("slow"), v5);
  for (std::uint16_t i = 1; i <= 4; ++i) {  // 2 in flight, 2 queued: the bound
    pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
    EXPECT_EQ(pub->expect<puback_packet>().packet_id, i);
  }
  for (std::uint16_t i = 5; i <= 6; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  EXPECT_TRUE(pub->quiet());  // beyond the bound: held
  EXPECT_EQ(stored_for(*store, "slow"), 0u);  // not in the store
  EXPECT_EQ(eng->stats().acknowledgements_held.load(), 2u);
  EXPECT_EQ(read_one(*sub), "1");  // 4 queued -> 3
  EXPECT_EQ(read_one(*sub), "2");  // -> 2: still at the bound
  EXPECT_TRUE(pub->quiet());
  EXPECT_EQ(read_one(*sub), "3");  // -> 1: room
  EXPECT_EQ(pub->expect<puback_packet>().packet_id, 5);
  EXPECT_EQ(pub->expect<puback_packet>().packet_id, 6);
  for (int i = 4; i <= 6; ++i) EXPECT_EQ(read_one(*sub), std::to_string(i));  // nothing lost
  EXPECT_TRUE(sub->quiet());
  EXPECT_EQ(eng->stats().messages_dropped.load(), 0u);
  for (std::size_t w = 0; w < eng->workers(); ++w) EXPECT_EQ(eng->worker_at(w).held_acknowledgements(), 0u);
}

TEST_P(HoldAcks, ASubscriberThatLeavesReleasesWhatItHeld) {
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::at_least_once);
  auto other = connect("other", v5);  // reads: never holds anything up
  other->subscribe("t", qos::at_least_once);
  auto pub = connect(apart_from("slow"), v311);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  for (std::uint16_t i = 1; i <= 4; ++i) EXPECT_EQ(pub->expect<puback_packet>().packet_id, i);
  EXPECT_TRUE(pub->quiet());
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(read_one(*other), std::to_string(i));  // one full subscriber reads
  EXPECT_TRUE(pub->quiet());  // the other holds it still
  sub->close();
  EXPECT_EQ(pub->expect<puback_packet>().packet_id, 5);
}

TEST_P(HoldAcks, Qos2PubrecIsHeldLikewise) {
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::exactly_once);
  auto pub = connect(apart_from("slow"), v5);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::exactly_once, false, i);
  for (std::uint16_t i = 1; i <= 4; ++i) EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, i);
  EXPECT_TRUE(pub->quiet());
  pub->publish("t", "5 again", qos::exactly_once, false, 5);  // resent before its PUBREC: not routed twice
  EXPECT_TRUE(pub->quiet());
  EXPECT_EQ(read_one(*sub), "1");  // 3 queued -> 2: at the bound
  EXPECT_TRUE(pub->quiet());
  EXPECT_EQ(read_one(*sub), "2");  // -> 1: room
  EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, 5);
  pub->send(pubrel_packet{5, reason::success, {}, {}});
  EXPECT_EQ(pub->expect<pubcomp_packet>().reason_code, reason::success);
  EXPECT_EQ(read_one(*sub), "3");
  EXPECT_EQ(read_one(*sub), "4");
  EXPECT_EQ(read_one(*sub), "5");
  EXPECT_TRUE(sub->quiet());
}

TEST_P(HoldAcks, APublisherThatLeavesWhileHeldIsForgotten) {
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect(apart_from("slow"), v5);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  pub->close();
  pub->ep.reset();  // destroyed while its acknowledgement is held
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(read_one(*sub), std::to_string(i));  // delivered all the same
  for (std::size_t w = 0; w < eng->workers(); ++w) EXPECT_EQ(eng->worker_at(w).held_acknowledgements(), 0u);
}

// Exactly once across a reconnect: a persistent publisher that leaves while
// its PUBREC is held has that QoS 2 message recorded as received, so its
// resend on the next connection is answered, not routed again.
TEST_P(HoldAcks, AQos2PublisherThatLeavesWhileHeldIsNotDeliveredTwice) {
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::exactly_once);
  auto pub = connect(apart_from("slow"), v5, /*clean=*/true, /*expiry=*/60);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::exactly_once, false, i);
  for (std::uint16_t i = 1; i <= 4; ++i) EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, i);
  EXPECT_TRUE(pub->quiet());  // 5's PUBREC is held
  pub->close();
  auto again = connect(apart_from("slow"), v5, /*clean=*/false, /*expiry=*/60);
  publish_packet resend("t", shared_bytes::copy("5"), qos::exactly_once, false);
  resend.packet_id = 5;
  resend.dup = true;
  again->send(resend);
  EXPECT_EQ(take<pubrec_packet>(*again).packet_id, 5);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(read_one(*sub), std::to_string(i));
  EXPECT_TRUE(sub->quiet());  // once
}

INSTANTIATE_TEST_SUITE_P(Workers, HoldAcks, ::testing::Values(1u, 2u));

}  // namespace
}  // namespace tern::engine
