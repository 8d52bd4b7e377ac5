#include "tern/gateway/template_interface.hpp"

#include <string>
#include <variant>

namespace tern::gateway {

result<void> template_interface::run(interface_context& io) {
  // Its settings: the [interface] keys, as strings (or arrays of strings).
  if (const auto g = io.settings.find("greeting"); g != io.settings.end()) {
    if (const auto* action = std::get_if<std::string>(&g->second)) io.statuses.push(message{.action = *action});
  }
  // Commands until the runner closes the queue (stop).
  while (auto command = io.commands.pop()) {
    io.log.info("template interface: {} {} {}", command->location, command->device, command->action);
    io.statuses.push(command->reply("OK", "done by the template interface"));
  }
  return {};
}

}  // namespace tern::gateway
