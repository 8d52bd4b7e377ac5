// A plug-in for the plug-in test: an interface that answers every command
// "OK from a plug-in" (what examples/gateway-interface builds out of tree).
#include "tern/gateway/plugin.hpp"

namespace {

class echo_plugin final : public tern::gateway::interface {
 public:
  tern::result<void> run(tern::gateway::interface_context& io) override {
    io.log.info("echo plug-in: started");
    while (auto c = io.commands.pop()) io.statuses.push(c->reply("OK", "from a plug-in"));
    return {};
  }
  void stop() override {}
};

}  // namespace

TERN_GATEWAY_PLUGIN("echo plug-in", echo_plugin)
