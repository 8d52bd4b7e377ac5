#include "tern/codec/decoder.hpp"

#include <gtest/gtest.h>

#include "support/hex.hpp"
#include "tern/codec/encoder.hpp"

namespace tern {
namespace {

using testing::from_hex;
using testing::packet_bytes;

TEST(Decoder, PublishViewsOneCopyOfItsBody) {
  auto bytes = packet_bytes(0x32, "00 03 61 2f 62 00 07 68 65 6c 6c 6f");
  decoder d({protocol_version::v3_1_1});
  bytes_view in(bytes);
  auto r = d.next(in);
  ASSERT_TRUE(r && *r);
  auto& p = std::get<publish_packet>(**r);
  EXPECT_EQ(p.topic(), "a/b");
  EXPECT_EQ(p.packet_id, 7);
  EXPECT_EQ(p.payload().view(), "hello");
  EXPECT_EQ(p.qos, qos::at_least_once);
  // Topic and payload live in the same block, right after each other.
  EXPECT_EQ(p.topic_bytes().data() + 3 + 2, p.payload().data());
  EXPECT_NE(reinterpret_cast<const void*>(p.payload().data()), reinterpret_cast<const void*>(bytes.data() + 9));
}

TEST(Decoder, NeedsMoreUntilTheLastByte) {
  auto bytes = packet_bytes(0xc0, "");
  decoder d({protocol_version::v5});
  bytes_view first(bytes.data(), 1);
  auto r = d.next(first);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_EQ(d.buffered(), 1u);
  bytes_view rest(bytes.data() + 1, 1);
  r = d.next(rest);
  ASSERT_TRUE(r && *r);
  EXPECT_TRUE(std::holds_alternative<pingreq_packet>(**r));
}

TEST(Decoder, StopsAfterOnePacket) {
  auto a = packet_bytes(0xc0, "");
  auto b = packet_bytes(0xd0, "");
  a.insert(a.end(), b.begin(), b.end());
  decoder d({protocol_version::v3_1_1});
  bytes_view in(a);
  auto r = d.next(in);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(in.size(), 2u);
  r = d.next(in);
  ASSERT_TRUE(r && *r);
  EXPECT_TRUE(std::holds_alternative<pingresp_packet>(**r));
  EXPECT_TRUE(in.empty());
}

TEST(Decoder, V31SubscribeMayCarryDup) {
  auto bytes = packet_bytes(0x8a, "00 01 00 01 61 01");
  auto r = decode(bytes, protocol_version::v3_1);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(decode(bytes, protocol_version::v3_1_1));
}

TEST(Decoder, ReasonCodesOfV311MapOntoV5) {
  auto r = decode(packet_bytes(0x20, "00 05"), protocol_version::v3_1_1);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<connack_packet>(*r).reason_code, reason::not_authorized);
  auto s = decode(packet_bytes(0x90, "00 01 00 01 02 80"), protocol_version::v3_1_1);
  ASSERT_TRUE(s);
  EXPECT_EQ(std::get<suback_packet>(*s).reason_codes,
            (std::vector<reason>{reason::granted_qos_0, reason::granted_qos_1, reason::granted_qos_2,
                                 reason::unspecified_error}));
}

TEST(Decoder, V5AcksKeepTheirWireForm) {
  for (const char* body : {"00 01", "00 01 00", "00 01 00 00", "00 01 10", "00 01 10 00"}) {
    auto bytes = packet_bytes(0x40, body);
    auto p = decode(bytes, protocol_version::v5);
    ASSERT_TRUE(p) << body;
    EXPECT_EQ(encode(*p, protocol_version::v5), bytes) << body;
  }
  for (const char* body : {"", "00", "00 00", "04"}) {
    auto bytes = packet_bytes(0xe0, body);
    auto p = decode(bytes, protocol_version::v5);
    ASSERT_TRUE(p) << body;
    EXPECT_EQ(encode(*p, protocol_version::v5), bytes) << body;
  }
}

TEST(Decoder, ConnectOfEveryVersionSetsTheVersion) {
  struct {
    const char* body;
    protocol_version v;
  } cases[] = {
      {"00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 61", protocol_version::v3_1},
      {"00 04 4d 51 54 54 04 02 00 3c 00 01 61", protocol_version::v3_1_1},
      {"00 04 4d 51 54 54 05 02 00 3c 00 00 01 61", protocol_version::v5},
  };
  for (const auto& c : cases) {
    decoder d;
    auto bytes = packet_bytes(0x10, c.body);
    bytes_view in(bytes);
    auto r = d.next(in);
    ASSERT_TRUE(r && *r);
    EXPECT_EQ(std::get<connect_packet>(**r).version, c.v);
    EXPECT_EQ(d.version(), c.v);
  }
}

}  // namespace
}  // namespace tern
