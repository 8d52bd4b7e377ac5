#include "tern/gateway/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace tern::gateway {
namespace {

const std::filesystem::path source = TERN_SOURCE_DIR;

TEST(GatewayConfig, TheShippedFileIsEveryDefault) {
  auto c = load_config(source / "etc/gateway.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(*c, config{});
  EXPECT_EQ(c->name, "tern-gateway");
  EXPECT_EQ(c->mqtt.uri, "mqtt://127.0.0.1:1883");
  EXPECT_EQ(c->interface.name, "process");
}

TEST(GatewayConfig, ReadsEveryKey) {
  const char* text = R"(
name = "entry2mqtt"
[mqtt]
uri = "mqtts://broker.example:8884"
client_id = "entry-1"
username = "u"
password = "p"
ca_file = "ca.pem"
cert_file = "/abs/c.pem"
key_file = "k.pem"
persistence_dir = "state"
keep_alive = 30
qos = 2
[map]
file = "entry_map.json"
[interface]
name = "process"
command = ["/usr/bin/python3", "driver.py"]
period = 5
scale = 0.5
verbose = true
port = "/dev/ttyUSB0"
[log]
level = "debug"
)";
  auto c = parse_config(text, "entry.toml", "/etc/tern");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->name, "entry2mqtt");
  EXPECT_EQ(c->mqtt.uri, "mqtts://broker.example:8884");
  EXPECT_EQ(c->mqtt.client_id, "entry-1");
  EXPECT_EQ(c->mqtt.username, "u");
  EXPECT_EQ(c->mqtt.password, "p");
  EXPECT_EQ(c->mqtt.ca_file, "/etc/tern/ca.pem");
  EXPECT_EQ(c->mqtt.cert_file, "/abs/c.pem");
  EXPECT_EQ(c->mqtt.key_file, "/etc/tern/k.pem");
  EXPECT_EQ(c->mqtt.persistence_dir, "/etc/tern/state");
  EXPECT_EQ(c->mqtt.keep_alive, 30);
  EXPECT_EQ(c->mqtt.qos, 2);
  EXPECT_EQ(c->map.file, "/etc/tern/entry_map.json");
  EXPECT_EQ(c->log.level, log::level::debug);
  const auto& s = c->interface.settings;
  EXPECT_EQ(std::get<std::vector<std::string>>(s.at("command")),
            (std::vector<std::string>{"/usr/bin/python3", "driver.py"}));
  EXPECT_EQ(std::get<std::string>(s.at("period")), "5");
  EXPECT_EQ(std::get<std::string>(s.at("scale")), "0.5");
  EXPECT_EQ(std::get<std::string>(s.at("verbose")), "true");
  EXPECT_EQ(std::get<std::string>(s.at("port")), "/dev/ttyUSB0");
  EXPECT_FALSE(s.contains("name"));
}

// Every problem, one a line, in file order, each naming the file, the line and the key.
TEST(GatewayConfig, RefusalsNameFileLineAndKey) {
  const char* text = R"(name = "a/b"
colour = "red"
[mqtt]
uri = "http://x"
keep_alive = 70000
qos = 3
client_id = 5
bogus = 1
[map]
file = "m.json"
files = "x"
[interface]
command = ["a", 1]
nested = { a = 1 }
[log]
level = "loud"
)";
  auto c = parse_config(text, "bad.toml", "/x");
  ASSERT_FALSE(c);
  const std::vector<std::string> want = {
      "bad.toml:1: name: must be one topic level",
      "bad.toml:2: colour: unknown key",
      "bad.toml:4: mqtt.uri: not a broker URI",
      "bad.toml:5: mqtt.keep_alive: expected an integer between 0 and 65535, got 70000",
      "bad.toml:6: mqtt.qos: expected an integer between 0 and 2, got 3",
      "bad.toml:7: mqtt.client_id: expected a string, got 5",
      "bad.toml:8: mqtt.bogus: unknown key",
      "bad.toml:11: map.files: unknown key; did you mean \"file\"?",
      "bad.toml:13: interface.command: an array here holds strings only",
      "bad.toml:14: interface.nested: an interface setting is",
      "bad.toml:16: log.level: expected \"trace\", \"debug\", \"info\", \"warn\", \"error\" or \"off\", got \"loud\"",
  };
  std::vector<std::string> lines;
  std::size_t start = 0;
  const std::string& m = c.error().message;
  while (start <= m.size()) {
    const std::size_t end = std::min(m.find('\n', start), m.size());
    lines.push_back(m.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), want.size()) << m;
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(lines[i].rfind(want[i], 0), 0u) << lines[i];
}

TEST(GatewayConfig, SyntaxErrorsAndFiles) {
  auto c = parse_config("[mqtt\nuri = 1\n", "s.toml", "/");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message.rfind("s.toml:1:", 0), 0u) << c.error().message;
  EXPECT_FALSE(parse_config("mqtt = 1\n", "t.toml", "/"));
  auto missing = load_config(source / "etc/no-such-gateway.toml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot open"), std::string::npos);
  EXPECT_FALSE(load_config(source / "etc"));
}

}  // namespace
}  // namespace tern::gateway
