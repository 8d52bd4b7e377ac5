// The protocol state machine, the rest: the client role, DISCONNECT,
// Maximum Packet Size both ways, edge cases, and two connections talking to
// each other. Real encoded bytes in, the exact packets out and the exact
// handler calls, in order, on a manual clock.
#include "tern/session/connection_test_support.hpp"

namespace tern::session {
namespace {

using namespace conn_test;
using namespace std::chrono_literals;

// ================================================================ client role

TEST(Client, ConnectAnnouncesItsLimits) {
  client c(v5, {.maximum_packet_size = 4096, .receive_maximum = 10, .topic_alias_maximum = 3});
  c.conn.connect(connect_msg(v5, 30, true, props_of({{property_id::session_expiry_interval, 60}})), c.st, c.now);
  EXPECT_EQ(c.out(), strings{"CONNECT v5 c1 clean ka=30 {11=60,21=10,27=4096,22=3}"});
  EXPECT_EQ(c.conn.version(), v5);
  EXPECT_FALSE(c.conn.connected());
}

TEST(Client, ConnectPropertiesWinOverOptions) {
  client c(v5, {.receive_maximum = 10});
  c.conn.connect(connect_msg(v5, 30, true, props_of({{property_id::receive_maximum, 1}})), c.st, c.now);
  EXPECT_EQ(c.out(), strings{"CONNECT v5 c1 clean ka=30 {21=1}"});
  c.feed(connack_packet{});
  c.feed(pub("t", "1", qos::exactly_once, 1));
  c.feed(pub("t", "2", qos::exactly_once, 2));
  EXPECT_EQ(c.out(), (strings{"PUBREC 1 rc=0x00", "DISCONNECT rc=0x93"}));
}

TEST(Client, ConnectPropertiesWinOverSharedOptionsWithoutChangingThem) {
  // The caller's options serve other connections: the CONNECT's values go
  // into a copy of the connection's own.
  const options shared{.maximum_packet_size = 4096, .receive_maximum = 10};
  recorder h;
  state st;
  connection c(role::client, h, shared, t0, shared_options);
  EXPECT_EQ(&c.local(), &shared);
  c.connect(connect_msg(v5, 30, true, props_of({{property_id::maximum_packet_size, 64}})), st, t0);
  EXPECT_EQ(decode_all(take_bytes(c), v5), strings{"CONNECT v5 c1 clean ka=30 {27=64,21=10}"});
  EXPECT_EQ(shared.maximum_packet_size, 4096u);
  EXPECT_NE(&c.local(), &shared);
  EXPECT_EQ(c.local().maximum_packet_size, 64u);
  EXPECT_EQ(c.local().receive_maximum, 10);
  auto ack = encode(connack_packet{}, v5);
  c.receive(ack, t0);
  auto big = encode(pub("t", std::string(80, 'x')), v5);
  c.receive(big, t0);  // above the CONNECT's 64: refused by the decoder
  EXPECT_EQ(decode_all(take_bytes(c), v5), strings{"DISCONNECT rc=0x95"});
  EXPECT_EQ(h.log.back(), "closed 0x95");
}

TEST(Client, ConnectWithoutOverridesKeepsReferringToSharedOptions) {
  const options shared{.receive_maximum = 10};
  recorder h;
  state st;
  connection c(role::client, h, shared, t0, shared_options);
  c.connect(connect_msg(v5, 30), st, t0);
  EXPECT_EQ(&c.local(), &shared);
}

TEST(Client, V311ConnectCarriesNoProperties) {
  client c(v311, {.receive_maximum = 10});
  c.conn.connect(connect_msg(v311, 30), c.st, c.now);
  EXPECT_EQ(to_hex(take_bytes(c.conn)), "100e00044d5154540402001e00026331");
}

TEST(Client, ConnackRecordsTheServersLimits) {
  client c(v5);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  c.feed(connack_packet{false, reason::success,
                        props_of({{property_id::receive_maximum, 3},
                                  {property_id::maximum_packet_size, 2000},
                                  {property_id::topic_alias_maximum, 4},
                                  {property_id::server_keep_alive, 15},
                                  {property_id::maximum_qos, 1},
                                  {property_id::retain_available, 0}})});
  EXPECT_TRUE(c.conn.connected());
  const auto& p = c.conn.peer();
  EXPECT_EQ(p.receive_maximum, 3);
  EXPECT_EQ(p.maximum_packet_size, 2000u);
  EXPECT_EQ(p.topic_alias_maximum, 4);
  EXPECT_EQ(p.keep_alive, 15);
  EXPECT_EQ(p.maximum_qos, qos::at_least_once);
  EXPECT_FALSE(p.retain_available);
  EXPECT_EQ(c.calls(), strings{"connack sp=0 rc=0x00"});
}

TEST(Client, ConnackRefusedV5) {
  client c(v5);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  c.out();
  c.feed(connack_packet{false, reason::not_authorized, {}});
  EXPECT_TRUE(c.conn.closing());
  EXPECT_FALSE(c.conn.connected());
  EXPECT_TRUE(c.conn.output().empty());
  EXPECT_EQ(c.calls(), (strings{"connack sp=0 rc=0x87", "closed 0x87"}));
}

TEST(Client, ConnackRefusedV311) {
  client c(v311);
  c.conn.connect(connect_msg(v311), c.st, c.now);
  c.out();
  c.feed_bytes(from_hex("20020004"));
  EXPECT_TRUE(c.conn.closing());
  EXPECT_EQ(c.calls(), (strings{"connack sp=0 rc=0x86", "closed 0x86"}));
}

TEST(Client, SessionPresentWithCleanStartIsAProtocolError) {
  client c(v5);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  c.out();
  c.feed(connack_packet{true, reason::success, {}});
  EXPECT_EQ(c.out(), strings{"DISCONNECT rc=0x82"});
  EXPECT_EQ(c.calls(), strings{"closed 0x82"});
}

TEST(Client, PacketBeforeConnackIsAProtocolError) {
  client c(v5);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  c.out();
  c.feed(pub("t", "x"));
  EXPECT_EQ(c.out(), strings{"DISCONNECT rc=0x82"});
  EXPECT_EQ(c.calls(), strings{"closed 0x82"});
}

TEST(Client, SecondConnackIsAProtocolError) {
  client c(v311);
  c.open();
  c.feed(connack_packet{});
  EXPECT_TRUE(c.conn.output().empty());  // 3.1.1: no DISCONNECT with a reason; just close
  EXPECT_EQ(c.calls(), strings{"closed 0x82"});
}

TEST(Client, SubscribeAndUnsubscribeGetPacketIds) {
  client c(v5);
  c.open();
  c.conn.send(subscribe_packet{0, {{"a/#", {qos::at_least_once}}}, {}});
  c.conn.send(unsubscribe_packet{0, {"a/#"}, {}});
  c.conn.send(subscribe_packet{77, {{"b", {}}}, {}});  // the caller's id is kept
  EXPECT_EQ(c.out(), (strings{"SUBSCRIBE 1 a/# q1", "UNSUBSCRIBE 2 a/#", "SUBSCRIBE 77 b q0"}));
  EXPECT_TRUE(c.st.packet_id_in_use(1));
  EXPECT_TRUE(c.st.packet_id_in_use(2));
  c.feed(suback_packet{1, {reason::granted_qos_1}, {}});
  c.feed(unsuback_packet{2, {reason::success}, {}});
  c.feed(suback_packet{77, {reason::granted_qos_0}, {}});
  EXPECT_EQ(c.calls(), (strings{"suback 1", "unsuback 2", "suback 77"}));
  EXPECT_FALSE(c.st.packet_id_in_use(1));
  EXPECT_FALSE(c.st.packet_id_in_use(2));
  // The ids do not collide with messages in flight.
  (void)c.conn.publish(pub("t", "x", qos::at_least_once), c.now);
  c.conn.send(subscribe_packet{0, {{"c", {}}}, {}});
  EXPECT_EQ(c.out(), (strings{"PUBLISH t q1 id=3 'x'", "SUBSCRIBE 4 c q0"}));
}

TEST(Client, SubscribeIdsAreReleasedWhenTheConnectionCloses) {
  client c(v311);
  c.open();
  c.conn.send(subscribe_packet{0, {{"a", {}}}, {}});
  EXPECT_TRUE(c.st.packet_id_in_use(1));
  c.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  EXPECT_FALSE(c.st.packet_id_in_use(1));
}

TEST(Client, ServerOnlyPacketIsAProtocolError) {
  client c(v5);
  c.open();
  c.feed(pingreq_packet{});
  EXPECT_EQ(c.out(), strings{"DISCONNECT rc=0x82"});
}

TEST(Client, PublishInsideOnConnackGoesAfterTheResends) {
  client c(v5);
  c.st = resumable_state();
  c.h.connack_hook = [&] { (void)c.conn.publish(pub("new", "n"), c.now); };
  c.conn.connect(connect_msg(v5, 60, false), c.st, c.now);
  c.feed(connack_packet{true, reason::success, {}});
  EXPECT_EQ(c.out(), (strings{"CONNECT v5 c1 ka=60", "PUBLISH r1 q1 id=5 dup '1'", "PUBREL 6 rc=0x00",
                              "PUBLISH r3 q2 id=7 dup '3'", "PUBLISH q q1 id=1 '4'", "PUBLISH new q0 'n'"}));
}

// ================================================================ disconnecting

TEST(Disconnect, ServerV5SendsDisconnect) {
  server s(v5);
  s.open();
  s.conn.disconnect(reason::server_shutting_down);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "e0018b");
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x8b"});
  s.conn.disconnect();  // once only
  (void)s.conn.publish(pub("t", "x"), s.now);
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.calls().empty());
}

TEST(Disconnect, ServerV311JustCloses) {
  server s(v311);
  s.open();
  s.conn.disconnect(reason::server_shutting_down);
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x8b"});
}

TEST(Disconnect, ServerBeforeAcceptJustCloses) {
  side s(role::server, v5);
  s.feed(connect_msg(v5));
  s.conn.disconnect();
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "closed 0x00"}));
}

TEST(Disconnect, ClientSendsDisconnect) {
  client c5(v5);
  c5.open();
  c5.conn.disconnect(reason::disconnect_with_will_message);
  EXPECT_EQ(to_hex(take_bytes(c5.conn)), "e00104");
  client c3(v311);
  c3.open();
  c3.conn.disconnect();
  EXPECT_EQ(to_hex(take_bytes(c3.conn)), "e000");
  EXPECT_EQ(c3.calls(), strings{"closed 0x00"});
}

TEST(Disconnect, PeerDisconnect) {
  server s(v5);
  s.open();
  auto b = encode(disconnect_packet{reason::disconnect_with_will_message, {}, {}}, v5);
  auto more = encode(pub("after", "x"), v5);
  b.insert(b.end(), more.begin(), more.end());
  s.feed_bytes(b);
  EXPECT_EQ(s.calls(), (strings{"disconnect rc=0x04", "closed 0x00"}));
  EXPECT_TRUE(s.conn.closing());
  EXPECT_TRUE(s.conn.output().empty());
}

TEST(Disconnect, ServerDisconnectReachesTheClient) {
  client c(v5);
  c.open();
  c.feed(disconnect_packet{reason::session_taken_over, {}, {}});
  EXPECT_EQ(c.calls(), (strings{"disconnect rc=0x8e", "closed 0x00"}));
}

TEST(Disconnect, TransportClosedReportsOnce) {
  server s(v5);
  s.open();
  s.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  s.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  s.conn.disconnect();
  EXPECT_EQ(s.calls(), strings{"closed Connection reset by peer"});
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.conn.next_timeout(), std::nullopt);
  s.feed(pingreq_packet{});
  EXPECT_TRUE(s.conn.output().empty());
}

// ================================================================ edges

// ================================================================ the peer's Maximum Packet Size

properties reason_and_user() {
  return properties::builder{}.add<property_id::reason_string>("busy").user_property("k", "v").build();
}

connect_packet small_client(std::uint32_t maximum) {
  return connect_msg(v5, 60, true, props_of({{property_id::maximum_packet_size, maximum}}));
}

TEST(MaximumPacketSize, PacketsLoseTheReasonStringThenUserPropertiesToFit) {
  // PUBACK 0x97 with both: 20 bytes; without the Reason String: 13; without either: 5.
  for (auto [maximum, bytes] : {std::pair{20u, "4012000197" "0e" "1f000462757379" "2600016b000176"},
                                std::pair{19u, "400b000197" "07" "2600016b000176"},
                                std::pair{12u, "4003000197"}}) {
    server s(v5, {.auto_acknowledge = false});
    s.open(small_client(maximum));
    s.feed(pub("t", "a", qos::at_least_once, 1));
    s.calls();
    s.conn.acknowledge(1, reason::quota_exceeded, reason_and_user());
    EXPECT_EQ(to_hex(take_bytes(s.conn)), bytes) << maximum;
  }
  // The same for every packet that may carry them: SUBACK, DISCONNECT...
  server s(v5);
  s.open(small_client(13));
  s.conn.send(suback_packet{1, {reason::granted_qos_1}, reason_and_user()});
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "900b0001" "07" "2600016b000176" "01");
  // ...and one that does not fit even so is not sent (MQTT-3.1.2-24/-25).
  s.conn.send(suback_packet{2, std::vector<reason>(9, reason::granted_qos_1), {}});
  EXPECT_TRUE(s.conn.output().empty());
  s.conn.disconnect(reason::server_shutting_down, reason_and_user());
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "e0098b" "07" "2600016b000176");
}

TEST(MaximumPacketSize, AClientDropsThemForTheServersMaximumToo) {
  client c(v5, {.auto_acknowledge = false});
  c.open(connect_msg(v5), connack_packet{false, reason::success, props_of({{property_id::maximum_packet_size, 12}})});
  c.feed(pub("t", "a", qos::exactly_once, 1));
  c.calls();
  c.conn.acknowledge(1, reason::quota_exceeded, reason_and_user());
  EXPECT_EQ(to_hex(take_bytes(c.conn)), "5003000197");
}

TEST(MaximumPacketSize, TheConnackLosesWhatTheClientCanDoWithout) {
  const options o{.receive_maximum = 10, .topic_alias_maximum = 5};
  accept_options a;
  a.props = properties::builder{}
                .add<property_id::reason_string>("hello")
                .user_property("k", "v")
                .add<property_id::response_information>("r")
                .add<property_id::assigned_client_identifier>("abc")
                .build();
  // 36 bytes in all. In this order go the Reason String (28), the User
  // Property (21), Response Information (17), Topic Alias Maximum (14).
  for (auto [maximum, bytes] :
       {std::pair{36u, "20220000" "1f" "21000a" "220005" "1f000568656c6c6f" "2600016b000176" "1a000172" "120003616263"},
        std::pair{21u, "2013000010" "21000a" "220005" "1a000172" "120003616263"},
        std::pair{16u, "200c000009" "21000a" "120003616263"}}) {
    server s(v5, o);
    s.feed(small_client(maximum));
    s.conn.accept(s.st, a, s.now);
    EXPECT_EQ(to_hex(take_bytes(s.conn)), bytes) << maximum;
    EXPECT_TRUE(s.conn.connected());
  }
}

TEST(MaximumPacketSize, AConnackThatCannotFitIsARefusal) {
  const options o{.receive_maximum = 10, .topic_alias_maximum = 5};
  accept_options a;
  a.props = properties::builder{}.add<property_id::assigned_client_identifier>("abc").build();
  {  // with the handler's Assigned Client Identifier, 14 bytes at least
    side s(role::server, v5, o);
    s.feed(small_client(13));
    EXPECT_EQ(s.calls(), strings{"connect c1 ka=60"});
    s.conn.accept(s.st, a, s.now);
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003009500");
    EXPECT_FALSE(s.conn.connected());
    EXPECT_EQ(s.conn.session(), nullptr);
    EXPECT_EQ(s.calls(), strings{"closed 0x95"});
  }
  {  // this side's own CONNACK, 8 bytes at least: refused before the handler hears of it
    side s(role::server, v5, o);
    s.feed(small_client(7));
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003009500");
    EXPECT_EQ(s.calls(), strings{"closed 0x95"});
  }
  {  // not even the refusal fits: nothing
    side s(role::server, v5, o);
    s.feed(small_client(4));
    EXPECT_TRUE(s.conn.output().empty());
    EXPECT_TRUE(s.conn.closing());
    EXPECT_EQ(s.calls(), strings{"closed 0x95"});
  }
}

TEST(Edges, BytesHeldBeforeAcceptAreBounded) {
  side s(role::server, v5, {.maximum_packet_size = 40});
  s.feed(connect_msg(v5));  // 17 bytes
  s.feed(pub("t", std::string(10, 'x')));  // 16 bytes each
  s.feed(pub("t", std::string(10, 'x')));
  EXPECT_FALSE(s.conn.closing());
  s.feed(pub("t", std::string(10, 'x')));
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003009700");
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "closed 0x97"}));
}

TEST(Edges, ResendTooLargeForTheNewConnectionIsDropped) {
  server s(v5);
  s.st.add_outgoing(pub("big", std::string(100, 'x'), qos::at_least_once, 3));
  s.st.add_outgoing(pub("small", "y", qos::at_least_once, 4));
  s.feed(connect_msg(v5, 60, false, props_of({{property_id::maximum_packet_size, 50}})));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=1 rc=0x00", "PUBLISH small q1 id=4 dup 'y'"}));
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "dropped big rc=0x95"}));
  EXPECT_FALSE(s.st.packet_id_in_use(3));
}

TEST(Edges, ADroppedMessageDoesNotEstablishAnAlias) {
  server s(v5);
  s.open(connect_msg(v5, 60, true,
                     props_of({{property_id::topic_alias_maximum, 1}, {property_id::maximum_packet_size, 30}})));
  EXPECT_EQ(s.conn.publish(pub("a", std::string(40, 'x')), s.now), enqueue_result::dropped);
  (void)s.conn.publish(pub("a", "1"), s.now);
  (void)s.conn.publish(pub("a", "2"), s.now);
  EXPECT_EQ(s.out(), (strings{"PUBLISH a q0 '1' {23=1}", "PUBLISH - q0 '2' {23=1}"}));
}

TEST(Edges, V311Qos2CannotBeRefused) {
  server s(v311, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "a", qos::exactly_once, 5));
  s.conn.acknowledge(5, reason::not_authorized);
  EXPECT_EQ(s.out(), strings{"PUBREC 5 rc=0x00"});
  EXPECT_TRUE(s.st.incoming_qos2(5));  // the PUBREL will come
}

TEST(Edges, SendRoutesAPublishThroughPublish) {
  server s(v5);
  s.open();
  s.conn.send(pub("t", "x", qos::at_least_once));
  EXPECT_EQ(s.out(), strings{"PUBLISH t q1 id=1 'x'"});
  EXPECT_EQ(s.st.inflight(), 1u);
}

TEST(Edges, ClientHearsAuthBeforeConnack) {
  client c(v5);
  c.conn.connect(enhanced_connect(), c.st, c.now);
  c.feed(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
  c.conn.send(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
  EXPECT_EQ(c.out(), (strings{"CONNECT v5 c1 clean ka=60 {15=SCRAM-SHA-1}", "AUTH rc=0x18 {15=SCRAM-SHA-1}"}));
  EXPECT_EQ(c.calls(), strings{"auth rc=0x18"});
  EXPECT_FALSE(c.conn.closing());
}

TEST(Edges, ClientRefusesAnAuthOutsideItsMethod) {
  {  // no Authentication Method in its CONNECT (MQTT-4.12.0-6)
    client c(v5);
    c.conn.connect(connect_msg(v5), c.st, c.now);
    c.out();
    c.feed(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
    EXPECT_EQ(to_hex(take_bytes(c.conn)), "e00182");
    EXPECT_EQ(c.calls(), strings{"closed 0x82"});
  }
  {  // another method (MQTT-4.12.0-5)
    client c(v5);
    c.conn.connect(enhanced_connect(), c.st, c.now);
    c.out();
    c.feed(auth_packet{reason::continue_authentication, auth_method("OTHER"), {}});
    EXPECT_EQ(to_hex(take_bytes(c.conn)), "e00182");
    EXPECT_EQ(c.calls(), strings{"closed 0x82"});
  }
  {  // Re-authenticate (0x19) is the Client's to send (3.15.2.1)
    client c(v5);
    c.open(enhanced_connect());
    c.feed(auth_packet{reason::re_authenticate, auth_method("SCRAM-SHA-1"), {}});
    EXPECT_EQ(to_hex(take_bytes(c.conn)), "e00182");
    EXPECT_EQ(c.calls(), strings{"closed 0x82"});
  }
}

TEST(Edges, PublishingFromInsideOnPublish) {
  server s(v5);
  s.open();
  s.h.publish_hook = [&](const publish_packet& m) {
    (void)s.conn.publish(pub(std::string("echo/") + std::string(m.topic()), m.payload().view(), m.qos), s.now);
  };
  s.feed(pub("t", "x", qos::at_least_once, 9));
  EXPECT_EQ(s.out(), (strings{"PUBLISH echo/t q1 id=1 'x'", "PUBACK 9 rc=0x00"}));
}

TEST(Edges, PublishingFromInsideOnDelivered) {
  struct chain : recorder {
    connection* c = nullptr;
    int left = 3;
    void on_delivered(const publish_packet& m, reason code) override {
      recorder::on_delivered(m, code);
      if (left-- > 0) (void)c->publish(pub("next", "n", qos::at_least_once), t0);
    }
  };
  chain h;
  state st;
  connection c(role::server, h, {}, t0);
  h.c = &c;
  auto b = encode(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 1}})), v5);
  c.receive(b, t0);
  c.accept(st, {}, t0);
  (void)c.publish(pub("first", "f", qos::at_least_once), t0);
  for (std::uint16_t id = 1; id <= 4; ++id) {
    auto ack = encode(puback_packet{id, {}, {}, {}}, v5);
    c.receive(ack, t0);
  }
  EXPECT_EQ(decode_all(take_bytes(c), v5),
            (strings{"CONNACK sp=0 rc=0x00", "PUBLISH first q1 id=1 'f'", "PUBLISH next q1 id=2 'n'",
                     "PUBLISH next q1 id=3 'n'", "PUBLISH next q1 id=4 'n'"}));
  EXPECT_EQ(st.inflight(), 0u);
}

// ================================================================ a client and a server back to back

// Moves bytes both ways until both sides are quiet; `chunk` bytes at a time.
void shuttle(side& a, side& b, std::size_t chunk = 1 << 20) {
  for (int round = 0; round < 1000; ++round) {
    bool moved = false;
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      auto bytes = take_bytes(from->conn);
      for (std::size_t i = 0; i < bytes.size(); i += chunk) {
        to->feed_bytes(bytes_view(bytes).subspan(i, std::min(chunk, bytes.size() - i)));
        moved = true;
      }
    }
    if (!moved) return;
  }
  FAIL() << "the two sides never went quiet";
}

struct pair_fixture {
  side cl{role::client, v5, {.receive_maximum = 1, .topic_alias_maximum = 4}};
  side sv{role::server, v5, {.receive_maximum = 1, .topic_alias_maximum = 4}};

  void connect(std::size_t chunk) {
    sv.h.connect_hook = [this](connect_packet&) { sv.conn.accept(sv.st, {}, sv.now); };
    cl.conn.connect(connect_msg(v5), cl.st, cl.now);
    shuttle(cl, sv, chunk);
    ASSERT_TRUE(cl.conn.connected());
    ASSERT_TRUE(sv.conn.connected());
    ASSERT_EQ(cl.calls(), strings{"connack sp=0 rc=0x00"});
    ASSERT_EQ(sv.calls(), strings{"connect c1 ka=60"});
  }
};

void exchange_qos2_both_ways(std::size_t chunk) {
  pair_fixture p;
  p.connect(chunk);
  for (auto payload : {"u1", "u2", "u3"})
    (void)p.cl.conn.publish(pub("up/t", payload, qos::exactly_once), p.cl.now);
  EXPECT_EQ(p.cl.st.queue().size(), 2u);  // the server's Receive Maximum is 1
  shuttle(p.cl, p.sv, chunk);
  EXPECT_EQ(p.sv.calls(),
            (strings{"publish up/t q2 id=1 'u1'", "publish up/t q2 id=2 'u2'", "publish up/t q2 id=3 'u3'"}));
  EXPECT_EQ(p.cl.calls(), (strings{"delivered up/t id=1 rc=0x00", "delivered up/t id=2 rc=0x00",
                                   "delivered up/t id=3 rc=0x00"}));

  for (auto payload : {"d1", "d2"}) (void)p.sv.conn.publish(pub("down/t", payload, qos::exactly_once), p.sv.now);
  shuttle(p.cl, p.sv, chunk);
  EXPECT_EQ(p.cl.calls(), (strings{"publish down/t q2 id=1 'd1'", "publish down/t q2 id=2 'd2'"}));
  EXPECT_EQ(p.sv.calls(), (strings{"delivered down/t id=1 rc=0x00", "delivered down/t id=2 rc=0x00"}));

  // Both ways at once, mixed QoS.
  (void)p.cl.conn.publish(pub("up/t", "a", qos::at_least_once), p.cl.now);
  (void)p.sv.conn.publish(pub("down/t", "b", qos::exactly_once), p.sv.now);
  (void)p.cl.conn.publish(pub("up/other", "c", qos::exactly_once), p.cl.now);
  (void)p.sv.conn.publish(pub("down/t", "d"), p.sv.now);
  shuttle(p.cl, p.sv, chunk);
  auto only = [](strings log, std::string_view prefix) {
    strings out;
    for (auto& l : log)
      if (l.starts_with(prefix)) out.push_back(l);
    return out;
  };
  auto cl = p.cl.calls(), sv = p.sv.calls();
  EXPECT_EQ(only(sv, "publish"), (strings{"publish up/t q1 id=4 'a'", "publish up/other q2 id=5 'c'"}));
  EXPECT_EQ(only(cl, "publish"), (strings{"publish down/t q2 id=3 'b'", "publish down/t q0 'd'"}));
  EXPECT_EQ(only(cl, "delivered"), (strings{"delivered up/t id=4 rc=0x00", "delivered up/other id=5 rc=0x00"}));
  EXPECT_EQ(only(sv, "delivered"), strings{"delivered down/t id=3 rc=0x00"});

  EXPECT_EQ(p.cl.st.inflight(), 0u);
  EXPECT_EQ(p.sv.st.inflight(), 0u);
  EXPECT_TRUE(p.cl.st.incoming_qos2_ids().empty());
  EXPECT_TRUE(p.sv.st.incoming_qos2_ids().empty());
  EXPECT_FALSE(p.cl.conn.closing());
  EXPECT_FALSE(p.sv.conn.closing());

  p.cl.conn.disconnect();
  shuttle(p.cl, p.sv, chunk);
  EXPECT_EQ(p.sv.calls(), (strings{"disconnect rc=0x00", "closed 0x00"}));
  EXPECT_EQ(p.cl.calls(), strings{"closed 0x00"});
}

TEST(Pair, Qos2BothWays) { exchange_qos2_both_ways(1 << 20); }
TEST(Pair, Qos2BothWaysByteByByte) { exchange_qos2_both_ways(1); }
TEST(Pair, Qos2BothWaysInThreeByteChunks) { exchange_qos2_both_ways(3); }

TEST(Pair, TopicAliasesAreUsedOnTheWire) {
  pair_fixture p;
  p.connect(1 << 20);
  (void)p.cl.conn.publish(pub("long/topic/name", "1"), p.cl.now);
  (void)p.cl.conn.publish(pub("long/topic/name", "2"), p.cl.now);
  const auto second = take_bytes(p.cl.conn);
  EXPECT_EQ(decode_all(second, v5), (strings{"PUBLISH long/topic/name q0 '1' {23=1}", "PUBLISH - q0 '2' {23=1}"}));
  p.sv.feed_bytes(second);
  EXPECT_EQ(p.sv.calls(), (strings{"publish long/topic/name q0 '1'", "publish long/topic/name q0 '2'"}));
}

TEST(Pair, KeepAliveKeepsBothSidesUp) {
  pair_fixture p;
  p.connect(1 << 20);
  for (int i = 0; i < 10; ++i) {
    auto t = *p.cl.conn.next_timeout();
    ASSERT_LT(t, *p.sv.conn.next_timeout());
    p.cl.now = p.sv.now = t;
    p.cl.conn.on_timeout(t);
    shuttle(p.cl, p.sv);
  }
  EXPECT_FALSE(p.cl.conn.closing());
  EXPECT_FALSE(p.sv.conn.closing());
  EXPECT_EQ(p.cl.now, t0 + 600s);
}

}  // namespace
}  // namespace tern::session
