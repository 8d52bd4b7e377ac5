#include "tern/gateway/builtin.hpp"

#include "tern/gateway/modbus_interface.hpp"
#include "tern/gateway/plugin.hpp"
#include "tern/gateway/process_interface.hpp"
#include "tern/gateway/template_interface.hpp"

namespace tern::gateway {

config_result<std::unique_ptr<interface>> make_interface(const config::interface_section& section) {
  if (!section.library.empty()) return load_plugin(section.library);
  if (section.name == "process") return std::unique_ptr<interface>(std::make_unique<process_interface>());
  if (section.name == "modbus") return std::unique_ptr<interface>(std::make_unique<modbus_interface>());
  if (section.name == "template") return std::unique_ptr<interface>(std::make_unique<template_interface>());
  return config_error{"interface.name: \"" + section.name + "\" is not a built-in interface (\"process\", \"modbus\", \"template\")"};
}

}  // namespace tern::gateway
