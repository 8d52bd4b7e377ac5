#include "tern/core/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tern::utf8 {
namespace {

using namespace std::string_literals;

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid(""));
  EXPECT_TRUE(is_valid("sensors/kitchen/temperature"));
  EXPECT_TRUE(is_valid("caf\xC3\xA9"));                   // U+00E9
  EXPECT_TRUE(is_valid("\xE2\x82\xAC 12"));                // U+20AC
  EXPECT_TRUE(is_valid("\xF0\x9F\x98\x80"));               // U+1F600
  EXPECT_TRUE(is_valid("\xEF\xBF\xBF"));                   // U+FFFF: a non-character, allowed
  EXPECT_TRUE(is_valid("\xF4\x8F\xBF\xBF"));               // U+10FFFF
  EXPECT_TRUE(is_valid("\xED\x9F\xBF"));                   // U+D7FF, just below the surrogates
  EXPECT_TRUE(is_valid("\x01\x7F"));                       // control characters are only a SHOULD NOT
  EXPECT_TRUE(is_valid(std::string(1000, 'a') + "\xC3\xA9" + std::string(9, 'b')));
}

TEST(Utf8, RefusesNullCharacter) {
  auto e = validate("a\0b"s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, reason::malformed_packet);
  EXPECT_NE(e->detail.find("MQTT-1.5.4-2"), std::string_view::npos);
  EXPECT_TRUE(validate("0123456789abcdef\0"s));            // past the 8-byte fast path
  EXPECT_TRUE(validate("01234567\0"s));
}

TEST(Utf8, RefusesSurrogates) {
  auto e = validate("\xED\xA0\x80");  // U+D800
  ASSERT_TRUE(e);
  EXPECT_NE(e->detail.find("surrogate"), std::string_view::npos);
  EXPECT_TRUE(validate("\xED\xBF\xBF"));  // U+DFFF
}

TEST(Utf8, RefusesIllFormedSequences) {
  for (const char* bad : {
           "\x80",              // lone continuation
           "\xC0\x80",          // overlong U+0000
           "\xC1\xBF",          // overlong
           "\xE0\x80\x80",      // overlong 3-byte
           "\xF0\x80\x80\x80",  // overlong 4-byte
           "\xF4\x90\x80\x80",  // above U+10FFFF
           "\xF5\x80\x80\x80",  // invalid lead
           "\xFF",              // invalid lead
           "\xC3",              // truncated
           "\xE2\x82",          // truncated
           "\xF0\x9F\x98",      // truncated
           "\xC3\x28",          // bad continuation
       }) {
    auto e = validate(bad);
    ASSERT_TRUE(e) << "accepted " << ::testing::PrintToString(std::string(bad));
    EXPECT_NE(e->detail.find("MQTT-1.5.4-1"), std::string_view::npos);
  }
}

}  // namespace
}  // namespace tern::utf8
