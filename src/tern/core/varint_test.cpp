#include "tern/core/varint.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tern {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(std::byte(b));
  return out;
}

TEST(Varint, SpecExamplesRoundTrip) {
  // The boundaries of MQTT 5.0 table 1-1.
  struct {
    std::uint32_t value;
    std::vector<std::byte> wire;
  } cases[] = {
      {0, bytes({0x00})},
      {127, bytes({0x7F})},
      {128, bytes({0x80, 0x01})},
      {16'383, bytes({0xFF, 0x7F})},
      {16'384, bytes({0x80, 0x80, 0x01})},
      {2'097'151, bytes({0xFF, 0xFF, 0x7F})},
      {2'097'152, bytes({0x80, 0x80, 0x80, 0x01})},
      {268'435'455, bytes({0xFF, 0xFF, 0xFF, 0x7F})},
  };
  for (const auto& c : cases) {
    std::byte buf[4];
    ASSERT_EQ(varint::size(c.value), c.wire.size());
    ASSERT_EQ(varint::encode(c.value, buf), c.wire.size());
    EXPECT_EQ(std::vector<std::byte>(buf, buf + c.wire.size()), c.wire);
    auto r = varint::decode(c.wire);
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->value, c.value);
    EXPECT_EQ((*r)->size, c.wire.size());
  }
}

TEST(Varint, AsksForMoreWhenCutShort) {
  auto wire = bytes({0x80, 0x80, 0x01});
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto r = varint::decode({wire.data(), n});
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r) << n;
  }
}

TEST(Varint, RefusesAFifthByte) {
  auto r = varint::decode(bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x7F}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, reason::malformed_packet);
}

TEST(Varint, RefusesNonMinimalEncoding) {
  auto r = varint::decode(bytes({0x80, 0x00}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("MQTT-1.5.5-1"), std::string_view::npos);
}

}  // namespace
}  // namespace tern
