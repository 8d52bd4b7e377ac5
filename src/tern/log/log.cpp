#include "tern/log/log.hpp"

#include <array>
#include <iterator>

#include <fmt/format.h>

namespace tern::log {

namespace {
constexpr std::array<std::string_view, 6> level_names{"trace", "debug", "info", "warn", "error", "off"};
}  // namespace

std::string_view to_string(level l) noexcept {
  const auto i = static_cast<std::size_t>(l);
  return i < level_names.size() ? level_names[i] : std::string_view{"?"};
}

std::optional<level> parse_level(std::string_view name) noexcept {
  for (std::size_t i = 0; i < level_names.size(); ++i)
    if (level_names[i] == name) return static_cast<level>(i);
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
