#include "tern/auth/text_file.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::auth {
namespace {

std::vector<std::pair<std::size_t, std::string>> all(std::string_view text) {
  std::vector<std::pair<std::size_t, std::string>> out;
  for (const auto [n, t] : text_lines(text)) out.emplace_back(n, std::string(t));
  return out;
}

TEST(TextLines, NumbersLinesWithoutTheirEnds) {
  using v = std::vector<std::pair<std::size_t, std::string>>;
  EXPECT_EQ(all(""), v{});
  EXPECT_EQ(all("\n"), (v{{1, ""}}));
  EXPECT_EQ(all("a"), (v{{1, "a"}}));
  EXPECT_EQ(all("a\r\n\nb\n"), (v{{1, "a"}, {2, ""}, {3, "b"}}));
  EXPECT_EQ(all("a\nb"), (v{{1, "a"}, {2, "b"}}));
}

TEST(Problems, NameFileAndLineAndEscapeControls) {
  problems p("f");
  EXPECT_TRUE(p.empty());
  p.add(3, "bad\nthing");
  p.add(7, "other");
  EXPECT_EQ(p.error().message, "f:3: bad\\nthing\nf:7: other");
}

TEST(Trim, SpacesAndTabs) { EXPECT_EQ(trim(" \ta b\t "), "a b"); }

}  // namespace
}  // namespace tern::auth
