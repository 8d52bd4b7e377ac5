// tern/gateway/config.hpp: the configuration of one gateway process (`tern
// gateway -c FILE`): its name, the broker, the map file, the interface and
// the log, read from TOML like ternd's. etc/gateway.toml lists every key
// with its default (tern_gateway_config_test checks that it parses to them).
//
//   auto c = tern::gateway::load_config("/etc/tern/entry2mqtt.toml");
//   if (!c) { std::cerr << c.error().message << '\n'; return 2; }   // every problem:
//   //   entry2mqtt.toml:7: mqtt.keep_alive: expected an integer between 0 and 65535, got "60"
//   c->map.file;               // made absolute against the config file's directory
//   c->interface.settings;     // the [interface] keys the interface reads itself
//
// A refusal names the file, the line and the key of each problem, one a
// line, in file order. Unknown keys are refused (with the key meant, when
// one is close) but in [interface], whose keys belong to the interface.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tern/conf/error.hpp"
#include "tern/gateway/map.hpp"
#include "tern/log/log.hpp"

namespace tern::gateway {

// A value of an [interface] key: a string (numbers and booleans as their
// TOML text), or an array of strings.
using setting = std::variant<std::string, std::vector<std::string>>;

struct config {
  // The gateway's name: the default client id, the sender of what it
  // publishes (messages with it as sender are not fed back) and, later, its
  // status topics. One topic level: no '/', '+' or '#'.
  std::string name = "tern-gateway";
  // Seconds between two publications of the retained metrics
  // (root/name/metrics); 0: none.
  std::uint32_t metrics_interval = 60;

  struct mqtt_section {
    std::string uri = "mqtt://127.0.0.1:1883";  // mqtt:// or mqtts:// (tern::parse_broker_uri)
    std::string client_id{};                    // empty: name
    std::string username{};                     // empty: none
    std::string password{};                     // never logged
    std::string ca_file{}, cert_file{}, key_file{};  // mqtts:// (tern::tls_options)
    std::filesystem::path persistence_dir{};    // empty: the session is not kept on disk
    std::uint16_t keep_alive = 60;              // seconds
    std::uint8_t qos = 1;                       // of the statuses published and the commands subscribed
    // Statuses kept while the broker is unreachable (in persistence_dir when
    // set); past it the oldest is dropped and counted. While connected,
    // statuses not yet acknowledged stay within it: the gateway waits.
    std::uint32_t queue = 100'000;
    friend bool operator==(const mqtt_section&, const mqtt_section&) = default;
  } mqtt;

  struct map_section {
    std::filesystem::path file{};  // empty: no mapping (mqttgateway's NO_MAP); else absolute
    friend bool operator==(const map_section&, const map_section&) = default;
  } map;

  struct interface_section {
    std::string name = "process";    // built in: "process" (later "modbus", "template")
    std::filesystem::path library{};  // a plug-in's shared library (later); else absolute
    std::map<std::string, setting, std::less<>> settings{};  // every other key
    friend bool operator==(const interface_section&, const interface_section&) = default;
  } interface;

  struct log_section {
    log::level level = log::level::info;
    friend bool operator==(const log_section&, const log_section&) = default;
  } log;

  friend bool operator==(const config&, const config&) = default;
};

// A refusal (tern/conf/error.hpp): every problem, one a line, in file order.
using conf::config_error;
using conf::config_result;

// Reads `text`, a TOML document; `name` starts each line of a refusal;
// relative paths are made absolute against `base_dir`.
[[nodiscard]] config_result<config> parse_config(std::string_view text, std::string_view name,
                                                 const std::filesystem::path& base_dir);

// Reads the file at `path`; relative paths in it are relative to its directory.
[[nodiscard]] config_result<config> load_config(const std::filesystem::path& path);

}  // namespace tern::gateway
