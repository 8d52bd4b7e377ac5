// A plug-in for the plug-in test that says it was built for another ABI:
// load_plugin() must refuse it before calling anything in it.
#include "tern/gateway/plugin.hpp"

extern "C" __attribute__((visibility("default"))) const tern_gateway_plugin_record tern_gateway_plugin = {
    TERN_GATEWAY_PLUGIN_ABI + 1, sizeof(tern::gateway::message), 8, 16, "from the future", nullptr};
