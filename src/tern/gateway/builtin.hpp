// tern/gateway/builtin.hpp: the interface a configuration names: a built-in
// one ("process", "modbus", "template") or a plug-in; what `tern gateway` calls.
//
//   auto i = tern::gateway::make_interface(cfg.interface);
//   if (!i) { std::cerr << i.error().message << '\n'; return 2; }
//   tern::gateway::runner r(cfg, map, std::move(*i), log);
#pragma once

#include <memory>

#include "tern/gateway/config.hpp"
#include "tern/gateway/interface.hpp"

namespace tern::gateway {

// A new interface: the plug-in `section.library` if set (load_plugin()),
// else the built-in one `section.name` names. Refused (a config_error
// naming interface.name or interface.library): an unknown name, a library
// load_plugin() refuses.
[[nodiscard]] config_result<std::unique_ptr<interface>> make_interface(const config::interface_section& section);

}  // namespace tern::gateway
