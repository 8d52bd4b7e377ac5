#include "tern/gateway/syntax.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::gateway {
namespace {

message cmd(std::string action, std::map<std::string, std::string, std::less<>> args = {}) {
  return message{.type = kind::command, .function = "lighting", .gateway = "dummy", .location = "office",
                 .device = "light1", .sender = "me", .action = std::move(action), .arguments = std::move(args)};
}

TEST(GatewaySyntax, ParsesBareActionAndJsonObject) {
  struct row {
    std::string topic, payload;
    message want;
  };
  const std::vector<row> rows = {
      {"home/lighting/dummy/office/light1/me/C", "light_on", cmd("light_on")},
      {"home/lighting/dummy/office/light1/me/C", R"({"action":"dim","level":"80"})", cmd("dim", {{"level", "80"}})},
      // Numbers and booleans arrive as their JSON text.
      {"home/lighting/dummy/office/light1/me/C", R"( {"level": 80, "on": true, "action": "dim", "f": 1.5})",
       cmd("dim", {{"level", "80"}, {"on", "true"}, {"f", "1.5"}})},
      // Empty levels are levels.
      {"home//dummy///me/C", "x", message{.type = kind::command, .gateway = "dummy", .sender = "me", .action = "x"}},
      // A bare action is the payload as it is, spaces included.
      {"home/lighting/dummy/office/light1/me/S", "on ", [] { auto m = cmd("on "); m.type = kind::status; return m; }()},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.topic + " " + r.payload);
    auto p = parse(r.topic, r.payload);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->root, "home");
    EXPECT_EQ(p->msg, r.want);
  }
}

TEST(GatewaySyntax, RefusesWithAReason) {
  struct row {
    std::string topic, payload;
    gateway_error want;
  };
  const std::vector<row> rows = {
      {"home/lighting/dummy/office/light1/C", "x", gateway_error::wrong_levels},
      {"home/lighting/dummy/office/light1/me/C/extra", "x", gateway_error::wrong_levels},
      {"", "x", gateway_error::wrong_levels},
      {"home/lighting/dummy/office/light1/me/X", "x", gateway_error::unknown_type},
      {"home/lighting/dummy/office/light1/me/c", "x", gateway_error::unknown_type},
      {"home/lighting/dummy/office/light1/me/", "x", gateway_error::unknown_type},
      {"home/lighting/dummy/office/light1/me/CS", "x", gateway_error::unknown_type},
      {"home/lighting/dummy/office/light1/me/C", "", gateway_error::empty_payload},
      {"home/lighting/dummy/office/light1/me/C", "{\"action\":", gateway_error::bad_json},
      {"home/lighting/dummy/office/light1/me/C", "[1,2]", gateway_error::payload_not_object},
      {"home/lighting/dummy/office/light1/me/C", R"({"level":"80"})", gateway_error::no_action},
      {"home/lighting/dummy/office/light1/me/C", R"({"action":""})", gateway_error::no_action},
      {"home/lighting/dummy/office/light1/me/C", R"({"action":3})", gateway_error::bad_action},
      {"home/lighting/dummy/office/light1/me/C", R"({"action":"a","x":null})", gateway_error::bad_argument},
      {"home/lighting/dummy/office/light1/me/C", R"({"action":"a","x":[1]})", gateway_error::bad_argument},
      {"home/lighting/dummy/office/light1/me/C", R"({"action":"a","x":{}})", gateway_error::bad_argument},
      {"home/lighting/dummy/office/light1/me/C", std::string("\xff\xfe"), gateway_error::bad_utf8},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.topic + " " + r.payload);
    auto p = parse(r.topic, r.payload);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, make_error_code(r.want)) << p.error().message();
    EXPECT_FALSE(p.error().message().empty());
  }
}

TEST(GatewaySyntax, FormatsBareActionOrJsonObject) {
  struct row {
    message m;
    std::string topic, payload;
  };
  const std::vector<row> rows = {
      {cmd("light_on"), "home/lighting/dummy/office/light1/me/C", "light_on"},
      {cmd("dim", {{"level", "80"}, {"b", "x\"y\n"}}), "home/lighting/dummy/office/light1/me/C",
       R"({"action":"dim","b":"x\"y\n","level":"80"})"},
      // The action wins over an argument named "action".
      {cmd("dim", {{"action", "other"}}), "home/lighting/dummy/office/light1/me/C", R"({"action":"dim"})"},
      // An action that would read back as JSON goes out inside an object.
      {cmd("{x}"), "home/lighting/dummy/office/light1/me/C", R"({"action":"{x}"})"},
      {cmd(" [x"), "home/lighting/dummy/office/light1/me/C", R"({"action":" [x"})"},
      {message{.action = "s"}, "home//////S", "s"},
  };
  for (const auto& r : rows) {
    auto out = format("home", r.m);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out->topic, r.topic);
    EXPECT_EQ(out->payload, r.payload);
  }
}

TEST(GatewaySyntax, FormatRefusesWhatWouldNotReadBack) {
  struct row {
    message m;
    gateway_error want;
  };
  std::vector<row> rows = {
      {cmd(""), gateway_error::no_action},
      {cmd("a"), gateway_error::bad_token},
      {cmd("a"), gateway_error::bad_token},
      {cmd("a"), gateway_error::bad_token},
      {cmd("\xc0\x80"), gateway_error::bad_utf8},
      {cmd("a", {{"k", std::string("v\0", 2)}}), gateway_error::bad_utf8},
      {cmd("a"), gateway_error::bad_utf8},
  };
  rows[1].m.location = "a/b";
  rows[2].m.device = "+";
  rows[3].m.sender = "#";
  rows[6].m.function = "\xff";
  for (const auto& r : rows) {
    auto out = format("home", r.m);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, make_error_code(r.want)) << out.error().message();
  }
}

TEST(GatewaySyntax, FormatThenParseGivesTheMessageBack) {
  for (const message& m : {cmd("on"), cmd("dim", {{"level", "80"}, {"ramp", "2s"}}), cmd("{"), cmd("\t{a"),
                           message{.action = "é\u2603", .arguments = {{"\x01", "\x1f\"\\"}}}}) {
    auto out = format("root", m);
    ASSERT_TRUE(out) << out.error().message();
    auto back = parse(out->topic, out->payload);
    ASSERT_TRUE(back) << back.error().message() << " " << out->payload;
    EXPECT_EQ(back->root, "root");
    EXPECT_EQ(back->msg, m) << out->payload;
  }
}

// parse_payload() reads flat objects of strings itself and hands the rest
// to nlohmann; parse_payload_reference() is nlohmann alone. Same results.
TEST(GatewaySyntax, FastPathAgreesWithNlohmann) {
  for (const char* payload :
       {R"({"action":"on"})", R"( { "action" : "on" , "a" : "1" , "b" : true , "c" : false } )",
        R"({"a":"1","action":"on","a":"2"})", R"({"action":"on","action":"off"})", R"({"action":"on","action":5})",
        R"({"action":true})", R"({"action":false})", R"({"action":""})", R"({})", R"({"a":"1"})",
        R"({"action":"on",})", R"({"action":"on"} x)", R"({"action":"o\"n"})", R"({"action":"on","n":-0})",
        R"({"action":"on","n":1.50})", R"({"action":"on","n":tru})", "{\"action\":\"o\tn\"}", "{\"action\":\"\xff\"}",
        R"({"action":"on","x":{"y":null}})", R"([{"action":"on"}])", R"({"action":"on")", "{", "[", " {} "}) {
    SCOPED_TRACE(payload);
    message fast, reference;
    const auto a = parse_payload(payload, fast);
    const auto b = parse_payload_reference(payload, reference);
    ASSERT_EQ(a.has_value(), b.has_value());
    if (a)
      EXPECT_EQ(fast, reference);
    else
      EXPECT_EQ(a.error().code, b.error().code);
  }
}

TEST(GatewayMessage, ReplyIsAStatusWithResponseAndReason) {
  const message c = cmd("light_on", {{"level", "3"}});
  const message r = c.reply("OK", "done");
  EXPECT_EQ(r.type, kind::status);
  EXPECT_EQ(r.action, "light_on");
  EXPECT_EQ(r.location, "office");
  EXPECT_EQ(r.arguments.at("level"), "3");
  EXPECT_EQ(r.arguments.at("response"), "OK");
  EXPECT_EQ(r.arguments.at("reason"), "done");
  EXPECT_EQ(c.type, kind::command);
}

}  // namespace
}  // namespace tern::gateway
