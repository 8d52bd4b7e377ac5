// One test per refusal rule of the decoder: the reason code the
// specification names, and the rule in the error's detail. Every case is
// also fed one byte at a time, and must fail the same way.
#include <gtest/gtest.h>

#include "support/hex.hpp"
#include "tern/codec/codec.hpp"

namespace tern {
namespace {

using testing::from_hex;
using testing::packet_bytes;

constexpr auto v31 = protocol_version::v3_1;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;
constexpr auto unknown = protocol_version::unknown;

struct refusal {
  std::string name;
  std::vector<std::byte> bytes;
  protocol_version version;
  reason code;
  std::string rule;  // a part of the detail
};

// CONNECT bodies: name, level, flags, keep alive (60), [properties], client id "a".
const char* connect311(const char* flags) {
  static std::string s;
  s = std::string("00 04 4d 51 54 54 04 ") + flags + " 00 3c 00 01 61";
  return s.c_str();
}

std::vector<refusal> refusals() {
  std::vector<refusal> r;
  auto add = [&](std::string n, std::vector<std::byte> b, protocol_version v, reason c, std::string rule) {
    r.push_back({std::move(n), std::move(b), v, c, std::move(rule)});
  };
  const auto mal = reason::malformed_packet;
  const auto pro = reason::protocol_error;

  // Fixed header
  add("ReservedPacketType0", from_hex("00 00"), v311, mal, "reserved control packet type");
  add("AuthBefore5", from_hex("f0 00"), v311, mal, "AUTH (type 15) is reserved");
  add("PubackFlagsSet", packet_bytes(0x41, "00 01"), v311, mal, "MQTT-2.1.3-1");
  add("SubscribeFlagsClear", packet_bytes(0x80, "00 01 00 01 61 00"), v311, mal, "MQTT-2.1.3-1");
  add("PubrelFlagsClear", packet_bytes(0x60, "00 01"), v5, mal, "MQTT-2.1.3-1");
  add("PingreqFlagsSet", from_hex("c1 00"), v5, mal, "MQTT-2.1.3-1");
  add("FirstPacketNotConnect", packet_bytes(0x30, "00 01 61"), unknown, pro, "MQTT-3.1.0-1");
  add("RemainingLengthFiveBytes", from_hex("30 ff ff ff ff 7f"), v311, mal, "longer than 4 bytes");
  add("RemainingLengthNotMinimal", from_hex("c0 80 00"), v311, mal, "MQTT-1.5.5-1");
  add("RemainingLengthTooShort", packet_bytes(0x30, "00 05 61"), v311, mal, "runs past the end");

  // CONNECT
  add("ProtocolNameWrong", packet_bytes(0x10, "00 04 4d 51 54 58 04 02 00 3c 00 01 61"), unknown,
      reason::unsupported_protocol_version, "MQTT-3.1.2-1");
  add("ProtocolLevelUnsupported", packet_bytes(0x10, "00 04 4d 51 54 54 06 02 00 3c 00 01 61"), unknown,
      reason::unsupported_protocol_version, "MQTT-3.1.2-2");
  add("ProtocolLevelNameMismatch", packet_bytes(0x10, "00 06 4d 51 49 73 64 70 04 02 00 3c 00 01 61"), unknown,
      reason::unsupported_protocol_version, "MQTT-3.1.2-2");
  add("ConnectReservedFlag", packet_bytes(0x10, connect311("03")), unknown, mal, "MQTT-3.1.2-3");
  add("WillQosWithoutWill", packet_bytes(0x10, connect311("0a")), unknown, mal, "MQTT-3.1.2-11");
  add("WillRetainWithoutWill", packet_bytes(0x10, connect311("22")), unknown, mal, "MQTT-3.1.2-13");
  add("WillQos3", packet_bytes(0x10, "00 04 4d 51 54 54 04 1e 00 3c 00 01 61 00 01 77 00 00"), unknown, mal,
      "MQTT-3.1.2-12");
  add("PasswordWithoutUserName311", packet_bytes(0x10, "00 04 4d 51 54 54 04 42 00 3c 00 01 61 00 01 70"),
      unknown, mal, "MQTT-3.1.2-22");
  add("PasswordWithoutUserName31",
      packet_bytes(0x10, "00 06 4d 51 49 73 64 70 03 42 00 3c 00 01 61 00 01 70"), unknown, mal,
      "MQTT-3.1.2-22");
  add("ConnectTrailingBytes", packet_bytes(0x10, "00 04 4d 51 54 54 04 02 00 3c 00 01 61 00"), unknown, mal,
      "left over");
  add("ConnectClientIdInvalidUtf8", packet_bytes(0x10, "00 04 4d 51 54 54 04 02 00 3c 00 01 ff"), unknown, mal,
      "MQTT-1.5.4-1");
  add("EmptyWillTopic", packet_bytes(0x10, "00 04 4d 51 54 54 04 06 00 3c 00 01 61 00 00 00 00"), unknown, mal,
      "MQTT-4.7.3-1");
  add("WildcardWillTopic", packet_bytes(0x10, "00 04 4d 51 54 54 04 06 00 3c 00 01 61 00 01 23 00 00"), unknown,
      mal, "MQTT-3.3.2-2");
  add("ConnectPropertyNotAllowed", packet_bytes(0x10, "00 04 4d 51 54 54 05 02 00 3c 03 23 00 01 00 01 61"),
      unknown, mal, "not valid for this packet");
  add("WillPropertyNotAllowed",
      packet_bytes(0x10, "00 04 4d 51 54 54 05 06 00 3c 00 00 01 61 05 11 00 00 00 01 00 01 77 00 00"), unknown,
      mal, "not valid for this packet");
  add("ConnectAuthDataWithoutMethod",
      packet_bytes(0x10, "00 04 4d 51 54 54 05 02 00 3c 04 16 00 01 78 00 01 61"), unknown, pro,
      "Authentication Data without Authentication Method");

  // CONNACK
  add("ConnackReservedFlags", packet_bytes(0x20, "02 00"), v311, mal, "MQTT-3.2.2-1");
  add("ConnackSessionPresentWithFailure311", packet_bytes(0x20, "01 05"), v311, pro, "MQTT-3.2.2-4");
  add("ConnackReturnCodeAbove5", packet_bytes(0x20, "00 06"), v311, mal, "return code above 5");
  add("ConnackReasonNotValid5", packet_bytes(0x20, "00 01 00"), v5, mal, "reason code not valid in CONNACK");
  add("ConnackSessionPresentWithFailure5", packet_bytes(0x20, "01 80 00"), v5, pro, "MQTT-3.2.2-6");
  add("ConnackWithoutProperties5", packet_bytes(0x20, "00 00"), v5, mal, "runs past the end");
  add("ConnackTooLong311", packet_bytes(0x20, "00 00 00"), v311, mal, "left over");

  // PUBLISH
  add("PublishQos3", packet_bytes(0x36, "00 01 61 00 01"), v311, mal, "MQTT-3.3.1-4");
  add("PublishDupOnQos0", packet_bytes(0x38, "00 01 61"), v311, mal, "MQTT-3.3.1-2");
  add("PublishTopicPlus", packet_bytes(0x30, "00 03 61 2f 2b"), v311, mal, "MQTT-3.3.2-2");
  add("PublishTopicHash", packet_bytes(0x30, "00 01 23 00"), v5, mal, "MQTT-3.3.2-2");
  add("PublishPacketIdZero", packet_bytes(0x32, "00 01 61 00 00"), v311, pro, "MQTT-2.2.1-3");
  add("PublishEmptyTopic311", packet_bytes(0x30, "00 00 78"), v311, mal, "MQTT-4.7.3-1");
  add("PublishEmptyTopicWithoutAlias5", packet_bytes(0x30, "00 00 00 78"), v5, pro, "without a Topic Alias");
  add("PublishTopicIllFormedUtf8", packet_bytes(0x30, "00 02 c0 80"), v311, mal, "MQTT-1.5.4-1");
  add("PublishTopicSurrogate", packet_bytes(0x30, "00 03 ed a0 80"), v311, mal, "surrogate");
  add("PublishTopicNullCharacter", packet_bytes(0x30, "00 01 00"), v311, mal, "MQTT-1.5.4-2");
  add("PublishPropertyNotAllowed", packet_bytes(0x30, "00 01 61 05 11 00 00 00 01"), v5, mal,
      "not valid for this packet");
  add("PublishUnknownProperty", packet_bytes(0x30, "00 01 61 02 05 00"), v5, mal, "unknown property");
  add("PublishPropertyLengthPastEnd", packet_bytes(0x30, "00 01 61 05 01"), v5, mal, "Property Length");
  add("PublishPropertyTwice", packet_bytes(0x30, "00 01 61 04 01 00 01 01"), v5, pro, "more than once");
  add("PublishTopicAliasZero", packet_bytes(0x30, "00 01 61 03 23 00 00"), v5, reason::topic_alias_invalid,
      "MQTT-3.3.2-8");
  add("PublishPayloadFormatInvalid", packet_bytes(0x30, "00 01 61 02 01 02"), v5, pro, "Payload Format Indicator");
  add("PublishSubscriptionIdentifierZero", packet_bytes(0x30, "00 01 61 02 0b 00"), v5, pro,
      "Subscription Identifier of 0");
  add("PublishPropertyVarintNotMinimal", packet_bytes(0x30, "00 01 61 03 0b 81 00"), v5, mal, "MQTT-1.5.5-1");

  // PUBACK, PUBREC, PUBREL, PUBCOMP
  add("PubackTooLong311", packet_bytes(0x40, "00 01 00"), v311, mal, "longer than 2 bytes");
  add("PubackPacketIdZero", packet_bytes(0x40, "00 00"), v311, pro, "MQTT-2.2.1-3");
  add("PubackTooShort", packet_bytes(0x40, "00"), v311, mal, "runs past the end");
  add("PubackReasonNotValid", packet_bytes(0x40, "00 01 05"), v5, mal, "reason code not valid");
  add("PubrecReasonNotValid", packet_bytes(0x50, "00 01 92"), v5, mal, "reason code not valid");
  add("PubrelReasonNotValid", packet_bytes(0x62, "00 01 10"), v5, mal, "reason code not valid");
  add("PubcompReasonNotValid", packet_bytes(0x70, "00 01 80"), v5, mal, "reason code not valid");
  add("PubackTrailingBytes", packet_bytes(0x40, "00 01 00 00 ff"), v5, mal, "left over");
  add("PubackPropertyNotAllowed", packet_bytes(0x40, "00 01 00 02 01 01"), v5, mal, "not valid for this packet");

  // SUBSCRIBE
  add("SubscribeWithoutFilter311", packet_bytes(0x82, "00 01"), v311, pro,
      "MQTT-3.8.3-2 (3.1.1: MQTT-3.8.3-3): SUBSCRIBE without a topic filter");
  add("SubscribeWithoutFilter5", packet_bytes(0x82, "00 01 00"), v5, pro, "SUBSCRIBE without a topic filter");
  add("SubscribePacketIdZero", packet_bytes(0x82, "00 00 00 01 61 00"), v311, pro, "MQTT-2.2.1-3");
  add("SubscribeQos3", packet_bytes(0x82, "00 01 00 01 61 03"), v311, mal, "QoS 3");
  add("SubscribeReservedBits311", packet_bytes(0x82, "00 01 00 01 61 04"), v311, mal, "reserved bits");
  add("SubscribeReservedBits5", packet_bytes(0x82, "00 01 00 00 01 61 40"), v5, mal, "MQTT-3.8.3-5");
  add("SubscribeRetainHandling3", packet_bytes(0x82, "00 01 00 00 01 61 30"), v5, pro, "Retain Handling 3");
  add("SubscribeNoLocalShared", packet_bytes(0x82, "00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 04"), v5, pro,
      "MQTT-3.8.3-4");
  add("SubscribeEmptyFilter", packet_bytes(0x82, "00 01 00 00 00"), v311, mal, "MQTT-4.7.3-1");
  add("SubscribeMissingOptions", packet_bytes(0x82, "00 01 00 01 61"), v311, mal, "runs past the end");
  add("SubscribeTwoSubscriptionIdentifiers", packet_bytes(0x82, "00 01 04 0b 01 0b 02 00 01 61 00"), v5, pro,
      "more than once");

  // SUBACK
  add("SubackWithoutCodes", packet_bytes(0x90, "00 01"), v311, pro, "SUBACK without a reason code");
  add("SubackCodeNotValid311", packet_bytes(0x90, "00 01 03"), v311, mal, "MQTT-3.9.3-2");
  add("SubackCodeNotValid5", packet_bytes(0x90, "00 01 00 10"), v5, mal, "not valid in SUBACK");

  // UNSUBSCRIBE, UNSUBACK
  add("UnsubscribeWithoutFilter", packet_bytes(0xa2, "00 01"), v311, pro, "MQTT-3.10.3-2");
  add("UnsubscribeEmptyFilter", packet_bytes(0xa2, "00 01 00 00"), v311, mal, "MQTT-4.7.3-1");
  add("UnsubscribeFilterInvalidUtf8", packet_bytes(0xa2, "00 01 00 00 01 fe"), v5, mal, "MQTT-1.5.4-1");
  add("UnsubackTooLong311", packet_bytes(0xb0, "00 01 00"), v311, mal, "longer than 2 bytes");
  add("UnsubackWithoutCodes5", packet_bytes(0xb0, "00 01 00"), v5, pro, "without a reason code");
  add("UnsubackCodeNotValid5", packet_bytes(0xb0, "00 01 00 02"), v5, mal, "not valid in UNSUBACK");

  // PINGREQ, PINGRESP, DISCONNECT, AUTH
  add("PingreqWithBody", packet_bytes(0xc0, "00"), v311, mal, "PINGREQ with a body");
  add("PingrespWithBody", packet_bytes(0xd0, "00"), v5, mal, "PINGRESP with a body");
  add("DisconnectWithBody311", packet_bytes(0xe0, "00"), v311, mal, "DISCONNECT with a body");
  add("DisconnectReasonNotValid", packet_bytes(0xe0, "01"), v5, mal, "not valid in DISCONNECT");
  add("DisconnectPropertyNotAllowed", packet_bytes(0xe0, "00 02 23 00"), v5, mal, "not valid for this packet");
  add("AuthReasonNotValid", packet_bytes(0xf0, "01"), v5, mal, "not valid in AUTH");
  add("AuthBefore5AfterConnect", packet_bytes(0xf0, ""), v31, mal, "AUTH (type 15)");
  return r;
}

class Refusal : public ::testing::TestWithParam<refusal> {};

TEST_P(Refusal, IsRefusedWithTheSpecifiedReasonAndRule) {
  const auto& c = GetParam();
  decoder d({c.version});
  bytes_view in(c.bytes);
  auto r = d.next(in);
  ASSERT_FALSE(r) << "accepted";
  EXPECT_EQ(r.error().code, make_error_code(c.code)) << r.error().message();
  EXPECT_NE(r.error().detail.find(c.rule), std::string_view::npos) << r.error().message();
  // The decoder stays failed.
  bytes_view more(c.bytes);
  auto again = d.next(more);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, r.error().code);
}

TEST_P(Refusal, IsRefusedTheSameWayOneByteAtATime) {
  const auto& c = GetParam();
  decoder d({c.version});
  for (std::size_t i = 0; i < c.bytes.size(); ++i) {
    bytes_view one(c.bytes.data() + i, 1);
    auto r = d.next(one);
    if (!r) {
      EXPECT_EQ(r.error().code, make_error_code(c.code)) << r.error().message();
      EXPECT_NE(r.error().detail.find(c.rule), std::string_view::npos) << r.error().message();
      return;
    }
    ASSERT_FALSE(*r) << "decoded a packet at byte " << i;
  }
  FAIL() << "never refused";
}

INSTANTIATE_TEST_SUITE_P(Rules, Refusal, ::testing::ValuesIn(refusals()),
                         [](const auto& info) { return info.param.name; });

TEST(RefusalLimits, PacketTooLargeIsRefusedFromTheFixedHeaderAlone) {
  decoder d({v5, 1024});
  auto header = from_hex("30 ff ff 03");  // remaining length 65535: larger than 1024
  bytes_view in(header);
  auto r = d.next(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, reason::packet_too_large);
  EXPECT_NE(r.error().detail.find("Maximum Packet Size"), std::string_view::npos);
  EXPECT_LE(d.buffered(), 4u);  // nothing of the body was buffered
}

TEST(RefusalLimits, ThePacketAtTheLimitIsAccepted) {
  auto bytes = packet_bytes(0x30, "00 01 61 78 78 78");  // 8 bytes in all
  decoder at({v311, 8});
  bytes_view in(bytes);
  auto r = at.next(in);
  ASSERT_TRUE(r && *r);
  decoder below({v311, 7});
  bytes_view in2(bytes);
  auto r2 = below.next(in2);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, reason::packet_too_large);
}

TEST(RefusalLimits, ConnectAloneAsksForTheVersionAndTeachesIt) {
  decoder d;
  auto c = packet_bytes(0x10, "00 04 4d 51 54 54 05 02 00 3c 00 00 01 61");
  bytes_view in(c);
  auto r = d.next(in);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(d.version(), v5);
  auto p = packet_bytes(0x30, "00 01 61 00 78");  // with a 5.0 property length
  bytes_view in2(p);
  auto r2 = d.next(in2);
  ASSERT_TRUE(r2 && *r2) << r2.error().message();
  EXPECT_EQ(std::get<publish_packet>(**r2).payload().view(), "x");
}

}  // namespace
}  // namespace tern
