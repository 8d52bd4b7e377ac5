// tern/gateway/message.hpp: the gateway's internal message, what an interface
// receives (commands) and produces (statuses), in the interface's own
// vocabulary. The map (tern/gateway/map.hpp) translates it to and from MQTT's.
// It is mqttgateway's internalMsg: a field not set is an empty string.
//
//   tern::gateway::message m{.type = tern::gateway::kind::command, .location = "Office",
//                            .device = "Light1", .action = "LIGHT_ON"};
//   m.arguments["level"] = "80";
//   tern::gateway::message r = m.reply("OK", "done");   // a status: same fields,
//                                                        // arguments + response, reason
//
// A plain value: copyable, comparable, no invariant beyond its fields.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace tern::gateway {

// Argument name to value; values are strings whatever JSON type they came as.
using arguments_map = std::map<std::string, std::string, std::less<>>;

// A command asks a device to act (MQTT type level "C"); a status says what a
// device did or is (MQTT type level "S").
enum class kind : unsigned char { command, status };

struct message {
  kind type = kind::status;
  std::string function{};
  std::string gateway{};
  std::string location{};
  std::string device{};
  std::string sender{};
  std::string action{};
  arguments_map arguments{};

  // The status that answers this command: the same fields, type status, and
  // the arguments "response" (a short code such as "OK" or "ERROR") and
  // "reason" (a longer text) added, as mqttgateway's internalMsg.reply().
  [[nodiscard]] message reply(std::string_view response, std::string_view reason) const {
    message r = *this;
    r.type = kind::status;
    r.arguments.insert_or_assign("response", std::string(response));
    r.arguments.insert_or_assign("reason", std::string(reason));
    return r;
  }

  friend bool operator==(const message&, const message&) = default;
};

}  // namespace tern::gateway
