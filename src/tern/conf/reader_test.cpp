#include "tern/conf/reader.hpp"

#include <array>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

namespace tern::conf {
namespace {

using namespace std::string_view_literals;

enum class color { red, green, blue };
constexpr std::pair<std::string_view, color> color_names[] = {
    {"red", color::red}, {"green", color::green}, {"blue", color::blue}};

constexpr std::array top_keys{"port"sv, "color"sv, "name"sv, "limits"sv};
constexpr std::array limits_keys{"max_inflight"sv, "max_connections"sv};
constexpr std::array<section, 2> schema{{{"", top_keys}, {"limits", limits_keys}}};

struct settings {
  int port = 0;
  color c = color::red;
  std::string name;
  int max_inflight = 0;
};

// A tiny schema walked with a reader: what server/config.cpp does at scale.
config_result<settings> read(std::string_view text) {
  auto doc = read_toml(text, "t.toml");
  if (!doc) return doc.error();
  settings s;
  reader r("t.toml", schema);
  r.for_each_key(*doc, "", "", top_keys, [&](std::string_view name, const toml::node& n, const std::string& key) {
    if (name == "port") r.integer(n, key, 1, u16_max, s.port);
    else if (name == "color") r.choice<color>(n, key, color_names, s.c);
    else if (name == "name") r.string(n, key, s.name);
    else if (const auto* t = r.table(n, key))
      r.for_each_key(*t, "limits", "limits", limits_keys, [&](std::string_view, const toml::node& v, const std::string& k) {
        r.integer(v, k, 1, 100, s.max_inflight);
      });
  });
  if (r.problem_count() > 0) return config_error{r.message()};
  return s;
}

TEST(ConfReader, ReadsWhatTheSchemaKnows) {
  auto s = read("port = 1883\ncolor = \"blue\"\nname = \"x\"\n[limits]\nmax_inflight = 7\n");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->port, 1883);
  EXPECT_EQ(s->c, color::blue);
  EXPECT_EQ(s->name, "x");
  EXPECT_EQ(s->max_inflight, 7);
}

TEST(ConfReader, EveryProblemInFileOrderWithLineAndKey) {
  auto s = read("[limits]\nmax_inflight = 0\n");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "t.toml:2: limits.max_inflight: expected an integer between 1 and 100, got 0");
  s = read("color = \"purple\"\nport = \"ten\"\nname = 3\n");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            "t.toml:1: color: expected \"red\", \"green\" or \"blue\", got \"purple\"\n"
            "t.toml:2: port: expected an integer between 1 and 65535, got \"ten\"\n"
            "t.toml:3: name: expected a string, got 3");
}

TEST(ConfReader, SuggestsTheKeyMeantInThisTableOrAnother) {
  auto s = read("prot = 1\n");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "t.toml:1: prot: unknown key; did you mean \"port\"?");
  s = read("max_inflight = 3\n");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "t.toml:1: max_inflight: unknown key; did you mean \"limits.max_inflight\"?");
  s = read("[limits]\nfoo = 1\n[extra]\n");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "t.toml:2: limits.foo: unknown key\nt.toml:3: extra: unknown section");
}

TEST(ConfReader, ControlCharactersInTheDocumentAreEscaped) {
  auto s = read("\"a\\nb\" = 1\n");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "t.toml:1: a\\nb: unknown key");
  EXPECT_EQ(quote("a\"b\x01"), "\"a\\\"b\\u0001\"");
}

TEST(ConfReader, ASyntaxErrorNamesFileLineAndColumn) {
  auto s = read("port = \n");
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().message.starts_with("t.toml:1:")) << s.error().message;
}

TEST(ConfReadFile, RefusesWhatIsNotAConfiguration) {
  auto missing = read_file("/nonexistent/t.toml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "/nonexistent/t.toml: cannot open: No such file or directory");
  auto dir = read_file("/tmp");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().message, "/tmp: is a directory");
  const std::string big = testing::TempDir() + "conf_big_" + std::to_string(::getpid());
  std::ofstream(big) << std::string(5000, '#');
  auto too_big = read_file(big, 4096);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().message, big + ": larger than 4 KiB: not a configuration");
  auto fine = read_file(big);
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->size(), 5000u);
  std::remove(big.c_str());
}

}  // namespace
}  // namespace tern::conf
