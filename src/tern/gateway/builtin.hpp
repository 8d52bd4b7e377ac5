// tern/gateway/builtin.hpp: the interface a configuration names, among the
// built-in ones ("process", "template"); what `tern gateway` will call.
//
//   auto i = tern::gateway::make_interface(cfg.interface);
//   if (!i) { std::cerr << i.error().message << '\n'; return 2; }
//   tern::gateway::runner r(cfg, map, std::move(*i), log);
#pragma once

#include <memory>

#include "tern/gateway/config.hpp"
#include "tern/gateway/interface.hpp"

namespace tern::gateway {

// A new interface of the kind `section.name` names. Refused (a config_error
// naming interface.name or interface.library): an unknown name, or a
// library (plug-ins are not loaded yet).
[[nodiscard]] config_result<std::unique_ptr<interface>> make_interface(const config::interface_section& section);

}  // namespace tern::gateway
