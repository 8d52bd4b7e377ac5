// my_interface.cpp: a gateway interface to copy (tern's counterpart of
// mqttgateway's "dummy"). A lamp that is not there: it switches on and off
// on command, answers every command, and says its state when it starts and
// when it changes.
//
// The gateway runs run() on a thread of its own: commands arrive in
// io.commands, in your vocabulary (the map, map.json, translated them from
// MQTT's); what you push to io.statuses the map translates and the gateway
// publishes. Your [interface] keys are in io.settings. Return when
// io.commands is closed (the gateway is stopping); return an error (or
// throw) when the device fails: the gateway logs it and calls run() again
// after a backoff.
#include <string>
#include <variant>

#include "tern/gateway/plugin.hpp"

namespace {

using tern::gateway::interface_context;
using tern::gateway::kind;
using tern::gateway::message;

class my_interface final : public tern::gateway::interface {
 public:
  tern::result<void> run(interface_context& io) override {
    std::string location = "Office";
    if (const auto it = io.settings.find("location"); it != io.settings.end())
      if (const auto* s = std::get_if<std::string>(&it->second)) location = *s;
    io.log.info("my interface: a lamp in {}", location);
    io.statuses.push(state(location));

    while (auto command = io.commands.pop()) {  // nullopt once the gateway stops
      if (command->action == "LIGHT_ON" || command->action == "LIGHT_OFF") {
        on_ = command->action == "LIGHT_ON";
        io.statuses.push(command->reply("OK", on_ ? "switched on" : "switched off"));
        io.statuses.push(state(location));
      } else {
        io.log.warn("my interface: {}: not a lamp's command", command->action);
        io.statuses.push(command->reply("ERROR", "a lamp does LIGHT_ON and LIGHT_OFF"));
      }
    }
    return {};
  }

  // Called from another thread; the gateway also closes io.commands, which
  // is what ends the loop above.
  void stop() override {}

 private:
  message state(const std::string& location) const {
    return message{.type = kind::status, .function = "Lighting", .location = location, .device = "Lamp",
                   .action = on_ ? "LIGHT_ON" : "LIGHT_OFF"};
  }

  bool on_ = false;
};

}  // namespace

// The one line that makes this library a gateway plug-in (with the ABI record
// `tern gateway` checks before it uses anything here).
TERN_GATEWAY_PLUGIN("my_interface", my_interface)
