// The protocol state machine, the QoS flows: inbound and outbound PUBLISH
// with their acknowledgements (right and wrong), the windows, resending on a
// resumed session. Real encoded bytes in, the exact packets out and the exact
// handler calls, in order, on a manual clock.
#include "tern/session/connection_test_support.hpp"

namespace tern::session {
namespace {

using namespace conn_test;
using namespace std::chrono_literals;

// ================================================================ inbound PUBLISH

TEST(InboundPublish, Qos0IsDelivered) {
  server s(v5);
  s.open();
  s.feed(pub("a/b", "hello"));
  EXPECT_EQ(s.calls(), strings{"publish a/b q0 'hello'"});
  EXPECT_TRUE(s.conn.output().empty());
}

TEST(InboundPublish, Qos1IsAcknowledged) {
  server s(v311);
  s.open();
  s.feed(pub("a/b", "hello", qos::at_least_once, 7));
  EXPECT_EQ(s.calls(), strings{"publish a/b q1 id=7 'hello'"});
  EXPECT_EQ(s.out(), strings{"PUBACK 7 rc=0x00"});
}

TEST(InboundPublish, Qos2IsDeliveredOnceEvenWhenResent) {
  server s(v5);
  s.open();
  s.feed(pub("a/b", "m", qos::exactly_once, 3));
  EXPECT_EQ(s.calls(), strings{"publish a/b q2 id=3 'm'"});
  EXPECT_EQ(s.out(), strings{"PUBREC 3 rc=0x00"});
  EXPECT_TRUE(s.st.incoming_qos2(3));

  auto again = pub("a/b", "m", qos::exactly_once, 3);
  again.dup = true;
  s.feed(again);
  EXPECT_TRUE(s.calls().empty());
  EXPECT_EQ(s.out(), strings{"PUBREC 3 rc=0x00"});

  s.feed(pubrel_packet{3, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBCOMP 3 rc=0x00"});
  EXPECT_FALSE(s.st.incoming_qos2(3));

  s.feed(pub("a/b", "new", qos::exactly_once, 3));  // the id is free: a new message
  EXPECT_EQ(s.calls(), strings{"publish a/b q2 id=3 'new'"});
}

TEST(InboundPublish, Qos2SurvivesAReconnect) {
  state st;
  {
    recorder h;
    connection c(role::server, h, {}, t0);
    h.connect_hook = [&](connect_packet&) { c.accept(st, {}, t0); };
    auto b = encode(connect_msg(v5), v5);
    c.receive(b, t0);
    b = encode(pub("a", "m", qos::exactly_once, 4), v5);
    c.receive(b, t0);
    c.transport_closed({std::make_error_code(std::errc::connection_reset)});
  }
  server s(v5);
  s.st = st;
  s.feed(connect_msg(v5, 60, false));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  s.out();
  s.calls();
  auto again = pub("a", "m", qos::exactly_once, 4);
  again.dup = true;
  s.feed(again);
  EXPECT_TRUE(s.calls().empty());
  EXPECT_EQ(s.out(), strings{"PUBREC 4 rc=0x00"});
}

TEST(InboundPublish, PubrelForAnUnknownId) {
  {
    server s(v5);
    s.open();
    s.feed(pubrel_packet{8, {}, {}, {}});
    EXPECT_EQ(s.out(), strings{"PUBCOMP 8 rc=0x92"});
    EXPECT_FALSE(s.conn.closing());
  }
  {
    server s(v311);
    s.open();
    s.feed(pubrel_packet{8, {}, {}, {}});
    EXPECT_EQ(s.out(), strings{"PUBCOMP 8 rc=0x00"});
  }
}

TEST(InboundPublish, ManualAcknowledgement) {
  server s(v5, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("q1", "a", qos::at_least_once, 1));
  s.feed(pub("q2", "b", qos::exactly_once, 2));
  EXPECT_EQ(s.calls(), (strings{"publish q1 q1 id=1 'a'", "publish q2 q2 id=2 'b'"}));
  EXPECT_TRUE(s.conn.output().empty());

  auto dup2 = pub("q2", "b", qos::exactly_once, 2);
  dup2.dup = true;
  s.feed(dup2);  // not acknowledged yet: neither delivered again nor answered
  EXPECT_TRUE(s.calls().empty());
  EXPECT_TRUE(s.conn.output().empty());

  s.conn.acknowledge(2);
  s.conn.acknowledge(1, reason::no_matching_subscribers);
  s.conn.acknowledge(1);   // answered already: ignored
  s.conn.acknowledge(99);  // unknown: ignored
  EXPECT_EQ(s.out(), (strings{"PUBREC 2 rc=0x00", "PUBACK 1 rc=0x10"}));
  EXPECT_TRUE(s.st.incoming_qos2(2));

  s.feed(dup2);  // acknowledged now: answered again, still not delivered
  EXPECT_TRUE(s.calls().empty());
  EXPECT_EQ(s.out(), strings{"PUBREC 2 rc=0x00"});
}

TEST(InboundPublish, ManualRefusalOfQos2EndsTheFlow) {
  server s(v5, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "a", qos::exactly_once, 5));
  s.conn.acknowledge(5, reason::not_authorized);
  EXPECT_EQ(s.out(), strings{"PUBREC 5 rc=0x87"});
  EXPECT_FALSE(s.st.incoming_qos2(5));
  s.feed(pub("t", "b", qos::exactly_once, 5));  // a new message with the free id
  EXPECT_EQ(s.calls(), (strings{"publish t q2 id=5 'a'", "publish t q2 id=5 'b'"}));
}

TEST(InboundPublish, AcknowledgeAfterCloseStillRecordsQos2) {
  server s(v5, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "a", qos::exactly_once, 6));
  s.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  s.conn.acknowledge(6);
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.st.incoming_qos2(6));  // the resend on the next connection is not delivered again
}

TEST(InboundPublish, PubrelBeforePubrecIsAProtocolError) {
  server s(v5, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "a", qos::exactly_once, 6));
  s.feed(pubrel_packet{6, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x82"});
}

TEST(InboundPublish, AcknowledgeInsideOnPublishWithAutoAcknowledge) {
  server s(v5);
  s.open();
  s.h.publish_hook = [&](const publish_packet& m) { s.conn.acknowledge(m.packet_id, reason::quota_exceeded); };
  s.feed(pub("t", "a", qos::at_least_once, 1));
  EXPECT_EQ(s.out(), strings{"PUBACK 1 rc=0x97"});  // once
}

TEST(InboundPublish, ReceiveMaximumExceeded) {
  server s(v5, {.receive_maximum = 2, .auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "1", qos::at_least_once, 1));
  s.feed(pub("t", "2", qos::exactly_once, 2));
  s.feed(pub("t", "0", qos::at_most_once));  // QoS 0 does not count
  s.feed(pub("t", "3", qos::at_least_once, 3));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x93"});
  EXPECT_EQ(s.calls(),
            (strings{"publish t q1 id=1 '1'", "publish t q2 id=2 '2'", "publish t q0 '0'", "closed 0x93"}));
}

TEST(InboundPublish, ReceiveMaximumFreesOnAcknowledgement) {
  server s(v5, {.receive_maximum = 1, .auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "1", qos::at_least_once, 1));
  s.conn.acknowledge(1);
  s.feed(pub("t", "2", qos::at_least_once, 2));
  EXPECT_EQ(s.out(), strings{"PUBACK 1 rc=0x00"});
  EXPECT_FALSE(s.conn.closing());
}

TEST(InboundPublish, ReceiveMaximumCountsQos2UntilPubcomp) {
  server s(v5, {.receive_maximum = 1});
  s.open();
  s.feed(pub("t", "1", qos::exactly_once, 1));
  s.feed(pubrel_packet{1, {}, {}, {}});
  s.feed(pub("t", "2", qos::exactly_once, 2));
  EXPECT_EQ(s.out(), (strings{"PUBREC 1 rc=0x00", "PUBCOMP 1 rc=0x00", "PUBREC 2 rc=0x00"}));
  s.feed(pub("t", "3", qos::exactly_once, 3));  // 2 is still waiting for PUBREL
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x93"});
}

TEST(InboundPublish, ReceiveMaximumIsNotEnforcedOnV311) {
  server s(v311, {.receive_maximum = 1, .auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "1", qos::at_least_once, 1));
  s.feed(pub("t", "2", qos::at_least_once, 2));
  EXPECT_FALSE(s.conn.closing());
}

TEST(InboundPublish, QosAboveMaximum) {
  server s(v5, {.maximum_qos = qos::at_least_once});
  s.open();
  s.feed(pub("t", "1", qos::exactly_once, 1));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x9b"});
  EXPECT_EQ(s.calls(), strings{"closed 0x9b"});
}

TEST(InboundPublish, RetainNotAvailable) {
  server s(v5, {.retain_available = false});
  s.open();
  auto m = pub("t", "1");
  m.retain = true;
  s.feed(m);
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x9a"});
  EXPECT_EQ(s.calls(), strings{"closed 0x9a"});
}

TEST(InboundPublish, SubscriptionIdentifierFromAClient) {
  server s(v5);
  s.open();
  s.feed(pub("t", "1", qos::at_most_once, 0, props_of({{property_id::subscription_identifier, 4}})));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x82"});
}

TEST(InboundPublish, SubscriptionIdentifierToAClientIsFine) {
  client c(v5);
  c.open();
  c.feed(pub("t", "1", qos::at_most_once, 0, props_of({{property_id::subscription_identifier, 4}})));
  EXPECT_EQ(c.calls(), strings{"publish t q0 '1' {0b=4}"});
}

TEST(InboundPublish, TopicAliasesAreResolvedAndRemoved) {
  server s(v5, {.topic_alias_maximum = 5});
  s.open();
  auto user = properties::builder{}.user_property("k", "v").add<property_id::topic_alias>(1).build();
  s.feed(pub("a/b", "1", qos::at_most_once, 0, user));
  s.feed(pub("", "2", qos::at_least_once, 1, props_of({{property_id::topic_alias, 1}})));
  s.feed(pub("c", "3", qos::at_most_once, 0, props_of({{property_id::topic_alias, 1}})));  // remapped
  s.feed(pub("", "4", qos::at_most_once, 0, props_of({{property_id::topic_alias, 1}})));
  s.feed(pub("", "5", qos::at_most_once, 0, props_of({{property_id::topic_alias, 5}})));
  EXPECT_EQ(s.calls(), (strings{"publish a/b q0 '1' {26=k:v}", "publish a/b q1 id=1 '2'", "publish c q0 '3'",
                                "publish c q0 '4'", "closed 0x82"}));
  EXPECT_EQ(s.out(), (strings{"PUBACK 1 rc=0x00", "DISCONNECT rc=0x82"}));  // alias 5 was never set
}

TEST(InboundPublish, TopicAliasAboveTheMaximum) {
  server s(v5, {.topic_alias_maximum = 2});
  s.open();
  s.feed(pub("a", "1", qos::at_most_once, 0, props_of({{property_id::topic_alias, 3}})));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x94"});
  EXPECT_EQ(s.calls(), strings{"closed 0x94"});
}

TEST(InboundPublish, TopicAliasWhenNoneAllowed) {
  server s(v5);
  s.open();
  s.feed(pub("a", "1", qos::at_most_once, 0, props_of({{property_id::topic_alias, 1}})));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x94"});
}

TEST(InboundPublish, TopicAliasZero) {
  server s(v5, {.topic_alias_maximum = 2});
  s.open();
  // The builder does not judge: a Topic Alias of 0 goes on the wire.
  s.feed(pub("a", "1", qos::at_most_once, 0, props_of({{property_id::topic_alias, 0}})));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x94"});
  EXPECT_EQ(s.calls(), strings{"closed 0x94"});
}

TEST(InboundPublish, MalformedPacketAfterConnectV5AndV311) {
  {
    server s(v5);
    s.open();
    s.feed_bytes(from_hex("3602 0001"));  // QoS 3
    EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x81"});
    EXPECT_EQ(s.calls(), strings{"closed 0x81"});
  }
  {
    server s(v311);
    s.open();
    s.feed_bytes(from_hex("3602 0001"));
    EXPECT_TRUE(s.conn.output().empty());
    EXPECT_EQ(s.calls(), strings{"closed 0x81"});
  }
}

// ================================================================ outbound PUBLISH

TEST(OutboundPublish, Qos0GoesAtOnce) {
  server s(v5);
  s.open();
  EXPECT_EQ(s.conn.publish(pub("t", "x"), s.now), enqueue_result::queued);
  EXPECT_EQ(s.out(), strings{"PUBLISH t q0 'x'"});
  EXPECT_TRUE(s.st.queue().empty());
}

TEST(OutboundPublish, Qos1Flow) {
  server s(v5);
  s.open();
  EXPECT_EQ(s.conn.publish(pub("t", "x", qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.out(), strings{"PUBLISH t q1 id=1 'x'"});
  EXPECT_EQ(s.st.inflight(), 1u);
  s.feed(puback_packet{1, reason::no_matching_subscribers, {}, {}});
  EXPECT_EQ(s.calls(), strings{"delivered t id=1 rc=0x10"});
  EXPECT_EQ(s.st.inflight(), 0u);
  EXPECT_FALSE(s.st.packet_id_in_use(1));
}

TEST(OutboundPublish, Qos2Flow) {
  server s(v311);
  s.open();
  (void)s.conn.publish(pub("t", "x", qos::exactly_once), s.now);
  EXPECT_EQ(s.out(), strings{"PUBLISH t q2 id=1 'x'"});
  s.feed(pubrec_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBREL 1 rc=0x00"});
  EXPECT_EQ(s.st.find_outgoing(1)->phase, outgoing::phase::awaiting_comp);
  s.feed(pubrec_packet{1, {}, {}, {}});  // a duplicate PUBREC: PUBREL again
  EXPECT_EQ(s.out(), strings{"PUBREL 1 rc=0x00"});
  EXPECT_TRUE(s.calls().empty());
  s.feed(pubcomp_packet{1, {}, {}, {}});
  EXPECT_EQ(s.calls(), strings{"delivered t id=1 rc=0x00"});
  EXPECT_EQ(s.st.inflight(), 0u);
}

TEST(OutboundPublish, Qos2RefusedInPubrec) {
  server s(v5);
  s.open();
  (void)s.conn.publish(pub("t", "x", qos::exactly_once), s.now);
  s.out();
  s.feed(pubrec_packet{1, reason::not_authorized, {}, {}});
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), strings{"delivered t id=1 rc=0x87"});
  EXPECT_FALSE(s.st.packet_id_in_use(1));
}

// MQTT 5.0 4.3.3: a PUBCOMP 0x92 (Packet Identifier not found) answers a
// PUBREL the peer no longer expects, "not an error during recovery": its
// PUBREC said it had the message, so the flow ends as delivered.
TEST(OutboundPublish, Qos2PubcompPacketIdNotFoundIsDelivered) {
  server s(v5);
  s.open();
  (void)s.conn.publish(pub("t", "x", qos::exactly_once), s.now);
  s.out();
  s.feed(pubrec_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBREL 1 rc=0x00"});
  s.feed(pubcomp_packet{1, reason::packet_identifier_not_found, {}, {}});
  EXPECT_EQ(s.calls(), strings{"delivered t id=1 rc=0x00"});
  EXPECT_FALSE(s.st.packet_id_in_use(1));
}

TEST(OutboundPublish, AcknowledgementsForUnknownIds) {
  {
    server s(v5);
    s.open();
    s.feed(puback_packet{4, {}, {}, {}});
    s.feed(pubcomp_packet{4, {}, {}, {}});
    s.feed(pubrec_packet{4, {}, {}, {}});
    EXPECT_EQ(s.out(), strings{"PUBREL 4 rc=0x92"});
    EXPECT_TRUE(s.calls().empty());
    EXPECT_FALSE(s.conn.closing());
  }
  {
    server s(v311);
    s.open();
    s.feed(pubrec_packet{4, {}, {}, {}});
    EXPECT_EQ(s.out(), strings{"PUBREL 4 rc=0x00"});
  }
  {
    // 5.0: a PUBREC that refuses ends the flow: no PUBREL, known id or not.
    server s(v5);
    s.open();
    s.feed(pubrec_packet{4, reason::not_authorized, {}, {}});
    EXPECT_TRUE(s.conn.output().empty());
    EXPECT_FALSE(s.conn.closing());
  }
}

// The acknowledgement of another QoS or phase than the message's: 5.0
// DISCONNECT 0x82, 3.1.1 closed without a packet (MQTT-4.8.0-1); the message
// stays in flight in the session, for the next connection. Either role.
struct wrong_ack {
  std::string name;
  qos q;
  bool released;  // a QoS 2 message's PUBREC arrived (PUBREL sent)
  packet ack;
};

std::vector<wrong_ack> wrong_acks() {
  return {
      {"PubrecForQos1", qos::at_least_once, false, pubrec_packet{1, {}, {}, {}}},
      {"PubcompForQos1", qos::at_least_once, false, pubcomp_packet{1, {}, {}, {}}},
      {"PubackForQos2", qos::exactly_once, false, puback_packet{1, {}, {}, {}}},
      {"PubcompBeforePubrec", qos::exactly_once, false, pubcomp_packet{1, {}, {}, {}}},
      {"PubackAfterPubrec", qos::exactly_once, true, puback_packet{1, {}, {}, {}}},
  };
}

template <class Side>
void answer_wrongly(Side& x, const wrong_ack& w) {
  (void)x.conn.publish(pub("t", "x", w.q), x.now);
  if (w.released) x.feed(pubrec_packet{1, {}, {}, {}});
  EXPECT_EQ(x.out().size(), w.released ? 2u : 1u) << w.name;
  x.feed(w.ack);
  EXPECT_EQ(to_hex(take_bytes(x.conn)), x.v == v5 ? "e00182" : "") << w.name;
  EXPECT_TRUE(x.conn.closing()) << w.name;
  EXPECT_EQ(x.calls(), strings{"closed 0x82"}) << w.name;
  ASSERT_NE(x.st.find_outgoing(1), nullptr) << w.name;
  EXPECT_EQ(x.st.find_outgoing(1)->phase, w.released ? outgoing::phase::awaiting_comp : outgoing::phase::awaiting_ack);
}

TEST(OutboundPublish, TheWrongAcknowledgementIsAProtocolError) {
  for (const auto& w : wrong_acks()) {
    for (auto v : {v5, v311}) {
      server s(v);
      s.open();
      answer_wrongly(s, w);
      client c(v);  // a server that answers our client wrongly
      c.open();
      answer_wrongly(c, w);
    }
  }
}

TEST(OutboundPublish, ReceiveMaximumWindowQueuesAndDrains) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 2}})));
  for (char ch : std::string("abcd"))
    EXPECT_EQ(s.conn.publish(pub(std::string(1, ch), "p", qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.conn.publish(pub("z", "0"), s.now), enqueue_result::queued);  // QoS 0 does not wait
  EXPECT_EQ(s.out(), (strings{"PUBLISH a q1 id=1 'p'", "PUBLISH b q1 id=2 'p'", "PUBLISH z q0 '0'"}));
  EXPECT_EQ(s.st.queue().size(), 2u);
  s.feed(puback_packet{2, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH c q1 id=3 'p'"});
  s.feed(puback_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH d q1 id=4 'p'"});
  s.feed(puback_packet{3, {}, {}, {}});
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), (strings{"delivered b id=2 rc=0x00", "delivered a id=1 rc=0x00", "delivered c id=3 rc=0x00"}));
  EXPECT_TRUE(s.st.queue().empty());
}

TEST(OutboundPublish, Qos2HoldsItsSlotUntilPubcomp) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 1}})));
  (void)s.conn.publish(pub("a", "1", qos::exactly_once), s.now);
  (void)s.conn.publish(pub("b", "2", qos::exactly_once), s.now);
  EXPECT_EQ(s.out(), strings{"PUBLISH a q2 id=1 '1'"});
  s.feed(pubrec_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBREL 1 rc=0x00"});
  s.feed(pubcomp_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH b q2 id=2 '2'"});
}

TEST(OutboundPublish, TopicAliasesAreAssignedInOrder) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::topic_alias_maximum, 2}})));
  for (auto t : {"a", "a", "b", "c", "b", "a"}) (void)s.conn.publish(pub(t, "p"), s.now);
  EXPECT_EQ(s.out(), (strings{"PUBLISH a q0 'p' {23=1}", "PUBLISH - q0 'p' {23=1}", "PUBLISH b q0 'p' {23=2}",
                              "PUBLISH c q0 'p'", "PUBLISH - q0 'p' {23=2}", "PUBLISH - q0 'p' {23=1}"}));
}

TEST(OutboundPublish, TopicAliasKeepsOtherPropertiesAndIsNotStored) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::topic_alias_maximum, 1}})));
  auto m = pub("a", "p", qos::at_least_once, 0, properties::builder{}.user_property("k", "v").build());
  (void)s.conn.publish(m, s.now);
  (void)s.conn.publish(m, s.now);
  EXPECT_EQ(s.out(), (strings{"PUBLISH a q1 id=1 'p' {26=k:v,23=1}", "PUBLISH - q1 id=2 'p' {26=k:v,23=1}"}));
  EXPECT_EQ(s.st.find_outgoing(2)->message.topic(), "a");  // resends carry the topic
  EXPECT_EQ(s.st.find_outgoing(2)->message.props().find(property_id::topic_alias), std::nullopt);
}

TEST(OutboundPublish, ACallersTopicAliasIsDropped) {
  server s(v5);
  s.open();
  (void)s.conn.publish(pub("a", "p", qos::at_most_once, 0, props_of({{property_id::topic_alias, 9}})), s.now);
  EXPECT_EQ(s.out(), strings{"PUBLISH a q0 'p'"});
}

TEST(OutboundPublish, NoTopicAliasesForV311) {
  client c(v311);
  c.open();
  (void)c.conn.publish(pub("a", "p"), c.now);
  (void)c.conn.publish(pub("a", "p"), c.now);
  EXPECT_EQ(c.out(), (strings{"PUBLISH a q0 'p'", "PUBLISH a q0 'p'"}));
}

TEST(OutboundPublish, TooLargeForThePeerIsDropped) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::maximum_packet_size, 30}})));
  const std::string big(40, 'x');
  EXPECT_EQ(s.conn.publish(pub("t", big, qos::at_least_once), s.now), enqueue_result::dropped);
  EXPECT_EQ(s.conn.publish(pub("t", big), s.now), enqueue_result::dropped);
  EXPECT_EQ(s.calls(), (strings{"dropped t rc=0x95", "dropped t rc=0x95"}));
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.st.inflight(), 0u);
  EXPECT_FALSE(s.st.packet_id_in_use(1));
  // 2 + 3 (topic) + 2 (id) + 1 (properties) + 22 = 30 bytes: fits exactly.
  EXPECT_EQ(s.conn.publish(pub("t", std::string(22, 'y'), qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.out(), strings{"PUBLISH t q1 id=2 '" + std::string(22, 'y') + "'"});
}

TEST(OutboundPublish, TooLargeFromTheQueueIsDroppedAndTheNextGoes) {
  server s(v5);
  (void)s.st.enqueue(pub("big", std::string(100, 'x'), qos::at_least_once), t0);
  (void)s.st.enqueue(pub("ok", "y", qos::at_least_once), t0);
  s.feed(connect_msg(v5, 60, true, props_of({{property_id::maximum_packet_size, 50}})));
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=0 rc=0x00", "PUBLISH ok q1 id=2 'y'"}));
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "dropped big rc=0x95"}));
}

TEST(OutboundPublish, MessageExpiryInTheQueue) {
  server s(v5);
  auto expiring = [](std::uint32_t secs) {
    return properties::builder{}
        .add<property_id::content_type>("text")
        .add<property_id::message_expiry_interval>(secs)
        .user_property("k", "v")
        .build();
  };
  (void)s.st.enqueue(pub("gone", "1", qos::at_least_once, 0, expiring(10)), t0);
  (void)s.st.enqueue(pub("left", "2", qos::at_least_once, 0, expiring(100)), t0);
  (void)s.st.enqueue(pub("edge", "3", qos::at_most_once, 0, expiring(30)), t0);
  (void)s.st.enqueue(pub("fresh", "4", qos::at_most_once, 0, expiring(5)), t0 + 29500ms);
  s.now = t0 + 30s;
  s.feed(connect_msg(v5));
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=0 rc=0x00", "PUBLISH left q1 id=1 '2' {03=text,02=70,26=k:v}",
                              "PUBLISH fresh q0 '4' {03=text,02=5,26=k:v}"}));
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "dropped gone rc=0x00", "dropped edge rc=0x00"}));
  EXPECT_EQ(s.st.inflight(), 1u);
}

TEST(OutboundPublish, MessageExpiryWhileWaitingForTheWindow) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 1}})));
  (void)s.conn.publish(pub("a", "1", qos::at_least_once), s.now);
  (void)s.conn.publish(pub("b", "2", qos::at_least_once, 0, props_of({{property_id::message_expiry_interval, 5}})),
                       s.now);
  (void)s.conn.publish(pub("c", "3", qos::at_least_once, 0, props_of({{property_id::message_expiry_interval, 60}})),
                       s.now);
  EXPECT_EQ(s.out(), strings{"PUBLISH a q1 id=1 '1'"});
  s.advance(6s);
  s.feed(puback_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH c q1 id=2 '3' {02=54}"});
  EXPECT_EQ(s.calls(), (strings{"delivered a id=1 rc=0x00", "dropped b rc=0x00"}));
}

TEST(OutboundPublish, QueuedWhileNotConnected) {
  client c(v5);
  EXPECT_EQ(c.conn.publish(pub("t", "x"), c.now), enqueue_result::dropped);  // no state yet
  EXPECT_EQ(c.conn.publish(pub("t", "x", qos::at_least_once), c.now), enqueue_result::refused);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  EXPECT_EQ(c.out(), strings{"CONNECT v5 c1 clean ka=60"});
  EXPECT_EQ(c.conn.publish(pub("a", "0"), c.now), enqueue_result::queued);
  EXPECT_EQ(c.conn.publish(pub("b", "1", qos::at_least_once), c.now), enqueue_result::queued);
  EXPECT_TRUE(c.conn.output().empty());
  EXPECT_EQ(c.st.queue().size(), 2u);
  c.feed(connack_packet{});
  EXPECT_EQ(c.out(), (strings{"PUBLISH a q0 '0'", "PUBLISH b q1 id=1 '1'"}));
  EXPECT_EQ(c.calls(), strings{"connack sp=0 rc=0x00"});
}

TEST(OutboundPublish, QueueLimitsApplyThroughPublish) {
  server s(v5);
  s.st.set_limits({.max_messages = 2, .max_bytes = 1000});
  s.open(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 1}})));
  EXPECT_EQ(s.conn.publish(pub("a", "1", qos::at_least_once), s.now), enqueue_result::queued);  // sent
  EXPECT_EQ(s.conn.publish(pub("b", "2", qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.conn.publish(pub("c", "3", qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.conn.publish(pub("d", "4", qos::at_least_once), s.now), enqueue_result::refused);
  EXPECT_EQ(s.st.dropped(), 1u);
  s.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  // Closed: QoS 0 now waits in the queue too, pushing nothing out but itself.
  EXPECT_EQ(s.conn.publish(pub("e", "5"), s.now), enqueue_result::dropped);
}

// ================================================================ resuming a session

TEST(Resume, AcceptResendsInFlightWithDupThenTheQueue) {
  server s(v5);
  s.st = resumable_state();
  s.feed(connect_msg(v5, 60, false));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=1 rc=0x00", "PUBLISH r1 q1 id=5 dup '1'", "PUBREL 6 rc=0x00",
                              "PUBLISH r3 q2 id=7 dup '3'", "PUBLISH q q1 id=1 '4'"}));
  s.feed(puback_packet{5, {}, {}, {}});
  s.feed(pubcomp_packet{6, {}, {}, {}});
  s.feed(pubrec_packet{7, {}, {}, {}});
  s.feed(pubcomp_packet{7, {}, {}, {}});
  s.feed(puback_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBREL 7 rc=0x00"});
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "delivered r1 id=5 rc=0x00", "delivered r2 id=6 rc=0x00",
                                "delivered r3 id=7 rc=0x00", "delivered q id=1 rc=0x00"}));
  EXPECT_EQ(s.st.inflight(), 0u);
}

TEST(Resume, ResendsStayWithinTheReceiveMaximum) {
  server s(v5);
  s.st = resumable_state();
  s.feed(connect_msg(v5, 60, false, props_of({{property_id::receive_maximum, 1}})));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=1 rc=0x00", "PUBLISH r1 q1 id=5 dup '1'", "PUBREL 6 rc=0x00"}));
  s.feed(puback_packet{5, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH r3 q2 id=7 dup '3'"});
  s.feed(pubcomp_packet{6, {}, {}, {}});  // the PUBREL took no quota: nothing more may go yet
  EXPECT_TRUE(s.conn.output().empty());
  s.feed(pubrec_packet{7, {}, {}, {}});
  s.feed(pubcomp_packet{7, {}, {}, {}});
  EXPECT_EQ(s.out(), (strings{"PUBREL 7 rc=0x00", "PUBLISH q q1 id=1 '4'"}));
}

TEST(Resume, V311ClientGetsTheSameResends) {
  server s(v311);
  s.st = resumable_state();
  s.feed(connect_msg(v311, 60, false));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=1 rc=0x00", "PUBLISH r1 q1 id=5 dup '1'", "PUBREL 6 rc=0x00",
                              "PUBLISH r3 q2 id=7 dup '3'", "PUBLISH q q1 id=1 '4'"}));
}

TEST(Resume, ClientReconnectResendsWithDup) {
  state st;
  {
    recorder h;
    connection c(role::client, h, {}, t0);
    c.connect(connect_msg(v5), st, t0);
    auto ack = encode(connack_packet{}, v5);
    c.receive(ack, t0);
    (void)c.publish(pub("one", "1", qos::at_least_once), t0);
    (void)c.publish(pub("two", "2", qos::exactly_once), t0);
    auto rec = encode(pubrec_packet{2, {}, {}, {}}, v5);
    c.receive(rec, t0);
    EXPECT_EQ(decode_all(take_bytes(c), v5),
              (strings{"CONNECT v5 c1 clean ka=60", "PUBLISH one q1 id=1 '1'", "PUBLISH two q2 id=2 '2'",
                       "PUBREL 2 rc=0x00"}));
    c.transport_closed({std::make_error_code(std::errc::connection_reset)});
    EXPECT_EQ(h.log, (strings{"connack sp=0 rc=0x00", "closed Connection reset by peer"}));
  }
  client c(v5);
  c.st = st;
  c.conn.connect(connect_msg(v5, 60, false), c.st, c.now);
  c.feed(connack_packet{true, reason::success, {}});
  EXPECT_EQ(c.out(), (strings{"CONNECT v5 c1 ka=60", "PUBLISH one q1 id=1 dup '1'", "PUBREL 2 rc=0x00"}));
  c.feed(puback_packet{1, {}, {}, {}});
  c.feed(pubcomp_packet{2, {}, {}, {}});
  EXPECT_EQ(c.calls(), (strings{"connack sp=1 rc=0x00", "delivered one id=1 rc=0x00", "delivered two id=2 rc=0x00"}));
}

TEST(Resume, ClientWithoutSessionPresentSendsAgainAsNew) {
  client c(v5);
  c.st = resumable_state();
  c.st.add_incoming_qos2(42);
  c.conn.connect(connect_msg(v5, 60, false), c.st, c.now);
  c.feed(connack_packet{false, reason::success, {}});
  EXPECT_EQ(c.out(), (strings{"CONNECT v5 c1 ka=60", "PUBLISH r1 q1 id=5 '1'", "PUBREL 6 rc=0x00",
                              "PUBLISH r3 q2 id=7 '3'", "PUBLISH q q1 id=1 '4'"}));
  EXPECT_FALSE(c.st.incoming_qos2(42));
}

TEST(Resume, CleanStartClearsTheClientState) {
  client c(v5);
  c.st = resumable_state();
  c.conn.connect(connect_msg(v5), c.st, c.now);
  EXPECT_EQ(c.st.inflight(), 0u);
  EXPECT_TRUE(c.st.queue().empty());
  c.feed(connack_packet{});
  EXPECT_EQ(c.out(), strings{"CONNECT v5 c1 clean ka=60"});
}

}  // namespace
}  // namespace tern::session
