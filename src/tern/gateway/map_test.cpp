#include "tern/gateway/map.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace tern::gateway {
namespace {

const std::filesystem::path testdata = std::filesystem::path(TERN_SOURCE_DIR) / "src/tern/gateway/testdata";

message_map load_ok(const std::string& name) {
  auto m = message_map::load(testdata / name);
  EXPECT_TRUE(m) << (m ? "" : m.error().message);
  return m ? *m : message_map{};
}

// A map of every kind: function loose, gateway strict, location strict with
// an alias, device and sender none, action strict with aliases (valid_aliases.json).
const char* const all_kinds = R"({
  "root": "home",
  "topics": ["home/+/dummy/+/+/+/C"],
  "function": {"maptype": "loose", "map": {"Lighting": ["lighting", "lights"]}},
  "gateway": {"maptype": "strict", "map": {"Dummy": ["dummy"]}},
  "location": {"maptype": "strict", "map": {"Office": ["office", "study"], "Kitchen": ["kitchen"]}},
  "device": {"maptype": "none", "map": {"Ignored": ["light1"]}},
  "sender": {"maptype": "none"},
  "action": {"maptype": "strict", "map": {"LIGHT_ON": ["light_on", "on"], "LIGHT_OFF": ["light_off", "off"]}},
  "argkey": {"maptype": "loose", "map": {"LEVEL": ["level", "lvl"]}},
  "argvalue": {"maptype": "strict", "map": {"HIGH": ["high"], "LOW": ["low"]}}
})";

TEST(GatewayTokenMap, NoneLooseStrictBothWays) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> entries = {
      {"Office", {"office", "study"}}, {"Kitchen", {"kitchen"}}};
  const token_map none(map_type::none, entries), loose(map_type::loose, entries), strict(map_type::strict, entries);
  struct row {
    const token_map* map;
    std::string in;
    std::optional<std::string> internal, mqtt;  // to_internal(in), to_mqtt(in)
  };
  const std::vector<row> rows = {
      {&none, "office", "office", "office"},
      {&none, "Office", "Office", "Office"},
      {&loose, "office", "Office", "office"},
      {&loose, "study", "Office", "study"},        // an alias reads; it is not an internal name
      {&loose, "Office", "Office", "office"},      // outbound: the first token
      {&loose, "garden", "garden", "garden"},      // not listed: passed through
      {&strict, "study", "Office", std::nullopt},  // an alias reads, never writes
      {&strict, "Kitchen", std::nullopt, "kitchen"},
      {&strict, "garden", std::nullopt, std::nullopt},  // not listed: dropped
      {&strict, "", "", ""},                            // an empty token passes a strict map (mqttgateway)
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.in);
    const auto i = r.map->to_internal(r.in);
    const auto m = r.map->to_mqtt(r.in);
    EXPECT_EQ(i ? std::optional<std::string>(*i) : std::nullopt, r.internal);
    EXPECT_EQ(m ? std::optional<std::string>(*m) : std::nullopt, r.mqtt);
  }
  // A loose or strict map with no entry is none, as in mqttgateway.
  EXPECT_EQ(token_map(map_type::strict, {}).type(), map_type::none);
  EXPECT_EQ(*token_map(map_type::strict, {}).to_internal("x"), "x");
}

TEST(GatewayMap, InboundTranslatesOrDrops) {
  auto map = message_map::parse(all_kinds, "all.json");
  ASSERT_TRUE(map) << map.error().message;
  struct row {
    std::string topic, payload;
    std::optional<message> want;  // nullopt: dropped with `error`
    gateway_error error = {};
  };
  const std::vector<row> rows = {
      {"home/lighting/dummy/office/light1/app/C", "on",
       message{.type = kind::command, .function = "Lighting", .gateway = "Dummy", .location = "Office",
               .device = "light1", .sender = "app", .action = "LIGHT_ON"}},
      {"home/lights/dummy/study/light1/app/S", R"({"action":"light_off","lvl":"high","ramp":"low"})",
       message{.type = kind::status, .function = "Lighting", .gateway = "Dummy", .location = "Office",
               .device = "light1", .sender = "app", .action = "LIGHT_OFF",
               .arguments = {{"LEVEL", "HIGH"}, {"ramp", "LOW"}}}},
      {"home/heating/dummy/kitchen/x/app/C", "on",  // loose function passes "heating"
       message{.type = kind::command, .function = "heating", .gateway = "Dummy", .location = "Kitchen",
               .device = "x", .sender = "app", .action = "LIGHT_ON"}},
      {"home/lighting/dummy/garden/light1/app/C", "on", std::nullopt, gateway_error::unmapped},
      {"home/lighting/other/office/light1/app/C", "on", std::nullopt, gateway_error::unmapped},
      {"home/lighting/dummy/office/light1/app/C", "LIGHT_ON", std::nullopt, gateway_error::unmapped},
      {"home/lighting/dummy/office/light1/app/C", R"({"action":"on","level":"mid"})", std::nullopt,
       gateway_error::unmapped},
      {"away/lighting/dummy/office/light1/app/C", "on", std::nullopt, gateway_error::wrong_root},
      // The gateway's own message is not fed back to it.
      {"home/lighting/dummy/office/light1/dummy2mqtt/S", "on", std::nullopt, gateway_error::own_message},
      {"home/lighting/dummy/office/light1/C", "on", std::nullopt, gateway_error::wrong_levels},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.topic + " " + r.payload);
    auto m = map->to_internal(r.topic, r.payload, "dummy2mqtt");
    if (r.want) {
      ASSERT_TRUE(m) << m.error().message();
      EXPECT_EQ(*m, *r.want);
    } else {
      ASSERT_FALSE(m);
      EXPECT_EQ(m.error().code, make_error_code(r.error)) << m.error().message();
    }
  }
  // An empty own name never matches.
  EXPECT_TRUE(map->to_internal("home/lighting/dummy/office/light1//S", "on", ""));
}

TEST(GatewayMap, OutboundWritesTheFirstTokenAndOwnSender) {
  auto map = message_map::parse(all_kinds, "all.json");
  ASSERT_TRUE(map) << map.error().message;
  struct row {
    message in;
    std::string topic, payload;  // topic empty: dropped with `error`
    gateway_error error = {};
  };
  const std::vector<row> rows = {
      {message{.type = kind::status, .function = "Lighting", .gateway = "Dummy", .location = "Office",
               .device = "light1", .action = "LIGHT_ON"},
       "home/lighting/dummy/office/light1/dummy2mqtt/S", "light_on"},
      {message{.type = kind::command, .function = "Heating", .gateway = "Dummy", .location = "Kitchen",
               .sender = "remote", .action = "LIGHT_OFF", .arguments = {{"LEVEL", "LOW"}, {"speed", "LOW"}}},
       "home/Heating/dummy/kitchen//remote/C", R"({"action":"light_off","level":"low","speed":"low"})"},
      {message{.gateway = "Dummy", .location = "Garden", .action = "LIGHT_ON"}, "", "", gateway_error::unmapped},
      {message{.gateway = "Dummy", .location = "Office", .action = "DIM"}, "", "", gateway_error::unmapped},
      {message{.gateway = "Dummy", .location = "Office", .action = "LIGHT_ON", .arguments = {{"LEVEL", "MID"}}},
       "", "", gateway_error::unmapped},
      // An alias is not an internal name: strict refuses it outbound.
      {message{.gateway = "Dummy", .location = "study", .action = "LIGHT_ON"}, "", "", gateway_error::unmapped},
      {message{.gateway = "Dummy", .device = "a/b", .action = "LIGHT_ON"}, "", "", gateway_error::bad_token},
  };
  for (const auto& r : rows) {
    auto out = map->to_mqtt(r.in, "dummy2mqtt");
    if (!r.topic.empty()) {
      ASSERT_TRUE(out) << out.error().message();
      EXPECT_EQ(out->topic, r.topic);
      EXPECT_EQ(out->payload, r.payload);
    } else {
      ASSERT_FALSE(out) << out->topic;
      EXPECT_EQ(out.error().code, make_error_code(r.error)) << out.error().message();
    }
  }
}

TEST(GatewayMap, NoMapPassesEverything) {
  const message_map none;
  EXPECT_EQ(none.root(), "");
  auto m = none.to_internal("/a/b/c/d/e/C", "x", "gw");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->function, "a");
  auto out = none.to_mqtt(*m, "gw");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->topic, "/a/b/c/d/e/C");
}

TEST(GatewayMap, ReadsMqttgatewaysOwnMapFiles) {
  for (const char* name : {"mqttgateway_dummy_map.json", "mqttgateway_entry_map.json", "mqttgateway_test_map.json",
                           "valid_aliases.json"}) {
    SCOPED_TRACE(name);
    const message_map m = load_ok(name);
    EXPECT_EQ(m.root(), "home");
    EXPECT_FALSE(m.topics().empty());
  }
  const message_map dummy = load_ok("mqttgateway_dummy_map.json");
  EXPECT_EQ(dummy[field::function].type(), map_type::loose);
  EXPECT_EQ(dummy[field::gateway].type(), map_type::strict);
  EXPECT_EQ(dummy[field::device].type(), map_type::none);
  auto c = dummy.to_internal("home/audiovideo/dummy/office/amp/app/C", "volume_up", "dummy2mqtt");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->function, "AudioVideo");
  EXPECT_EQ(c->location, "Office");
  EXPECT_EQ(c->action, "VOL_UP");
  auto s = dummy.to_mqtt(c->reply("OK", "done"), "dummy2mqtt");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->topic, "home/audiovideo/dummy/office/amp/app/S");
  EXPECT_EQ(s->payload, R"({"action":"volume_up","reason":"done","response":"OK"})");
  const message_map entry = load_ok("mqttgateway_entry_map.json");
  EXPECT_FALSE(entry.to_internal("home/security/entry2mqtt/frontgarden/gate/app/C", "gate_opn", "entry2mqtt"));
  EXPECT_EQ(entry.to_internal("home/security/entry2mqtt/frontgarden/gate/app/C", "gate_open", "entry2mqtt")->device,
            "Gate");
}

// Every problem of a refused file, each with its JSON pointer and the file name.
TEST(GatewayMap, RefusesBrokenFilesListingEveryProblem) {
  struct row {
    std::string file;
    std::vector<std::string> lines;  // each must be a substring of one line of the refusal
  };
  const std::vector<row> rows = {
      {"broken_not_json.json", {"broken_not_json.json:4:1: not JSON"}},
      {"broken_not_object.json", {"broken_not_object.json: /: "}},
      // mqttgateway's own older files: the map values were strings, and
      // mqtt_map_example.json has no field maps at all.
      {"mqttgateway_dummy_map_old.json",
       {"mqttgateway_dummy_map_old.json: /function/map/audiovideo: ", "/location/map/kitchen: ",
        "/action/map/volume_up: "}},
      {"mqttgateway_map_example_old.json", {": /: Missing required property 'gateway'", "'argvalue'"}},
      {"broken_maptype.json", {"broken_maptype.json: /location/maptype: "}},
      {"broken_missing.json", {": /: Missing required property 'root'", ": /action: Missing required property 'map'"}},
      {"broken_types.json", {": /location/map/Office/1: ", ": /device/map/Gate: ", ": /topics: "}},
      {"broken_ambiguous.json",
       {"broken_ambiguous.json: /location/map: \"study\" is listed under \"Kitchen\" (/location/map/Kitchen/1) and "
        "\"Office\" (/location/map/Office/1)",
        ": /action/map: \"light_off\" is listed under \"LIGHT_OFF\" (/action/map/LIGHT_OFF/0) and \"LIGHT_OFF\" "
        "(/action/map/LIGHT_OFF/1)"}},
      {"broken_tokens.json",
       {": /root: ", ": /topics/0: \"home/#/C\" is not a topic filter", ": /location/map/Hall: ",
        ": /device/map/Gate/0: \"front/gate\" is a topic level", ": /device/map/Door/0: "}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.file);
    auto m = message_map::load(testdata / r.file);
    ASSERT_FALSE(m);
    const std::string& text = m.error().message;
    for (const auto& want : r.lines) EXPECT_NE(text.find(want), std::string::npos) << "want: " << want << "\n" << text;
    // Every line names the file.
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = std::min(text.find('\n', start), text.size());
      EXPECT_NE(text.substr(start, end - start).find(r.file), std::string::npos) << text;
      start = end + 1;
    }
  }
  EXPECT_FALSE(message_map::load(testdata / "no_such_file.json"));
}

// Found by gateway_map_fuzz: nlohmann's number overflow is an out_of_range
// exception, not a parse_error; parse() threw it.
TEST(GatewayMap, RefusesANumberTooLargeAsNotJson) {
  map_result<message_map> m = map_error{};
  EXPECT_NO_THROW(m = message_map::parse(R"({"root": 1E400})", "big.json"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message.rfind("big.json: not JSON: ", 0), 0u) << m.error().message;
}

TEST(GatewayMap, TheSchemaIsMqttgatewaysDraft07) {
  EXPECT_NE(map_schema().find("http://json-schema.org/draft-07/schema#"), std::string_view::npos);
  EXPECT_NE(map_schema().find("\"argvalue\""), std::string_view::npos);
}

}  // namespace
}  // namespace tern::gateway
