#include "tern/core/json.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

std::string json(std::string_view s) {
  std::string out = "x=";
  append_json_string(out, s);
  return out;
}

TEST(JsonString, QuotesAndEscapes) {
  EXPECT_EQ(json(""), "x=\"\"");
  EXPECT_EQ(json("on"), "x=\"on\"");
  EXPECT_EQ(json("a\"b\\c"), "x=\"a\\\"b\\\\c\"");
  EXPECT_EQ(json("\n\r\t\b\f"), "x=\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(json(std::string_view("\x00\x1b\x7f", 3)), "x=\"\\u0000\\u001b\x7f\"");
  EXPECT_EQ(json("h\xc3\xa9"), "x=\"h\xc3\xa9\"");  // UTF-8 passes as it is
}

}  // namespace
}  // namespace tern
