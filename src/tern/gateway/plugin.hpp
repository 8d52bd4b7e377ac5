// tern/gateway/plugin.hpp: an interface in a shared library of its own, which
// `tern gateway` loads when the configuration names it:
//
//   [interface]
//   library = "libmy_interface.so"     # relative to the config file's directory
//
// The library defines its interface class and declares it once:
//
//   #include "tern/gateway/plugin.hpp"
//   class my_interface final : public tern::gateway::interface { ... };
//   TERN_GATEWAY_PLUGIN("my_interface", my_interface)
//
// and is built against the installed tern (CMake: find_package(tern), then
// target_link_libraries(x PRIVATE tern::gateway_plugin) on an
// add_library(x MODULE ...); examples/gateway-interface is one to copy).
// It links no tern library: what it calls of tern (message_queue, the
// logger) is the `tern` program's own, which exports its symbols.
//
// The ABI check: the library records TERN_GATEWAY_PLUGIN_ABI and the sizes
// of the types it shares with tern when it is compiled; load_plugin()
// refuses a library whose record differs from the program's, saying which
// and asking for a rebuild. TERN_GATEWAY_PLUGIN_ABI changes with any
// change of interface.hpp or message.hpp that breaks a built plug-in.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

#include "tern/gateway/config.hpp"
#include "tern/gateway/interface.hpp"
#include "tern/gateway/message.hpp"

// 2: message_queue gained when_full (statuses' push() waits for room).
#define TERN_GATEWAY_PLUGIN_ABI 2

extern "C" {
// What a plug-in exports, under the symbol name tern_gateway_plugin.
struct tern_gateway_plugin_record {
  int abi;                           // TERN_GATEWAY_PLUGIN_ABI when it was compiled
  std::size_t message_size;          // sizeof(tern::gateway::message)
  std::size_t queue_size;            // sizeof(tern::gateway::message_queue)
  std::size_t context_size;          // sizeof(tern::gateway::interface_context)
  const char* name;                  // for the log
  tern::gateway::interface* (*make)();  // a new interface (deleted by tern with delete)
};
}

#define TERN_GATEWAY_PLUGIN(NAME, CLASS)                                                                   \
  extern "C" __attribute__((visibility("default"))) const tern_gateway_plugin_record tern_gateway_plugin = { \
      TERN_GATEWAY_PLUGIN_ABI,                                                                             \
      sizeof(::tern::gateway::message),                                                                    \
      sizeof(::tern::gateway::message_queue),                                                              \
      sizeof(::tern::gateway::interface_context),                                                          \
      NAME,                                                                                                \
      []() -> ::tern::gateway::interface* { return new CLASS(); }};

namespace tern::gateway {

// Loads the plug-in at `library` (dlopen) and makes its interface; the
// library stays loaded as long as the interface lives. Refused, with a
// message naming the file: it cannot be loaded (dlerror's text), it has no
// tern_gateway_plugin record, or its ABI differs from this tern's.
[[nodiscard]] config_result<std::unique_ptr<interface>> load_plugin(const std::filesystem::path& library);

}  // namespace tern::gateway
