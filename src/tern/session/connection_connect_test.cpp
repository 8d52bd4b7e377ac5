// The protocol state machine, opening and keeping a connection: CONNECT and
// its answers (server side), enhanced authentication, keep alive both ways.
// Real encoded bytes in, the exact packets out and the exact handler calls,
// in order, on a manual clock.
#include "tern/session/connection_test_support.hpp"

namespace tern::session {
namespace {

using namespace conn_test;
using namespace std::chrono_literals;

// ================================================================ server: CONNECT

TEST(ServerConnect, V311AcceptSendsConnack) {
  side s(role::server, v311);
  s.feed(connect_msg(v311, 30));
  EXPECT_EQ(s.calls(), strings{"connect c1 ka=30"});
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_FALSE(s.conn.connected());
  EXPECT_EQ(s.conn.version(), v311);
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020100");
  EXPECT_TRUE(s.conn.connected());
  EXPECT_EQ(s.conn.session(), &s.st);
  EXPECT_EQ(s.conn.peer().keep_alive, 30);
  EXPECT_TRUE(s.calls().empty());
}

TEST(ServerConnect, SharedOptionsAreEnforcedAndNotCopied) {
  const options shared{.maximum_packet_size = 40, .maximum_qos = qos::at_least_once};
  recorder h;
  state st;
  connection c(role::server, h, shared, t0, shared_options);
  EXPECT_EQ(&c.local(), &shared);
  auto connect = encode(connect_msg(v5, 30), v5);
  c.receive(connect, t0);
  c.accept(st, {}, t0);
  EXPECT_EQ(decode_all(take_bytes(c), v5), strings{"CONNACK sp=0 rc=0x00 {27=40,24=1}"});
  auto big = encode(pub("t", std::string(40, 'x')), v5);
  c.receive(big, t0);
  EXPECT_EQ(decode_all(take_bytes(c), v5), strings{"DISCONNECT rc=0x95"});
  EXPECT_EQ(&c.local(), &shared);
}

TEST(ServerConnect, ConnectTimerFromTheSharedOptions) {
  const options shared{.connect_timeout = std::chrono::milliseconds(500)};
  recorder h;
  connection c(role::server, h, shared, t0, shared_options);
  EXPECT_EQ(c.next_timeout(), t0 + 500ms);
  c.on_timeout(t0 + 500ms);
  EXPECT_TRUE(c.closing());
  EXPECT_EQ(h.log, strings{"closed timed_out"});
  EXPECT_EQ(c.next_timeout(), std::nullopt);
}

TEST(ServerConnect, V31AcceptSendsConnack) {
  side s(role::server, v31);
  s.feed(connect_msg(v31));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020000");  // 3.1 has no Session Present
}

TEST(ServerConnect, V5AcceptWithoutLimitsHasNoProperties) {
  side s(role::server, v5);
  s.feed(connect_msg(v5));
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003000000");
}

TEST(ServerConnect, V5AcceptAnnouncesLimits) {
  options o;
  o.receive_maximum = 10;
  o.maximum_packet_size = 1024;
  o.topic_alias_maximum = 5;
  o.maximum_qos = qos::at_least_once;
  o.retain_available = false;
  side s(role::server, v5, o);
  s.feed(connect_msg(v5, 60));
  accept_options a;
  a.session_present = true;
  a.server_keep_alive = 30;
  a.props = properties::builder{}.add<property_id::assigned_client_identifier>("abc").build();
  s.conn.accept(s.st, a, s.now);
  EXPECT_EQ(to_hex(take_bytes(s.conn)),
            "201b0100"
            "18"
            "21000a"
            "2700000400"
            "220005"
            "2401"
            "2500"
            "13001e"
            "120003616263");
  EXPECT_EQ(s.conn.peer().keep_alive, 30);
}

TEST(ServerConnect, RecordsTheClientsLimits) {
  side s(role::server, v5);
  s.feed(connect_msg(v5, 60, true,
                     props_of({{property_id::receive_maximum, 7},
                               {property_id::maximum_packet_size, 500},
                               {property_id::topic_alias_maximum, 3}})));
  EXPECT_EQ(s.conn.peer().receive_maximum, 7);
  EXPECT_EQ(s.conn.peer().maximum_packet_size, 500u);
  EXPECT_EQ(s.conn.peer().topic_alias_maximum, 3);
}

TEST(ServerConnect, RefuseV311MapsTheReturnCode) {
  side s(role::server, v311);
  s.feed(connect_msg(v311));
  s.calls();
  s.conn.refuse(reason::not_authorized);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020005");
  EXPECT_TRUE(s.conn.closing());
  EXPECT_FALSE(s.conn.connected());
  EXPECT_EQ(s.calls(), strings{"closed 0x87"});
  s.conn.accept(s.st, {}, s.now);  // too late: ignored
  EXPECT_TRUE(s.conn.output().empty());
}

TEST(ServerConnect, RefuseV5WithReasonAndProperties) {
  side s(role::server, v5);
  s.feed(connect_msg(v5));
  s.calls();
  s.conn.refuse(reason::bad_user_name_or_password,
                properties::builder{}.add<property_id::reason_string>("no").build());
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20080086051f00026e6f");
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x86"});
  EXPECT_EQ(s.conn.next_timeout(), std::nullopt);
}

TEST(ServerConnect, UnsupportedLevelBelow5GetsV311Connack) {
  side s(role::server, v311);
  // "MQTT" level 3: a 3.1 level with the 3.1.1 name.
  s.feed_bytes(from_hex("100e 0004 4d515454 03 02 003c 0002 6331"));
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020001");
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x84"});
}

TEST(ServerConnect, UnsupportedLevelAbove5GetsV311ConnackToo) {
  side s(role::server, v5);
  auto bytes = from_hex("100f 0004 4d515454 06 02 003c 00 0002 6331");
  for (auto b : bytes) s.feed_bytes({&b, 1});  // byte by byte
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020001");  // MQTT-3.1.2-2 (3.1.1), not 5.0's 0x84
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x84"});
}

TEST(ServerConnect, MqisdpWithAnotherLevelGetsV31Connack) {
  for (const char* level : {"04", "05", "06"}) {
    side s(role::server, v311);
    s.feed_bytes(from_hex(std::string("1010 0006 4d5149736470 ") + level + " 02 003c 0002 6331"));
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020001") << level;  // 3.1: return code 1, the same bytes
    EXPECT_TRUE(s.conn.closing());
    EXPECT_EQ(s.calls(), strings{"closed 0x84"});
  }
}

TEST(ServerConnect, WrongProtocolNameClosesSilently) {
  side s(role::server, v311);
  s.feed_bytes(from_hex("100e 0004 4d515458 04 02 003c 0002 6331"));
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x84"});
}

TEST(ServerConnect, MalformedV5ConnectGetsConnackWithTheReason) {
  side s(role::server, v5);
  s.feed_bytes(from_hex("100f 0004 4d515454 05 03 003c 00 0002 6331"));  // reserved flag set
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003008100");
  EXPECT_EQ(s.calls(), strings{"closed 0x81"});
}

TEST(ServerConnect, MalformedV311ConnectClosesSilently) {
  side s(role::server, v311);
  s.feed_bytes(from_hex("100c 0004 4d515454 04 03 003c 0000"));
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), strings{"closed 0x81"});
}

TEST(ServerConnect, FirstPacketNotConnect) {
  side s(role::server, v5);
  s.feed(pingreq_packet{});
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
  s.feed(connect_msg(v5));  // nothing more is read
  EXPECT_TRUE(s.calls().empty());
}

TEST(ServerConnect, SecondConnectV5IsAProtocolError) {
  server s(v5);
  s.open();
  s.feed(connect_msg(v5));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x82"});
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
}

TEST(ServerConnect, SecondConnectV311Closes) {
  server s(v311);
  s.open();
  s.feed(connect_msg(v311));
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
}

TEST(ServerConnect, ConnectTimeout) {
  side s(role::server, v5);
  EXPECT_EQ(s.conn.next_timeout(), t0 + 10s);
  s.conn.on_timeout(t0 + 9999ms);  // early: nothing
  EXPECT_FALSE(s.conn.closing());
  s.feed_bytes(from_hex("10"));  // a partial CONNECT does not stop the clock
  EXPECT_EQ(s.conn.next_timeout(), t0 + 10s);
  s.conn.on_timeout(t0 + 10s);
  EXPECT_TRUE(s.conn.closing());
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), strings{"closed timed_out"});
  EXPECT_EQ(s.conn.next_timeout(), std::nullopt);
}

TEST(ServerConnect, ConnectTimeoutStartsAtFirstBytesWithoutAnOpeningTime) {
  recorder h;
  connection c(role::server, h, {.connect_timeout = 2s});
  EXPECT_EQ(c.next_timeout(), std::nullopt);
  auto b = from_hex("10");
  c.receive(b, t0);
  EXPECT_EQ(c.next_timeout(), t0 + 2s);
}

TEST(ServerConnect, PacketsAreHeldUntilAccept) {
  side s(role::server, v5);
  auto bytes = encode(connect_msg(v5), v5);
  for (const packet& p : {packet{pub("a/b", "one", qos::at_least_once, 1)}, packet{pingreq_packet{}},
                          packet{pub("a/b", "two")}}) {
    auto more = encode(p, v5);
    bytes.insert(bytes.end(), more.begin(), more.end());
  }
  s.feed_bytes(bytes);
  EXPECT_EQ(s.calls(), strings{"connect c1 ka=60"});
  EXPECT_TRUE(s.conn.output().empty());
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=0 rc=0x00", "PUBACK 1 rc=0x00", "PINGRESP"}));
  EXPECT_EQ(s.calls(), (strings{"publish a/b q1 id=1 'one'", "publish a/b q0 'two'"}));
}

TEST(ServerConnect, AuthReachesTheHandlerBeforeAccept) {
  side s(role::server, v5);
  s.feed(enhanced_connect());
  s.conn.send(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
  s.feed(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "auth rc=0x18"}));
  EXPECT_EQ(s.out(), strings{"AUTH rc=0x18 {15=SCRAM-SHA-1}"});
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(s.out(), strings{"CONNACK sp=0 rc=0x00"});
  // Re-authentication (4.12.1) after CONNACK, with the same method.
  s.feed(auth_packet{reason::re_authenticate, auth_method("SCRAM-SHA-1"), {}});
  EXPECT_EQ(s.calls(), strings{"auth rc=0x19"});
  EXPECT_FALSE(s.conn.closing());
}

// MQTT 5.0 3.15: an AUTH needs the CONNECT's Authentication Method
// (MQTT-4.12.0-5/-6/-7, MQTT-4.12.1-1).
TEST(ServerConnect, AuthWithoutAMethodInTheConnectIsAProtocolError) {
  {  // before the CONNACK: a CONNACK says so
    side s(role::server, v5);
    s.feed(connect_msg(v5));
    s.calls();
    s.feed(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003008200");
    EXPECT_EQ(s.calls(), strings{"closed 0x82"});
  }
  {  // after: a DISCONNECT
    server s(v5);
    s.open();
    s.feed(auth_packet{reason::re_authenticate, auth_method("SCRAM-SHA-1"), {}});
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "e00182");
    EXPECT_EQ(s.calls(), strings{"closed 0x82"});
  }
}

TEST(ServerConnect, AuthWithAnotherMethodThanTheConnectsIsAProtocolError) {
  for (auto props : {auth_method("OTHER"), properties{}}) {
    server s(v5);
    s.open(enhanced_connect());
    s.feed(auth_packet{reason::re_authenticate, props, {}});
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "e00182");
    EXPECT_EQ(s.calls(), strings{"closed 0x82"});
  }
}

TEST(ServerConnect, AuthWithTheClientsReasonCodesOnly) {
  // 3.15.2.1: Success (0x00) is the Server's to send.
  server s(v5);
  s.open(enhanced_connect());
  s.feed(auth_packet{reason::success, auth_method("SCRAM-SHA-1"), {}});
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "e00182");
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
}

TEST(ServerConnect, AcceptInsideOnConnectGoesOnWithTheSameBuffer) {
  side s(role::server, v311);
  s.h.connect_hook = [&](connect_packet&) { s.conn.accept(s.st, {}, s.now); };
  auto bytes = encode(connect_msg(v311), v311);
  auto more = encode(pub("x", "p", qos::exactly_once, 9), v311);
  bytes.insert(bytes.end(), more.begin(), more.end());
  s.feed_bytes(bytes);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=0 rc=0x00", "PUBREC 9 rc=0x00"}));
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "publish x q2 id=9 'p'"}));
}

TEST(ServerConnect, AnyByteSplitGivesTheSameResult) {
  auto bytes = encode(connect_msg(v5), v5);
  for (const packet& p : {packet{pub("a/b", "one", qos::at_least_once, 1)}, packet{pingreq_packet{}},
                          packet{pub("a/b", "two", qos::exactly_once, 2)}, packet{pubrel_packet{2, {}, {}, {}}}}) {
    auto more = encode(p, v5);
    bytes.insert(bytes.end(), more.begin(), more.end());
  }
  const strings want_out{"CONNACK sp=0 rc=0x00", "PUBACK 1 rc=0x00", "PINGRESP", "PUBREC 2 rc=0x00",
                         "PUBCOMP 2 rc=0x00"};
  const strings want_calls{"connect c1 ka=60", "publish a/b q1 id=1 'one'", "publish a/b q2 id=2 'two'"};
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    side s(role::server, v5);
    s.h.connect_hook = [&](connect_packet&) { s.conn.accept(s.st, {}, s.now); };
    s.feed_bytes(bytes_view(bytes).subspan(0, cut));
    s.feed_bytes(bytes_view(bytes).subspan(cut));
    ASSERT_EQ(s.out(), want_out) << "cut at " << cut;
    ASSERT_EQ(s.calls(), want_calls) << "cut at " << cut;
  }
}

TEST(ServerConnect, ErrorWhileAwaitingAcceptV5AnswersWithConnack) {
  side s(role::server, v5);
  s.feed(connect_msg(v5));
  s.calls();
  s.feed_bytes(from_hex("0000"));  // reserved packet type 0
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003008100");
  EXPECT_EQ(s.calls(), strings{"closed 0x81"});
  s.conn.accept(s.st, {}, s.now);  // ignored
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_FALSE(s.conn.connected());
}

TEST(ServerConnect, InboundPacketTooLarge) {
  server s(v5, {.maximum_packet_size = 20});
  s.open();
  s.feed(pub("a/b", std::string(30, 'x')));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x95"});
  EXPECT_EQ(s.calls(), strings{"closed 0x95"});
}

TEST(ServerConnect, ClientOnlyPacketIsAProtocolError) {
  server s(v5);
  s.open();
  s.feed(suback_packet{1, {reason::granted_qos_0}, {}});
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x82"});
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
}

TEST(ServerConnect, SubscribeAndUnsubscribeReachTheHandler) {
  server s(v5);
  s.open();
  s.feed(subscribe_packet{3, {{"a/#", {}}}, {}});
  s.feed(unsubscribe_packet{4, {"a/#"}, {}});
  EXPECT_EQ(s.calls(), (strings{"subscribe 3", "unsubscribe 4"}));
  s.conn.send(suback_packet{3, {reason::granted_qos_0}, {}});
  s.conn.send(unsuback_packet{4, {reason::success}, {}});
  EXPECT_EQ(s.out(), (strings{"SUBACK 3 0x00", "UNSUBACK 4 0x00"}));
}

// ================================================================ keep alive

TEST(KeepAlive, ServerV5ClosesAfterOneAndAHalfIntervals) {
  server s(v5);
  s.open(10);
  EXPECT_EQ(s.conn.next_timeout(), t0 + 15s);
  s.advance(5s);
  s.feed(pingreq_packet{});
  EXPECT_EQ(s.out(), strings{"PINGRESP"});
  EXPECT_EQ(s.conn.next_timeout(), t0 + 20s);
  s.conn.on_timeout(t0 + 19s);
  EXPECT_FALSE(s.conn.closing());
  s.conn.on_timeout(t0 + 20s);
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x8d"});
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x8d"});
}

TEST(KeepAlive, ServerV311ClosesWithoutDisconnect) {
  server s(v311);
  s.open(10);
  s.conn.on_timeout(t0 + 15s);
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x8d"});
}

TEST(KeepAlive, AnyPacketResetsTheServerTimer) {
  server s(v311);
  s.open(4);
  s.advance(5s);
  s.feed(pub("t", "x"));
  EXPECT_EQ(s.conn.next_timeout(), t0 + 11s);
}

TEST(KeepAlive, ServerKeepAliveImposedOnV5) {
  server s(v5);
  s.open(connect_msg(v5, 100), {.server_keep_alive = 20});
  EXPECT_EQ(s.conn.peer().keep_alive, 20);
  EXPECT_EQ(s.conn.next_timeout(), t0 + 30s);
}

TEST(KeepAlive, ServerKeepAliveOnV311OnlyShortens) {
  {
    server s(v311);
    s.open(connect_msg(v311, 100), {.server_keep_alive = 20});
    EXPECT_EQ(s.conn.next_timeout(), t0 + 30s);
  }
  {
    server s(v311);
    s.open(connect_msg(v311, 10), {.server_keep_alive = 20});
    EXPECT_EQ(s.conn.next_timeout(), t0 + 15s);
  }
  {
    server s(v311);
    s.open(connect_msg(v311, 0), {.server_keep_alive = 20});
    EXPECT_EQ(s.conn.next_timeout(), t0 + 30s);
  }
}

TEST(KeepAlive, ZeroMeansNoTimer) {
  server s(v5);
  s.open(0);
  EXPECT_EQ(s.conn.next_timeout(), std::nullopt);
  client c(v5);
  c.open(0);
  EXPECT_EQ(c.conn.next_timeout(), std::nullopt);
}

TEST(KeepAlive, ClientPingCycle) {
  client c(v5);
  c.open(10);
  EXPECT_EQ(c.conn.next_timeout(), t0 + 10s);
  c.advance(4s);
  EXPECT_EQ(c.conn.publish(pub("t", "x"), c.now), enqueue_result::queued);
  EXPECT_EQ(c.out(), strings{"PUBLISH t q0 'x'"});
  EXPECT_EQ(c.conn.next_timeout(), t0 + 14s);
  c.conn.on_timeout(t0 + 14s);
  EXPECT_EQ(c.out(), strings{"PINGREQ"});
  EXPECT_EQ(c.conn.next_timeout(), t0 + 24s);  // PINGRESP due within the keep alive
  c.now = t0 + 15s;
  c.feed(pingresp_packet{});
  EXPECT_EQ(c.conn.next_timeout(), t0 + 24s);  // the next PINGREQ: 10 s after the last send
  c.conn.on_timeout(t0 + 24s);
  EXPECT_EQ(c.out(), strings{"PINGREQ"});
  c.conn.on_timeout(t0 + 34s);
  EXPECT_TRUE(c.conn.closing());
  EXPECT_TRUE(c.conn.output().empty());
  EXPECT_EQ(c.calls(), strings{"closed 0x8d"});
}

TEST(KeepAlive, ClientPingTimeoutOption) {
  client c(v311, {.ping_timeout = 2s});
  c.open(10);
  c.conn.on_timeout(t0 + 10s);
  EXPECT_EQ(c.out(), strings{"PINGREQ"});
  EXPECT_EQ(c.conn.next_timeout(), t0 + 12s);
  c.conn.on_timeout(t0 + 12s);
  EXPECT_TRUE(c.conn.closing());
  EXPECT_EQ(c.calls(), strings{"closed 0x8d"});
}

TEST(KeepAlive, ClientUsesTheServerKeepAlive) {
  client c(v5);
  c.open(connect_msg(v5, 60), connack_packet{false, reason::success, props_of({{property_id::server_keep_alive, 5}})});
  EXPECT_EQ(c.conn.peer().keep_alive, 5);
  EXPECT_EQ(c.conn.next_timeout(), t0 + 5s);
}

TEST(KeepAlive, ClientConnackTimeout) {
  side c(role::client, v5, {.connect_timeout = 3s});
  EXPECT_EQ(c.conn.next_timeout(), std::nullopt);
  c.conn.connect(connect_msg(v5), c.st, t0);
  EXPECT_EQ(c.conn.next_timeout(), t0 + 3s);
  c.conn.on_timeout(t0 + 3s);
  EXPECT_TRUE(c.conn.closing());
  EXPECT_EQ(c.calls(), strings{"closed timed_out"});
}

TEST(KeepAlive, ServerAwaitingAcceptUsesTheRequestedKeepAlive) {
  side s(role::server, v5);
  s.feed(connect_msg(v5, 2));
  EXPECT_EQ(s.conn.next_timeout(), t0 + 3s);
  s.conn.on_timeout(t0 + 3s);
  EXPECT_TRUE(s.conn.output().empty());  // no CONNACK was sent: no DISCONNECT either
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=2", "closed 0x8d"}));
}

}  // namespace
}  // namespace tern::session
