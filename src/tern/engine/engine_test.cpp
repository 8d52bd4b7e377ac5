// Engine tests: raw packets in, decoded packets out, on a manual clock, with
// one and two workers. No sockets: the network layer has its own tests.
// Here: CONNECT and takeover, routing, retained messages, wills, expiry,
// shared subscriptions, limits, hooks, $SYS.
#include "tern/engine/engine_test_support.hpp"

namespace tern::engine {
namespace {

using namespace test_support;
using namespace std::chrono_literals;

TEST_F(Engine, ConnectAcceptsBothVersions) {
  make();
  auto a = connect("a", v311);
  auto b = connect("b", v5);
  EXPECT_EQ(eng->stats().clients_connected.load(), 2u);
}

TEST_F(Engine, RoutesEveryQosBetweenVersions) {
  make();
  auto sub = connect("sub", v311);
  sub->subscribe("s/#", qos::exactly_once);
  auto pub = connect("pub", v5);
  pub->publish("s/0", "zero");
  pub->publish("s/1", "one", qos::at_least_once, false, 7);
  EXPECT_EQ(pub->expect<puback_packet>().packet_id, 7);
  pub->publish("s/2", "two", qos::exactly_once, false, 8);
  EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, 8);
  pubrel_packet rel;
  rel.packet_id = 8;
  pub->send(rel);
  EXPECT_EQ(pub->expect<pubcomp_packet>().packet_id, 8);

  auto m0 = sub->expect<publish_packet>();
  EXPECT_EQ(m0.payload().view(), "zero");
  EXPECT_EQ(m0.qos, qos::at_most_once);
  auto m1 = sub->expect<publish_packet>();
  EXPECT_EQ(m1.qos, qos::at_least_once);
  auto m2 = sub->expect<publish_packet>();
  EXPECT_EQ(m2.topic(), "s/2");
  EXPECT_EQ(m2.qos, qos::exactly_once);
}

TEST_F(Engine, PubackSaysNoMatchingSubscribersOn5) {
  make();
  auto pub = connect("pub", v5);
  pub->publish("nobody/listens", "x", qos::at_least_once);
  EXPECT_EQ(pub->expect<puback_packet>().reason_code, reason::no_matching_subscribers);
}

TEST_F(Engine, GrantedQosIsTheMinimum) {
  make();
  auto sub = connect("sub", v5);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect("pub", v5);
  pub->publish("t", "x", qos::exactly_once);
  (void)pub->expect<pubrec_packet>();
  EXPECT_EQ(sub->expect<publish_packet>().qos, qos::at_least_once);
}

TEST_F(Engine, RetainedMessagesAreStoredSentOnSubscribeAndCleared) {
  make();
  auto pub = connect("pub", v311);
  pub->publish("r/1", "kept", qos::at_most_once, true);
  auto sub = connect("sub", v5);
  sub->subscribe("r/#");
  auto m = sub->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "kept");
  EXPECT_TRUE(m.retain);
  pub->publish("r/1", "", qos::at_most_once, true);  // clears it
  auto cleared = sub->expect<publish_packet>();       // forwarded live, retain off
  EXPECT_FALSE(cleared.retain);
  auto sub2 = connect("sub2", v5);
  sub2->subscribe("r/#");
  EXPECT_TRUE(sub2->quiet());
}

TEST_F(Engine, RetainHandlingAndRetainAsPublished) {
  make();
  auto pub = connect("pub");
  pub->publish("h", "x", qos::at_most_once, true);
  auto sub = connect("sub");
  subscribe_options never;
  never.retain_handling = retain_handling::dont_send;
  sub->subscribe("h", qos::at_most_once, 0, never);
  EXPECT_TRUE(sub->quiet());
  subscribe_options if_new;
  if_new.retain_handling = retain_handling::send_if_new;
  if_new.retain_as_published = true;
  sub->subscribe("h/#", qos::at_most_once, 0, if_new);
  EXPECT_TRUE(sub->expect<publish_packet>().retain);  // "h/#" matches "h"
  sub->subscribe("h/#", qos::at_most_once, 0, if_new);  // not new: nothing
  EXPECT_TRUE(sub->quiet());
  pub->publish("h", "live", qos::at_most_once, true);
  // Two subscriptions match: one message, retain kept by the RAP subscription.
  auto m = sub->expect<publish_packet>();
  EXPECT_TRUE(m.retain);
  EXPECT_TRUE(sub->quiet());
}

TEST_F(Engine, NoLocalSkipsTheClientsOwnMessages) {
  make();
  auto c = connect("c");
  subscribe_options nl;
  nl.no_local = true;
  c->subscribe("loop", qos::at_most_once, 0, nl);
  c->publish("loop", "mine");
  EXPECT_TRUE(c->quiet());
}

TEST_F(Engine, SubscriptionIdentifiersAreForwarded) {
  make();
  auto sub = connect("sub");
  sub->subscribe("a/+", qos::at_most_once, 11);
  sub->subscribe("a/#", qos::at_most_once, 22);
  auto pub = connect("pub");
  pub->publish("a/b", "x");
  auto m = sub->expect<publish_packet>();
  auto ids = m.props().subscription_identifiers();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{11, 22}));
  EXPECT_TRUE(sub->quiet());
}

TEST_F(Engine, WillIsPublishedOnAbnormalCloseOnly) {
  make();
  auto watcher = connect("w");
  watcher->subscribe("wills/#");
  connect_packet c;
  c.client_id = "dies";
  c.will = will_message{"wills/dies", shared_bytes::copy("gone"), qos::at_most_once, false, {}};
  auto dying = open(c);
  (void)dying->expect<connack_packet>();
  dying->close();
  EXPECT_EQ(watcher->expect<publish_packet>().payload().view(), "gone");

  c.client_id = "leaves";
  auto leaving = open(c);
  (void)leaving->expect<connack_packet>();
  leaving->send(disconnect_packet{});
  leaving->close();
  EXPECT_TRUE(watcher->quiet());

  c.client_id = "asks";
  auto asking = open(c);
  (void)asking->expect<connack_packet>();
  disconnect_packet with_will;
  with_will.reason_code = reason::disconnect_with_will_message;
  asking->send(with_will);
  asking->close();
  EXPECT_EQ(watcher->expect<publish_packet>().topic(), "wills/dies");
}

TEST_F(Engine, WillDelayWaitsAndIsCancelledByAReconnect) {
  make();
  auto watcher = connect("w");
  watcher->subscribe("wills/#");
  connect_packet c;
  c.client_id = "slow";
  c.clean_start = false;
  c.props = properties::builder{}.add<property_id::session_expiry_interval>(60).build();
  c.will = will_message{"wills/slow", shared_bytes::copy("late"), qos::at_most_once, false,
                        properties::builder{}.add<property_id::will_delay_interval>(5).build()};
  auto a = open(c);
  (void)a->expect<connack_packet>();
  a->close();
  advance(3s);
  EXPECT_TRUE(watcher->quiet());
  advance(3s);
  auto m = watcher->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "late");
  EXPECT_FALSE(m.props().find(property_id::will_delay_interval));

  auto b = open(c);  // will again, delayed
  (void)b->expect<connack_packet>();
  b->close();
  advance(2s);
  auto back = open(c);  // reconnects in time: no will
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  advance(10s);
  EXPECT_TRUE(watcher->quiet());
}

TEST_F(Engine, SessionTakeoverDisconnectsTheOldConnection) {
  make();
  auto first = connect("same", v5);
  auto second = connect("same", v5);
  auto d = first->expect<disconnect_packet>();
  EXPECT_EQ(d.reason_code, reason::session_taken_over);
  EXPECT_TRUE(first->ep->closing());
  EXPECT_EQ(eng->stats().clients_connected.load(), 1u);
  // The new connection works.
  second->subscribe("x");
  second->publish("x", "hi");
  EXPECT_EQ(second->expect<publish_packet>().payload().view(), "hi");
}

TEST_F(Engine, PersistentSessionQueuesWhileOfflineAndResumes) {
  make();
  auto sub = connect("keep", v5, false, 300);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  auto pub = connect("pub");
  pub->publish("q", "while away", qos::at_least_once);
  (void)pub->expect<puback_packet>();
  connect_packet again;
  again.client_id = "keep";
  again.clean_start = false;
  again.props = properties::builder{}.add<property_id::session_expiry_interval>(300).build();
  auto back = open(again);
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  auto m = back->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "while away");
  EXPECT_EQ(m.qos, qos::at_least_once);
}

TEST_F(Engine, V311PersistentSessionWithCleanSessionFalse) {
  make();
  auto sub = connect("old", v311, false);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  auto pub = connect("pub", v311);
  pub->publish("q", "m", qos::at_least_once);
  connect_packet again;
  again.version = v311;
  again.client_id = "old";
  again.clean_start = false;
  auto back = open(again);
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "m");
}

TEST_F(Engine, OfflineQueueIsBoundedAndCountsDrops) {
  options o;
  o.queue.max_messages = 2;
  o.max_stored_messages = 2;
  make(1, o);
  auto sub = connect("slow", v5, false, 300);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 3; ++i) {
    pub->publish("q", "m" + std::to_string(i), qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  EXPECT_EQ(eng->stats().messages_dropped.load(), 1u);
  connect_packet again;
  again.client_id = "slow";
  again.clean_start = false;
  again.props = properties::builder{}.add<property_id::session_expiry_interval>(300).build();
  auto back = open(again);
  (void)back->expect<connack_packet>();
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "m1");
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "m2");
  EXPECT_TRUE(back->quiet());
}

TEST_F(Engine, MessageExpiryCountsDownWhileQueued) {
  make();
  auto sub = connect("away", v5, false, 300);
  sub->subscribe("e", qos::at_least_once);
  sub->close();
  auto pub = connect("pub");
  publish_packet p("e", shared_bytes::copy("soon stale"), qos::at_least_once);
  p.packet_id = 1;
  p.set_props(properties::builder{}.add<property_id::message_expiry_interval>(10).build());
  pub->send(p);
  p.packet_id = 2;
  p.set_props(properties::builder{}.add<property_id::message_expiry_interval>(2).build());
  p.set_payload(shared_bytes::copy("stale"));
  pub->send(p);
  advance(4s);
  connect_packet again;
  again.client_id = "away";
  again.clean_start = false;
  again.props = properties::builder{}.add<property_id::session_expiry_interval>(300).build();
  auto back = open(again);
  (void)back->expect<connack_packet>();
  auto m = back->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "soon stale");
  EXPECT_EQ(m.props().get<property_id::message_expiry_interval>(), 6u);
  EXPECT_TRUE(back->quiet());  // the 2 s message expired in the queue
}

TEST_F(Engine, SessionExpires) {
  make();
  auto sub = connect("brief", v5, false, 10);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  EXPECT_EQ(eng->worker_at(0).sessions(), 1u);
  advance(11s);
  EXPECT_EQ(eng->worker_at(0).sessions(), 0u);
  connect_packet again;
  again.client_id = "brief";
  again.clean_start = false;
  auto back = open(again);
  EXPECT_FALSE(back->expect<connack_packet>().session_present);
}

TEST_F(Engine, CleanStartDiscardsTheOldSession) {
  make();
  auto sub = connect("c", v5, false, 300);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  auto again = connect("c", v5, true);
  auto pub = connect("pub");
  pub->publish("q", "x", qos::at_least_once);
  EXPECT_TRUE(again->quiet());
}

TEST_F(Engine, SharedSubscriptionDeliversToOneMemberInTurn) {
  make();
  auto a = connect("a");
  auto b = connect("b");
  a->subscribe("$share/g/jobs/#", qos::at_least_once);
  b->subscribe("$share/g/jobs/#", qos::at_least_once);
  auto pub = connect("pub");
  for (int i = 0; i < 4; ++i) {
    pub->publish("jobs/" + std::to_string(i), "x", qos::at_least_once, false, static_cast<std::uint16_t>(i + 1));
    (void)pub->expect<puback_packet>();
  }
  int got_a = 0, got_b = 0;
  a->collect();
  b->collect();
  got_a = static_cast<int>(a->in.size());
  got_b = static_cast<int>(b->in.size());
  EXPECT_EQ(got_a, 2);
  EXPECT_EQ(got_b, 2);
}

TEST_F(Engine, SharedMessagesGoToAnotherMemberWhenOneLeaves) {
  make(2);
  auto a = connect("member-a");
  auto b = connect("member-b");
  a->subscribe("$share/g/work", qos::at_least_once);
  b->subscribe("$share/g/work", qos::at_least_once);
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 4; ++i) {
    pub->publish("work", "job " + std::to_string(i), qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  a->collect();
  b->collect();
  ASSERT_EQ(a->in.size(), 2u);
  ASSERT_EQ(b->in.size(), 2u);
  // a acknowledges nothing and its session ends: its two jobs go to b.
  a->close();
  b->collect();
  ASSERT_EQ(b->in.size(), 4u);
  std::set<std::string> jobs;
  for (auto& p : b->in) jobs.insert(std::string(std::get<publish_packet>(p).payload().view()));
  EXPECT_EQ(jobs.size(), 4u);
}

TEST_F(Engine, QosZeroToACongestedSubscriberIsDroppedAndCounted) {
  options o;
  o.max_output_backlog = 1000;
  make(1, o);
  auto slow = connect("slow");
  slow->subscribe("flood", qos::at_least_once);
  auto pub = connect("pub");
  for (int i = 0; i < 20; ++i) pub->publish("flood", std::string(100, 'x'));  // slow never reads
  EXPECT_LE(slow->ep->output().size(), 1000u + 200u);
  EXPECT_GT(eng->stats().messages_dropped.load(), 0u);
}

TEST_F(Engine, DisconnectCannotMakeAnEndingSessionPersist) {
  make();
  auto watcher = connect("w");
  watcher->subscribe("wills/#");
  connect_packet c;
  c.client_id = "sly";
  c.will = will_message{"wills/sly", shared_bytes::copy("gone"), qos::at_most_once, false, {}};
  auto cl = open(c);
  (void)cl->expect<connack_packet>();
  disconnect_packet d;
  d.props = properties::builder{}.add<property_id::session_expiry_interval>(60).build();
  cl->send(d);
  EXPECT_EQ(cl->expect<disconnect_packet>().reason_code, reason::protocol_error);
  EXPECT_EQ(watcher->expect<publish_packet>().topic(), "wills/sly");  // not a valid DISCONNECT
}

TEST_F(Engine, InflightWindowIsTheSmallerOfConfigAndReceiveMaximum) {
  options o;
  o.max_inflight = 2;
  make(1, o);
  auto sub = connect("sub");  // Receive Maximum 65535
  sub->subscribe("w", qos::at_least_once);
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 5; ++i) {
    pub->publish("w", "m", qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  sub->collect();
  EXPECT_EQ(sub->in.size(), 2u);  // the rest wait in the session's queue
  auto first = std::get<publish_packet>(sub->in.front());
  sub->in.clear();
  puback_packet ack;
  ack.packet_id = first.packet_id;
  sub->send(ack);
  sub->collect();
  EXPECT_EQ(sub->in.size(), 1u);  // one acknowledged, one more goes out
}

TEST_F(Engine, HooksRefuseConnect) {
  make();
  connect_packet c;
  c.client_id = "x";
  c.username = "bad";
  auto cl = open(c);
  EXPECT_EQ(cl->expect<connack_packet>().reason_code, reason::bad_user_name_or_password);
  EXPECT_TRUE(cl->ep->closing());
  c.version = v311;
  auto old = open(c);
  // 3.1.1 return code 4, mapped back to 0x86 by the decoder.
  EXPECT_EQ(old->expect<connack_packet>().reason_code, reason::bad_user_name_or_password);
}

TEST_F(Engine, HooksRedirectAndDiscardPublishes) {
  make();
  hooks_.redirect_from = "raw";
  hooks_.redirect_to = "clean";
  hooks_.discard_topic = "spam";
  auto sub = connect("sub");
  sub->subscribe("#");
  auto pub = connect("pub");
  pub->publish("raw", "x");
  EXPECT_EQ(sub->expect<publish_packet>().topic(), "clean");
  pub->publish("spam", "x", qos::at_least_once);
  EXPECT_EQ(pub->expect<puback_packet>().reason_code, reason::success);
  EXPECT_TRUE(sub->quiet());
}

TEST_F(Engine, HooksSeeTheClientsUserNameAndPeer) {
  make();
  auto anonymous = connect("anon");
  anonymous->publish("t", "x");
  connect_packet c;
  c.client_id = "named";
  c.username = "alice";
  c.clean_start = false;
  c.props = properties::builder{}.add<property_id::session_expiry_interval>(60).build();
  c.will = will_message{"wills/named", shared_bytes::copy("late"), qos::at_most_once, false,
                        properties::builder{}.add<property_id::will_delay_interval>(5).build()};
  auto named = open(c);
  (void)named->expect<connack_packet>();
  named->publish("t", "x");
  named->close();
  advance(6s);  // the delayed will: its client is gone, its user name stays
  EXPECT_EQ(hooks_.publishers, (std::vector<std::string>{"anon|-|127.0.0.1:50000", "named|alice|127.0.0.1:50000",
                                                          "named|alice|"}));
}

TEST_F(Engine, HooksAndConfigJudgeSubscriptions) {
  options o;
  o.denied_filters = {"secret/#"};
  make(1, o);
  hooks_.subscribe_cap = qos::at_least_once;
  auto c = connect("c");
  subscribe_packet s;
  s.packet_id = 3;
  s.entries = {{"forbidden", {qos::at_most_once}}, {"ok", {qos::exactly_once}}, {"secret/x", {qos::at_most_once}},
               {"bad/#/filter", {qos::at_most_once}}};
  c->send(s);
  auto ack = c->expect<suback_packet>();
  EXPECT_EQ(ack.reason_codes, (std::vector<reason>{reason::not_authorized, reason::granted_qos_1,
                                                   reason::not_authorized, reason::topic_filter_invalid}));
  auto old = connect("old", v311);
  old->send(s);
  EXPECT_EQ(old->expect<suback_packet>().reason_codes,
            (std::vector<reason>{reason::unspecified_error, reason::granted_qos_1, reason::unspecified_error,
                                 reason::unspecified_error}));
}

TEST_F(Engine, UnsubscribeStopsDeliveryAndReportsUnknownFilters) {
  make();
  auto c = connect("c");
  c->subscribe("u");
  unsubscribe_packet u;
  u.packet_id = 4;
  u.filters = {"u", "never"};
  c->send(u);
  EXPECT_EQ(c->expect<unsuback_packet>().reason_codes,
            (std::vector<reason>{reason::success, reason::no_subscription_existed}));
  c->publish("u", "x");
  EXPECT_TRUE(c->quiet());
}

// The same topic routed again after each kind of index change: routing
// remembers what a topic matched until the index changes (route_cache_).
TEST_F(Engine, RoutingFollowsEveryChangeOfTheIndex) {
  make();
  auto a = connect("a");
  auto b = connect("b");
  auto pub = connect("pub");
  auto got = [](client& c) {
    c.collect();
    std::vector<std::string> payloads;
    for (auto& p : c.in) payloads.emplace_back(std::get<publish_packet>(p).payload().view());
    c.in.clear();
    return payloads;
  };
  using list = std::vector<std::string>;
  a->subscribe("t/x");
  pub->publish("t/x", "1");
  pub->publish("t/x", "2");  // from what was remembered
  EXPECT_EQ(got(*a), (list{"1", "2"}));
  b->subscribe("t/+");  // a new filter matching the topic
  pub->publish("t/x", "3");
  EXPECT_EQ(got(*a), (list{"3"}));
  EXPECT_EQ(got(*b), (list{"3"}));
  subscribe_options nl;
  nl.no_local = true;
  pub->subscribe("t/#", qos::at_most_once, 0, nl);  // a match the publisher itself does not get
  pub->publish("t/x", "4");
  EXPECT_EQ(got(*a), (list{"4"}));
  EXPECT_EQ(got(*b), (list{"4"}));
  EXPECT_TRUE(pub->quiet());
  a->subscribe("t/x", qos::at_least_once);  // the same filter with new options
  pub->publish("t/x", "5", qos::at_least_once, false, 7);
  (void)pub->expect<puback_packet>();
  a->collect();
  ASSERT_EQ(a->in.size(), 1u);
  EXPECT_EQ(std::get<publish_packet>(a->in.front()).qos, qos::at_least_once);
  a->in.clear();
  EXPECT_EQ(got(*b), (list{"5"}));
  unsubscribe_packet u;
  u.packet_id = 2;
  u.filters = {"t/+"};
  b->send(u);
  (void)b->expect<unsuback_packet>();
  pub->publish("t/x", "6");
  EXPECT_EQ(got(*a), (list{"6"}));
  EXPECT_TRUE(b->quiet());
  a->close();  // a clean session ends: its subscriptions leave the index
  auto a2 = connect("a");
  pub->publish("t/x", "7");
  EXPECT_TRUE(a2->quiet());
  a2->subscribe("t/x");
  pub->publish("t/x", "8");
  EXPECT_EQ(got(*a2), (list{"8"}));
}

TEST_F(Engine, MaximumKeepAliveIsAnnounced) {
  options o;
  o.max_keep_alive = 30;
  make(1, o);
  connect_packet c;
  c.client_id = "k";
  c.keep_alive = 600;
  auto cl = open(c);
  auto ack = cl->expect<connack_packet>();
  EXPECT_EQ(ack.props.get<property_id::server_keep_alive>(), 30u);
}

TEST_F(Engine, EmptyClientIdIsAssigned) {
  make(2);
  connect_packet c;
  c.client_id = "";
  auto cl = open(c, 1);
  auto ack = cl->expect<connack_packet>();
  auto id = ack.props.get<property_id::assigned_client_identifier>();
  ASSERT_TRUE(id);
  EXPECT_EQ(eng->owner_of(*id), 1u);  // the session stays on the accepting worker
  c.version = v311;
  c.clean_start = false;
  auto refused = open(c);
  EXPECT_EQ(refused->expect<connack_packet>().reason_code, reason::client_identifier_not_valid);
}

// MQTT-4.12.0-1: a server that does not support the CONNECT's
// Authentication Method MAY answer 0x8C and MUST close; tern has no enhanced
// authentication (custom authentication is the on_connect hook's).
TEST_F(Engine, AnAuthenticationMethodIsRefusedWithBadAuthenticationMethod) {
  make(1);
  connect_packet c;
  c.client_id = "scram";
  c.props = properties::builder{}.add<property_id::authentication_method>("SCRAM-SHA-1").build();
  auto refused = open(c);
  EXPECT_EQ(refused->expect<connack_packet>().reason_code, reason::bad_authentication_method);
  EXPECT_EQ(eng->stats().clients_connected.load(), 0u);
}

TEST_F(Engine, TwoWorkersRouteThroughBatches) {
  make(2);
  std::vector<std::unique_ptr<client>> subs;
  for (int i = 0; i < 8; ++i) {
    subs.push_back(connect("sub-" + std::to_string(i)));
    subs.back()->subscribe("fan/out", qos::at_least_once);
  }
  auto pub = connect("pub");
  pub->publish("fan/out", "all", qos::at_least_once);
  (void)pub->expect<puback_packet>();
  std::set<std::size_t> owners;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(subs[static_cast<std::size_t>(i)]->expect<publish_packet>().payload().view(), "all");
    owners.insert(eng->owner_of("sub-" + std::to_string(i)));
  }
  EXPECT_EQ(owners.size(), 2u);  // both workers took part
}

TEST_F(Engine, SysTopicsArePublished) {
  options o;
  make(1, o);
  eng.reset();
  o.sys_interval = 5s;
  eng = std::make_unique<engine>(o, hooks_, *store, 1, now);
  auto c = connect("c");
  c->subscribe("$SYS/broker/clients/connected");
  now += 6s;
  eng->worker_at(0).tick(now);
  auto m = c->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "1");
}

}  // namespace
}  // namespace tern::engine
