// Black-box tests of tern::Broker over real sockets for protocol faults a
// hostile-client review found: what the broker answers, byte for byte, to a
// CONNECT of an unsupported protocol level, to an AUTH outside enhanced
// authentication, to the wrong acknowledgement of a delivery, and to a client
// whose Maximum Packet Size is smaller than what the broker would send.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "integration/broker_fixture.hpp"
#include "support/hex.hpp"

namespace tern::testing {
namespace {

constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

std::string hex_of(const test_client::raw_bytes& r) { return to_hex(r.bytes); }

// Every packet in `bytes` whole, valid 5.0 and at most `maximum` bytes
// (the decoder refuses a larger one: 0x95).
::testing::AssertionResult all_fit(const std::vector<std::byte>& bytes, std::uint32_t maximum) {
  decoder d({v5, maximum});
  bytes_view in(bytes);
  while (!in.empty()) {
    auto r = d.next(in);
    if (!r) return ::testing::AssertionFailure() << r.error().message() << ": " << to_hex(bytes);
    if (!*r) return ::testing::AssertionFailure() << "a packet cut short: " << to_hex(bytes);
  }
  return ::testing::AssertionSuccess();
}

// A 5.0 CONNECT announcing `maximum` as its Maximum Packet Size.
connect_packet small_client(std::string id, std::uint32_t maximum) {
  auto c = make_connect(std::move(id), v5);
  c.props = properties::builder{}.add<property_id::maximum_packet_size>(maximum).build();
  return c;
}

properties method(std::string_view m) {
  return properties::builder{}.add<property_id::authentication_method>(m).build();
}

// ---------------------------------------------------------------- an unsupported protocol level

struct bad_level {
  std::string name;
  std::string connect_body;  // hex
  friend void PrintTo(const bad_level& b, std::ostream* os) { *os << b.name; }
};

class UnsupportedProtocolLevel : public ::testing::TestWithParam<bad_level> {};

INSTANTIATE_TEST_SUITE_P(
    Connect, UnsupportedProtocolLevel,
    ::testing::Values(bad_level{"Mqtt6", "0004 4d515454 06 02 003c 00 0001 61"},
                      bad_level{"Mqtt255", "0004 4d515454 ff 02 003c 00 0001 61"},
                      bad_level{"Mqtt3", "0004 4d515454 03 02 003c 0001 61"},
                      bad_level{"Mqisdp4", "0006 4d5149736470 04 02 003c 0001 61"},
                      bad_level{"Mqisdp5", "0006 4d5149736470 05 02 003c 00 0001 61"},
                      bad_level{"Mqisdp6", "0006 4d5149736470 06 02 003c 0001 61"}),
    [](const ::testing::TestParamInfo<bad_level>& i) { return i.param.name; });

// MQTT-3.1.2-2 (3.1.1): return code 0x01, unacceptable protocol version, in
// the CONNACK every version can read (3.1 has the same two bytes), then close.
TEST_P(UnsupportedProtocolLevel, GetsTheOldConnackWithReturnCode1) {
  running_broker b(2);
  test_client c(b.port, v5);
  c.send_raw(packet_bytes(0x10, GetParam().connect_body));
  const auto got = c.receive_raw();
  EXPECT_EQ(hex_of(got), "20020001");
  EXPECT_TRUE(got.closed);
  test_client good(b.port, v5);
  EXPECT_EQ(good.connect("good").reason_code, reason::success);
}

// ---------------------------------------------------------------- AUTH outside enhanced authentication

// MQTT 5.0 3.15: "It is a Protocol Error for the Client or Server to send an
// AUTH packet if the CONNECT packet did not contain the same Authentication
// Method" (MQTT-4.12.0-7, MQTT-4.12.1-1): DISCONNECT 0x82, then close.
TEST(EnhancedAuth, AuthWithoutAMethodInTheConnectIsAProtocolError) {
  running_broker b(2);
  for (const auto& a : {auth_packet{reason::re_authenticate, method("SCRAM-SHA-1"), {}},
                        auth_packet{reason::continue_authentication, {}, {}}}) {
    test_client c(b.port, v5);
    ASSERT_EQ(c.connect("plain").reason_code, reason::success);
    c.send(a);
    const auto got = c.receive_raw();
    EXPECT_EQ(hex_of(got), "e00182");
    EXPECT_TRUE(got.closed);
  }
}

// MQTT-4.12.0-1: the broker supports no Authentication Method (custom
// authentication is the on_connect hook's), so a CONNECT with one gets
// CONNACK 0x8C and the connection closes; the broker goes on serving. (What
// an AUTH with another method than the CONNECT's is, the session's
// ServerConnect tests pin.)
TEST(EnhancedAuth, AConnectWithAnAuthenticationMethodIsRefusedAndClosed) {
  running_broker b(2);
  test_client c(b.port, v5);
  auto connect = make_connect("enhanced", v5);
  connect.props = method("SCRAM-SHA-1");
  EXPECT_EQ(c.connect(connect).reason_code, reason::bad_authentication_method);
  EXPECT_TRUE(c.closed_by_broker());
  test_client good(b.port, v5);
  EXPECT_EQ(good.connect("good").reason_code, reason::success);
}

// ---------------------------------------------------------------- the wrong acknowledgement

class WrongAck : public ::testing::TestWithParam<protocol_version> {
 protected:
  // A delivery at QoS `q` to a subscriber of the parameter's version.
  publish_packet deliver(qos q) {
    EXPECT_EQ(sub.connect("sub").reason_code, reason::success);
    sub.subscribe("t", qos::exactly_once);
    EXPECT_EQ(pub.connect("pub").reason_code, reason::success);
    pub.publish("t", "x", q);
    auto m = sub.expect<publish_packet>();
    EXPECT_EQ(m.qos, q);
    return m;
  }
  // A protocol error: 5.0 DISCONNECT 0x82 then close; 3.1.1 closes (MQTT-4.8.0-1).
  void expect_protocol_error() {
    const auto got = sub.receive_raw();
    EXPECT_EQ(hex_of(got), GetParam() == v5 ? "e00182" : "");
    EXPECT_TRUE(got.closed);
  }
  bool v5_sub() const { return GetParam() == v5; }

  running_broker b{2};
  test_client sub{b.port, GetParam()};
  test_client pub{b.port, v5};
};

INSTANTIATE_TEST_SUITE_P(Versions, WrongAck, ::testing::Values(v311, v5),
                         [](const ::testing::TestParamInfo<protocol_version>& i) {
                           return i.param == v5 ? "v5" : "v311";
                         });

TEST_P(WrongAck, PubrecForAQos1Delivery) {
  const auto m = deliver(qos::at_least_once);
  sub.send(pubrec_packet{m.packet_id, reason::success, {}, {}});
  expect_protocol_error();
}

TEST_P(WrongAck, PubcompForAQos1Delivery) {
  const auto m = deliver(qos::at_least_once);
  sub.send(pubcomp_packet{m.packet_id, reason::success, {}, {}});
  expect_protocol_error();
}

TEST_P(WrongAck, PubackForAQos2Delivery) {
  const auto m = deliver(qos::exactly_once);
  sub.send(puback_packet{m.packet_id, reason::success, {}, {}});
  expect_protocol_error();
}

TEST_P(WrongAck, PubcompWhereAPubrecIsDue) {
  const auto m = deliver(qos::exactly_once);
  sub.send(pubcomp_packet{m.packet_id, reason::success, {}, {}});
  expect_protocol_error();
}

TEST_P(WrongAck, PubackWhereAPubcompIsDue) {
  const auto m = deliver(qos::exactly_once);
  sub.send(pubrec_packet{m.packet_id, reason::success, {}, {}});
  EXPECT_EQ(sub.expect<pubrel_packet>().packet_id, m.packet_id);
  sub.send(puback_packet{m.packet_id, reason::success, {}, {}});
  expect_protocol_error();
}

// What is not a fault stays answered as before.
TEST_P(WrongAck, AcknowledgementsOfUnknownIdsKeepTheConnection) {
  EXPECT_EQ(sub.connect("sub").reason_code, reason::success);
  // PUBREC: PUBREL (5.0: 0x92, Packet Identifier not found, 3.6.2.1).
  sub.send(pubrec_packet{42, reason::success, {}, {}});
  EXPECT_EQ(hex_of(sub.receive_raw()), v5_sub() ? "6203002a92" : "6202002a");
  // PUBREL: PUBCOMP (5.0: 0x92).
  sub.send(pubrel_packet{42, reason::success, {}, {}});
  EXPECT_EQ(hex_of(sub.receive_raw()), v5_sub() ? "7003002a92" : "7002002a");
  // PUBACK and PUBCOMP end a flow: nothing to answer.
  sub.send(puback_packet{42, reason::success, {}, {}});
  sub.send(pubcomp_packet{42, reason::success, {}, {}});
  EXPECT_TRUE(sub.alive());
}

TEST_P(WrongAck, ARepeatedPubrecGetsThePubrelAgain) {
  const auto m = deliver(qos::exactly_once);
  sub.send(pubrec_packet{m.packet_id, reason::success, {}, {}});
  EXPECT_EQ(sub.expect<pubrel_packet>().packet_id, m.packet_id);
  sub.send(pubrec_packet{m.packet_id, reason::success, {}, {}});
  EXPECT_EQ(sub.expect<pubrel_packet>().packet_id, m.packet_id);
  sub.send(pubcomp_packet{m.packet_id, reason::success, {}, {}});
  EXPECT_TRUE(sub.alive());
}

// ---------------------------------------------------------------- the client's Maximum Packet Size

// The test broker announces Receive Maximum 1024, Maximum Packet Size
// 1048576 and Topic Alias Maximum 64: a 16-byte CONNACK, 27 with an Assigned
// Client Identifier.
TEST(MaximumPacketSize, TheConnackDropsTopicAliasMaximumToFit) {
  running_broker b(2);
  test_client c(b.port, v5);
  c.send(small_client("c1", 15));
  // Topic Alias Maximum absent: the client sends no alias (MQTT-3.2.2-17).
  EXPECT_EQ(hex_of(c.receive_raw()), "200b0000082104002700100000");
  EXPECT_TRUE(c.alive());
}

TEST(MaximumPacketSize, AConnackThatCannotFitIsARefusalThatDoes) {
  running_broker b(2);
  test_client c(b.port, v5);
  c.send(small_client("", 20));  // the Assigned Client Identifier cannot be left out (MQTT-3.2.2-16)
  const auto got = c.receive_raw();
  EXPECT_TRUE(all_fit(got.bytes, 20));
  EXPECT_EQ(hex_of(got), "2003009500");
  EXPECT_TRUE(got.closed);
  // Below the refusal's 5 bytes: nothing at all.
  test_client tiny(b.port, v5);
  tiny.send(small_client("c1", 4));
  const auto none = tiny.receive_raw();
  EXPECT_EQ(hex_of(none), "");
  EXPECT_TRUE(none.closed);
}

TEST(MaximumPacketSize, EveryPacketToASmallClientFits) {
  running_broker b(2);
  test_client c(b.port, v5);
  c.send(small_client("c1", 20));
  EXPECT_EQ(hex_of(c.receive_raw()), "200e00000b2104002700100000220040");  // 16 bytes: as it is
  subscribe_packet s{1, {}, {}};
  // A SUBACK with 16 reason codes is 21 bytes: not sent (MQTT-3.1.2-24/-25);
  // the subscriptions hold all the same.
  for (int i = 0; i < 16; ++i) s.entries.push_back({"big/" + std::to_string(i), {qos::at_least_once}});
  c.send(s);
  EXPECT_TRUE(c.nothing_within(300ms));
  s.packet_id = 2;
  s.entries.resize(15);  // 20 bytes: sent
  c.send(s);
  EXPECT_EQ(hex_of(c.receive_raw()), "9012000200" "010101010101010101010101010101");
  test_client p(b.port, v5);
  ASSERT_EQ(p.connect("p").reason_code, reason::success);
  p.publish("big/3", "x", qos::at_least_once);
  const auto m = c.receive_raw();
  EXPECT_EQ(hex_of(m), "320b" "00056269672f33" "0001" "00" "78");
  EXPECT_FALSE(m.closed);
  EXPECT_TRUE(c.alive());
}

// ---------------------------------------------------------------- closing inside accept

// A packet held while the CONNECT awaited its answer is processed inside
// accept(); when it breaks a rule, the connection closes there and the
// session of a clean start ends at once (the engine must not touch it after).
TEST(HeldPackets, ARuleBrokenByAHeldPacketClosesCleanly) {
  running_broker b(1);
  for (auto v : {v311, v5}) {
    test_client c(b.port, v);
    auto bytes = encode(make_connect("twice", v), v);
    const auto again = encode(make_connect("twice", v), v);
    bytes.insert(bytes.end(), again.begin(), again.end());
    c.send_raw(bytes);
    std::vector<packet> got;
    EXPECT_TRUE(c.closed_by_broker(&got));
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(std::get<connack_packet>(got[0]).reason_code, reason::success);
  }
  test_client good(b.port, v5);
  EXPECT_EQ(good.connect("good").reason_code, reason::success);
}

}  // namespace
}  // namespace tern::testing
