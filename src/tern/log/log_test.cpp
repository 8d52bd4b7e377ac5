#include "tern/log/log.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>
#include <thread>
#include <vector>

#include "tern/log/capture_sink.hpp"
#include "tern/log/stderr_sink.hpp"

namespace tern::log {
namespace {

using entry = capture_sink::entry;

// Counts how often it is formatted, to prove disabled levels skip formatting.
struct counted {
  int* count;
};

}  // namespace
}  // namespace tern::log

template <>
struct fmt::formatter<tern::log::counted> : fmt::formatter<int> {
  auto format(const tern::log::counted& c, fmt::format_context& ctx) const {
    return fmt::formatter<int>::format(++*c.count, ctx);
  }
};

namespace tern::log {
namespace {

TEST(Level, NamesRoundTrip) {
  for (auto l : {level::trace, level::debug, level::info, level::warn, level::error, level::off})
    EXPECT_EQ(parse_level(to_string(l)), l);
  EXPECT_EQ(to_string(level::warn), "warn");
  EXPECT_EQ(parse_level("warning"), std::nullopt);
  EXPECT_EQ(parse_level("INFO"), std::nullopt);
}

TEST(Logger, WritesAtAndAboveItsLevel) {
  auto captured = std::make_shared<capture_sink>();
  logger log{captured, "broker", level::info};
  log.trace("t {}", 1);
  log.debug("d {}", 2);
  log.info("client {} connected", "c1");
  log.warn("queue of {} full at {} messages", "c2", 1000);
  log.error("e");
  log.log(level::off, "never");
  EXPECT_EQ(captured->entries(), (std::vector<entry>{{level::info, "broker", "client c1 connected"},
                                                    {level::warn, "broker", "queue of c2 full at 1000 messages"},
                                                    {level::error, "broker", "e"}}));
  EXPECT_EQ(captured->text(),
            "info broker: client c1 connected\nwarn broker: queue of c2 full at 1000 messages\nerror broker: e\n");
}

TEST(Logger, DoesNotFormatBelowItsLevel) {
  auto captured = std::make_shared<capture_sink>();
  logger log{captured, "broker", level::warn};
  int count = 0;
  log.info("{}", counted{&count});
  log.debug("{}", counted{&count});
  EXPECT_EQ(count, 0);
  log.warn("{}", counted{&count});
  EXPECT_EQ(count, 1);
  EXPECT_EQ(captured->text(), "warn broker: 1\n");
}

TEST(Logger, DefaultAndOffLogNothing) {
  logger none;
  EXPECT_FALSE(none.enabled(level::error));
  none.error("dropped {}", 1);  // no sink: must not crash

  auto captured = std::make_shared<capture_sink>();
  logger off{captured, "x", level::off};
  EXPECT_FALSE(off.enabled(level::error));
  off.error("dropped");
  EXPECT_TRUE(captured->entries().empty());
}

TEST(Logger, WithChannelSharesSinkAndLevel) {
  auto captured = std::make_shared<capture_sink>();
  logger log{captured, "broker", level::debug};
  logger net = log.with_channel("net");
  EXPECT_EQ(net.channel(), "net");
  EXPECT_EQ(net.min_level(), level::debug);
  net.debug("accepted");
  log.set_min_level(level::error);
  log.info("hidden");
  net.info("still shown");  // a copy: its own level
  EXPECT_EQ(captured->text(), "debug net: accepted\ninfo net: still shown\n");
}

TEST(Logger, SinkExceptionsDoNotEscape) {
  struct throwing_sink : sink {
    void write(const record&) override { throw std::runtime_error("disk full"); }
  };
  logger log{std::make_shared<throwing_sink>(), "x", level::trace};
  EXPECT_NO_THROW(log.error("lost"));
}

TEST(Logger, ConcurrentWritersLoseNothing) {
  auto captured = std::make_shared<capture_sink>();
  const logger log{captured, "t", level::info};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 250; ++i) log.info("{} {}", t, i);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(captured->entries().size(), 1000u);
  captured->clear();
  EXPECT_TRUE(captured->entries().empty());
}

// True when `s` starts with a UTC timestamp like "2026-11-23T02:20:00.123Z ".
bool starts_with_timestamp(std::string_view s) {
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
  if (s.size() < shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool digit = s[i] >= '0' && s[i] <= '9';
    if (shape[i] == 'd' ? !digit : s[i] != shape[i]) return false;
  }
  return true;
}

TEST(StderrSink, LineFormat) {
  std::ostringstream out;
  logger log{make_ostream_sink(out), "broker", level::trace};
  log.info("listening on {}:{}", "127.0.0.1", 1883);
  log.warn("w");
  log.trace("t");
  std::istringstream lines(out.str());
  std::vector<std::string> rest;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(starts_with_timestamp(line)) << line;
    rest.push_back(line.substr(std::min<std::size_t>(line.size(), 25)));
  }
  EXPECT_EQ(rest, (std::vector<std::string>{"info broker: listening on 127.0.0.1:1883", "warn broker: w", "trace broker: t"}));
  EXPECT_EQ(out.str().back(), '\n');
}

TEST(StderrSink, Writes) {
  logger log{make_stderr_sink(), "tern_log_test", level::info};
  testing::internal::CaptureStderr();
  log.info("to stderr");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Z info tern_log_test: to stderr\n"), std::string::npos) << err;
}

}  // namespace
}  // namespace tern::log
