#include "tern/codec/encoder.hpp"

#include <gtest/gtest.h>

#include <array>

#include "support/hex.hpp"

namespace tern {
namespace {

using testing::to_hex;

template <class P>
P with_id(std::uint16_t id) {
  P p;
  p.packet_id = id;
  return p;
}
disconnect_packet disconnect_with(reason r) {
  disconnect_packet d;
  d.reason_code = r;
  return d;
}

TEST(Encoder, SpecExampleBytes) {
  // Hand-checked encodings.
  EXPECT_EQ(to_hex(encode(pingreq_packet{}, protocol_version::v3_1_1)), "c000");
  publish_packet p("a/b", shared_bytes::copy("hi"), qos::at_least_once, true);
  p.packet_id = 10;
  EXPECT_EQ(to_hex(encode(p, protocol_version::v3_1_1)), "3309" "0003612f62" "000a" "6869");
  EXPECT_EQ(to_hex(encode(p, protocol_version::v5)), "330a" "0003612f62" "000a" "00" "6869");
  connect_packet c;
  c.version = protocol_version::v3_1_1;
  c.client_id = "a";
  EXPECT_EQ(to_hex(encode(c, protocol_version::v3_1_1)), "100d" "00044d515454" "04" "02" "003c" "000161");
  EXPECT_EQ(to_hex(encode(with_id<puback_packet>(5), protocol_version::v5)), "40020005");
  EXPECT_EQ(to_hex(encode(with_id<pubrel_packet>(5), protocol_version::v3_1_1)), "62020005");
  EXPECT_EQ(to_hex(encode(disconnect_with(reason::server_shutting_down), protocol_version::v5)), "e0018b");
  EXPECT_EQ(to_hex(encode(disconnect_with(reason::server_shutting_down), protocol_version::v3_1_1)), "e000");
}

TEST(Encoder, LongRemainingLength) {
  publish_packet p("t", shared_bytes::copy(std::string(20000, 'z')));
  auto b = encode(p, protocol_version::v3_1_1);
  EXPECT_EQ(b.size(), 1 + 3 + 3 + 20000u);
  EXPECT_EQ(to_hex(bytes_view(b.data(), 4)), "30a39c01");  // 20003
}

TEST(WriteBuffer, SharesLargePayloadsAndCopiesSmallOnes) {
  auto big = shared_bytes::copy(std::string(write_buffer::share_threshold, 'b'));
  publish_packet p1("x", big, qos::at_least_once);
  p1.packet_id = 1;
  write_buffer out;
  out.append(p1, protocol_version::v5);
  p1.packet_id = 2;
  out.append(p1, protocol_version::v3_1_1);
  out.append(publish_packet("y", shared_bytes::copy("small")), protocol_version::v5);
  out.append(with_id<puback_packet>(7), protocol_version::v5);
  const auto& bufs = out.buffers();
  // head1, payload, head2, payload, (small publish + puback merged)
  ASSERT_EQ(bufs.size(), 5u);
  EXPECT_EQ(bufs[1].data(), big.data());
  EXPECT_EQ(bufs[3].data(), big.data());
  EXPECT_EQ(big.use_count(), 4);  // big, p1, two references in the buffer
  out.clear();
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(big.use_count(), 2);
}

TEST(Encoder, FieldsAVersionLacksAreLeftOut) {
  auto a = with_id<puback_packet>(3);
  a.reason_code = reason::quota_exceeded;
  a.props = properties::builder{}.add<property_id::reason_string>("r").build();
  EXPECT_EQ(to_hex(encode(a, protocol_version::v3_1_1)), "40020003");
  subscribe_packet s{1, {{"a", {qos::at_least_once, true, true, retain_handling::dont_send}}}, {}};
  EXPECT_EQ(to_hex(encode(s, protocol_version::v3_1_1)), "8206" "0001" "000161" "01");
  EXPECT_EQ(to_hex(encode(s, protocol_version::v5)), "8207" "0001" "00" "000161" "2d");
}

TEST(Encoder, FitToDropsPropertiesInTheOrderGivenUntilThePacketFits) {
  constexpr std::array droppable{property_id::reason_string, property_id::user_property};
  puback_packet a{3, reason::quota_exceeded,
                  properties::builder{}.add<property_id::reason_string>("full").user_property("k", "v").build(), {}};
  packet p = a;
  ASSERT_EQ(to_hex(encode(p, protocol_version::v5)), "4012" "0003" "97" "0e" "1f000466756c6c" "2600016b000176");
  // 20 bytes: the Reason String goes (13 bytes), the User Property stays.
  EXPECT_TRUE(fit_to(p, protocol_version::v5, 13, droppable));
  EXPECT_EQ(to_hex(encode(p, protocol_version::v5)), "400b" "0003" "97" "07" "2600016b000176");
  // Then the User Property: the reason code stays.
  EXPECT_TRUE(fit_to(p, protocol_version::v5, 5, droppable));
  EXPECT_EQ(to_hex(encode(p, protocol_version::v5)), "4003" "0003" "97");
  // Nothing more to drop.
  EXPECT_FALSE(fit_to(p, protocol_version::v5, 4, droppable));
  // What fits is left alone, whatever it holds.
  packet q = a;
  EXPECT_TRUE(fit_to(q, protocol_version::v5, 20, droppable));
  EXPECT_EQ(q, packet{a});
  // Other properties go only when named.
  packet c =
      connack_packet{false, reason::success, properties::builder{}.add<property_id::topic_alias_maximum>(9).build()};
  EXPECT_FALSE(fit_to(c, protocol_version::v5, 5, droppable));
  EXPECT_TRUE(fit_to(c, protocol_version::v5, 5, std::array{property_id::topic_alias_maximum}));
  EXPECT_EQ(to_hex(encode(c, protocol_version::v5)), "2003000000");
}

}  // namespace
}  // namespace tern
