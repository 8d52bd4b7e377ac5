#include "tern/gateway/plugin.hpp"

#include <dlfcn.h>

#include <fmt/format.h>

namespace tern::gateway {

namespace {

struct library_closer {
  void operator()(void* handle) const { ::dlclose(handle); }
};
using library_handle = std::unique_ptr<void, library_closer>;

// The plug-in's interface, holding its library open while it lives.
class plugin_interface final : public interface {
 public:
  plugin_interface(library_handle library, std::unique_ptr<interface> inner)
      : library_(std::move(library)), inner_(std::move(inner)) {}
  result<void> run(interface_context& io) override { return inner_->run(io); }
  void stop() override { inner_->stop(); }

 private:
  library_handle library_;  // declared first: closed after inner_ is destroyed
  std::unique_ptr<interface> inner_;
};

}  // namespace

config_result<std::unique_ptr<interface>> load_plugin(const std::filesystem::path& library) {
  const std::string file = library.string();
  ::dlerror();
  library_handle handle(::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (!handle) {
    const char* why = ::dlerror();
    return config_error{fmt::format("interface.library: {}: cannot be loaded: {}", file, why ? why : "unknown error")};
  }
  const auto* record = static_cast<const tern_gateway_plugin_record*>(::dlsym(handle.get(), "tern_gateway_plugin"));
  if (!record)
    return config_error{fmt::format(
        "interface.library: {}: not a tern gateway plug-in (no tern_gateway_plugin symbol: declare the interface "
        "with TERN_GATEWAY_PLUGIN from tern/gateway/plugin.hpp)",
        file)};
  if (record->abi != TERN_GATEWAY_PLUGIN_ABI || record->message_size != sizeof(message) ||
      record->queue_size != sizeof(message_queue) || record->context_size != sizeof(interface_context))
    return config_error{fmt::format(
        "interface.library: {}: built for the gateway plug-in ABI {} (message {} bytes, queue {}, context {}); "
        "this tern has ABI {} (message {} bytes, queue {}, context {}): rebuild the plug-in against this tern",
        file, record->abi, record->message_size, record->queue_size, record->context_size, TERN_GATEWAY_PLUGIN_ABI,
        sizeof(message), sizeof(message_queue), sizeof(interface_context))};
  std::unique_ptr<interface> inner(record->make ? record->make() : nullptr);
  if (!inner) return config_error{fmt::format("interface.library: {}: its make() returned no interface", file)};
  return std::unique_ptr<interface>(std::make_unique<plugin_interface>(std::move(handle), std::move(inner)));
}

}  // namespace tern::gateway
