// The spdlog-backed sinks. spdlog is used below the facade only: its sinks do
// the locking, the timestamp, the colouring and the write.
#include "tern/log/stderr_sink.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace tern::log {
namespace {

spdlog::level::level_enum to_spdlog(level l) noexcept {
  switch (l) {
    case level::trace: return spdlog::level::trace;
    case level::debug: return spdlog::level::debug;
    case level::info: return spdlog::level::info;
    case level::warn: return spdlog::level::warn;
    case level::error: return spdlog::level::err;
    case level::off: break;
  }
  return spdlog::level::off;
}

// %* : tern's level name ("warn", not spdlog's "warning").
class level_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view name = "?";
    switch (msg.level) {
      case spdlog::level::trace: name = "trace"; break;
      case spdlog::level::debug: name = "debug"; break;
      case spdlog::level::info: name = "info"; break;
      case spdlog::level::warn: name = "warn"; break;
      case spdlog::level::err: name = "error"; break;
      default: break;
    }
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<level_flag>(); }
};

std::unique_ptr<spdlog::formatter> make_formatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc, "\n");
  f->add_flag<level_flag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%*%$ %n: %v");
  return f;
}

class spdlog_sink final : public sink {
 public:
  explicit spdlog_sink(std::shared_ptr<spdlog::sinks::sink> out) : out_(std::move(out)) {
    out_->set_formatter(make_formatter());
  }

  void write(const record& r) override {
    const spdlog::details::log_msg msg(spdlog::string_view_t(r.channel.data(), r.channel.size()), to_spdlog(r.lvl),
                                       spdlog::string_view_t(r.message.data(), r.message.size()));
    out_->log(msg);
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> out_;
};

}  // namespace

std::shared_ptr<sink> make_stderr_sink() {
  return std::make_shared<spdlog_sink>(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
}

std::shared_ptr<sink> make_ostream_sink(std::ostream& out) {
  return std::make_shared<spdlog_sink>(std::make_shared<spdlog::sinks::ostream_sink_mt>(out, true));
}

}  // namespace tern::log
