// tern/log/log.hpp: the logging facade every tern library uses: a level, a
// channel, a message, and a sink that receives them. No globals: whoever
// builds a component hands it a logger.
//
//   auto out = tern::log::make_stderr_sink();                  // tern/log/stderr_sink.hpp
//   tern::log::logger log{out, "broker", tern::log::level::info};
//   log.info("listening on {}:{}", address, port);             // fmt syntax
//   log.debug("{} subscriptions", trie.size());                // not even formatted: below info
//   tern::log::logger net = log.with_channel("net");           // same sink and level
//
// The header needs only fmt/core.h: libraries log without seeing spdlog,
// which backs the stderr sink (tern/log/stderr_sink.hpp). Tests capture
// records with tern::log::capture_sink (tern/log/capture_sink.hpp).
//
// Passwords are never logged. Nothing in tern passes a CONNECT password,
// AUTH data, a password-file line or a TLS private key to a logger, and code
// added later must not either: log "password: present (N bytes)" at most.
//
// Thread safety: a logger is a value; its const members may be called from
// any number of threads at once. A sink's write() may be called concurrently
// and must be thread-safe (every sink in tern/log is).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

namespace tern::log {

// Severity, lowest first. `off` as a logger's minimum level disables it.
enum class level : std::uint8_t { trace, debug, info, warn, error, off };

// Each level and its name, lowest first: what configuration files write.
inline constexpr std::pair<std::string_view, level> level_names[] = {
    {"trace", level::trace}, {"debug", level::debug}, {"info", level::info},
    {"warn", level::warn},   {"error", level::error}, {"off", level::off},
};

// "trace", "debug", "info", "warn", "error" or "off".
std::string_view to_string(level l) noexcept;
// The level named by to_string(), or nullopt.
std::optional<level> parse_level(std::string_view name) noexcept;

// One log message as a sink receives it. The views are valid only for the
// duration of sink::write(): a sink that keeps a record copies it.
struct record {
  level lvl;
  std::string_view channel;
  std::string_view message;  // formatted, without a trailing newline
};

// Where records go. write() may be called from several threads at once.
class sink {
 public:
  virtual ~sink() = default;
  virtual void write(const record& r) = 0;
};

// A sink (shared), a channel name and a minimum level. A default-constructed
// logger has no sink and logs nothing. Logging never throws: a message that
// cannot be formatted or written is dropped.
class logger {
 public:
  logger() = default;
  logger(std::shared_ptr<sink> out, std::string channel, level min_level = level::info)
      : out_(std::move(out)), channel_(std::move(channel)), min_level_(min_level) {}

  // A logger with the same sink and minimum level, for another channel.
  [[nodiscard]] logger with_channel(std::string channel) const { return {out_, std::move(channel), min_level_}; }

  const std::string& channel() const noexcept { return channel_; }
  level min_level() const noexcept { return min_level_; }
  void set_min_level(level l) noexcept { min_level_ = l; }
  const std::shared_ptr<sink>& output() const noexcept { return out_; }

  // True when a message of level `l` would be written.
  bool enabled(level l) const noexcept { return out_ != nullptr && l >= min_level_ && l != level::off; }

  // Formats with fmt (checked at compile time) and writes, only when enabled(l).
  template <class... Args>
  void log(level l, fmt::format_string<Args...> format, Args&&... args) const {
    if (enabled(l)) vlog(l, format, fmt::make_format_args(args...));
  }
  template <class... Args>
  void trace(fmt::format_string<Args...> format, Args&&... args) const {
    log(level::trace, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) const {
    log(level::debug, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) const {
    log(level::info, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) const {
    log(level::warn, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    log(level::error, format, std::forward<Args>(args)...);
  }

  // Formats `format` with `args` and writes it if enabled(l) (the out-of-line
  // part of log(); call log() instead).
  void vlog(level l, fmt::string_view format, fmt::format_args args) const noexcept;

 private:
  std::shared_ptr<sink> out_;
  std::string channel_;
  level min_level_ = level::off;
};

}  // namespace tern::log
