// A gateway plug-in for bench/gateway_throughput.sh: an interface that
// produces `count` statuses as fast as the gateway takes them (push() waits
// while the statuses queue is full, so none is dropped), each with its
// number: action "tick", argument n.
//
//   [interface]
//   library = "gateway_flood_interface.so"
//   count = 1000000
#include <atomic>
#include <charconv>
#include <chrono>
#include <string>
#include <variant>

#include "tern/gateway/plugin.hpp"

namespace {

long setting(const tern::gateway::interface_context& io, std::string_view key, long fallback) {
  const auto it = io.settings.find(key);
  if (it == io.settings.end()) return fallback;
  const auto* s = std::get_if<std::string>(&it->second);
  long v = fallback;
  if (s) std::from_chars(s->data(), s->data() + s->size(), v);
  return v;
}

class flood final : public tern::gateway::interface {
 public:
  tern::result<void> run(tern::gateway::interface_context& io) override {
    const long count = setting(io, "count", 1'000'000);
    const auto start = std::chrono::steady_clock::now();
    for (long n = 0; n < count && !stopping_; ++n) {
      io.statuses.push(tern::gateway::message{.location = "lab", .device = "flood", .action = "tick",
                                              .arguments = {{"n", std::to_string(n)}}});
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    io.log.info("flood: {} statuses handed to the gateway in {:.3f} s", count, took.count());
    while (io.commands.pop()) {
    }
    return {};
  }
  void stop() override { stopping_ = true; }

 private:
  std::atomic<bool> stopping_{false};
};

}  // namespace

TERN_GATEWAY_PLUGIN("flood", flood)
