#include "tern/core/wire.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tern::wire {
namespace {

TEST(Wire, WritesAndReadsEveryRepresentation) {
  std::vector<std::byte> buf(64);
  writer w(buf.data());
  w.u8(0xAB);
  w.u16(0x1234);
  w.u32(0xDEADBEEF);
  w.varint(300);
  w.utf8("a/b");
  w.binary(as_bytes("\x01\x02"));
  w.utf8_pair({"k", "v"});
  buf.resize(static_cast<std::size_t>(w.position() - buf.data()));
  EXPECT_EQ(buf.size(), 1u + 2 + 4 + 2 + utf8_size("a/b") + binary_size(2) + utf8_pair_size({"k", "v"}));

  reader r(buf);
  EXPECT_EQ(*r.u8(), 0xAB);
  EXPECT_EQ(*r.u16(), 0x1234);
  EXPECT_EQ(*r.u32(), 0xDEADBEEFu);
  EXPECT_EQ(*r.varint(), 300u);
  EXPECT_EQ(*r.utf8(), "a/b");
  EXPECT_EQ(as_chars(*r.binary()), "\x01\x02");
  EXPECT_EQ(*r.utf8_pair(), (string_pair{"k", "v"}));
  EXPECT_TRUE(r.empty());
}

TEST(Wire, RefusesFieldsPastTheEnd) {
  std::vector<std::byte> buf{std::byte{0x00}, std::byte{0x05}, std::byte{'a'}};
  reader r(buf);
  auto s = r.utf8();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, reason::malformed_packet);
  reader r2({buf.data(), 1});
  EXPECT_FALSE(r2.u16());
  reader r3({buf.data(), 0});
  EXPECT_FALSE(r3.u8());
  EXPECT_FALSE(r3.u32());
  EXPECT_FALSE(r3.varint());
}

TEST(Wire, ValidatesUtf8) {
  std::vector<std::byte> buf{std::byte{0x00}, std::byte{0x01}, std::byte{0x00}};
  reader r(buf);
  auto s = r.utf8();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().detail.find("U+0000"), std::string_view::npos);
}

}  // namespace
}  // namespace tern::wire
