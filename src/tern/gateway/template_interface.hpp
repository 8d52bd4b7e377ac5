// tern/gateway/template_interface.hpp: the built-in "template" interface,
// tern's counterpart of mqttgateway's "dummy": the smallest interface that
// does something, to copy when writing one. It answers every command with
// its reply ("OK") and, with `[interface] greeting = "..."`, sends that
// action once as a status when it starts.
//
//   tern::gateway::template_interface t;
//   // run(io) on the runner's thread: for each command popped, io.statuses.push(command.reply("OK", ...)).
//
// Its whole code is template_interface.cpp, about twenty lines.
#pragma once

#include "tern/gateway/interface.hpp"

namespace tern::gateway {

class template_interface final : public interface {
 public:
  result<void> run(interface_context& io) override;
  // Nothing to do: the runner closes io.commands, which ends run()'s loop.
  void stop() override {}
};

}  // namespace tern::gateway
