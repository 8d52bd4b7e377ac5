#include "tern/log/log.hpp"

#include <array>
#include <iterator>

#include <fmt/format.h>

namespace tern::log {


std::string_view to_string(level l) noexcept {
  for (const auto& [name, value] : level_names)
    if (value == l) return name;
  return "?";
}

std::optional<level> parse_level(std::string_view name) noexcept {
  for (const auto& [n, value] : level_names)
    if (n == name) return value;
  return std::nullopt;
}

void logger::vlog(level l, fmt::string_view format, fmt::format_args args) const noexcept {
  if (!enabled(l)) return;
  try {
    fmt::memory_buffer text;
    fmt::vformat_to(fmt::appender(text), format, args);
    out_->write(record{l, channel_, std::string_view(text.data(), text.size())});
  } catch (...) {
    // Logging never throws into the caller (an io thread, a destructor...).
  }
}

}  // namespace tern::log
