// tern/log/capture_sink.hpp: a sink that keeps every record, for tests that
// assert what a component logged.
//
//   auto captured = std::make_shared<tern::log::capture_sink>();
//   tern::log::logger log{captured, "broker", tern::log::level::debug};
//   run_something(log);
//   EXPECT_EQ(captured->text(), "info broker: client c1 connected\n");
//
// Thread safety: write() and the accessors may be called from any thread.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "tern/log/log.hpp"

namespace tern::log {

class capture_sink final : public sink {
 public:
  // An owned copy of a record.
  struct entry {
    level lvl;
    std::string channel;
    std::string message;
    friend bool operator==(const entry&, const entry&) = default;
  };

  void write(const record& r) override;

  // Every record written so far, oldest first.
  std::vector<entry> entries() const;
  // One line per record: "<level> <channel>: <message>\n" (no timestamp).
  std::string text() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<entry> entries_;
};

}  // namespace tern::log
