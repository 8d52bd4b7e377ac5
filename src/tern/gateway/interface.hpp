// tern/gateway/interface.hpp: what an interface is to the gateway: a class
// that the runner starts on a thread of its own (run()) and stops (stop()),
// which takes commands from one queue and puts statuses in another, in the
// interface's vocabulary (the map translates), configured by its
// [interface] section's keys.
//
//   class lamp final : public tern::gateway::interface {
//    public:
//     tern::result<void> run(tern::gateway::interface_context& io) override {
//       while (auto c = io.commands.pop()) {              // blocks; nullopt once closed
//         switch_lamp(c->action == "LIGHT_ON");
//         io.statuses.push(c->reply("OK", ""));
//       }
//       return {};                                         // stopped
//     }
//     void stop() override {}                              // the runner closes io.commands
//   };
//
// run() returns when stop() is called or io.commands is closed (an error
// value, or an exception, when it failed: the runner logs it and starts it
// again after a backoff). stop() is called from another thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tern/core/result.hpp"
#include "tern/gateway/config.hpp"
#include "tern/gateway/message.hpp"
#include "tern/log/log.hpp"

namespace tern::gateway {

// A bounded queue of messages between threads. Past `capacity` the oldest
// message is dropped and counted, or push() waits for room, as the queue
// was made. Thread safety: every member may be called from any thread.
class message_queue {
 public:
  enum class when_full : std::uint8_t {
    drop_oldest,  // the oldest message is dropped and counted (commands: MQTT must never wait)
    wait,         // push() blocks until pops made room (statuses: back-pressure on the interface):
                  // once full, until it is three quarters full, so that a producer and a consumer
                  // wake each other once per batch, not once per message
  };
  explicit message_queue(std::size_t capacity = 10'000, when_full policy = when_full::drop_oldest)
      : capacity_(capacity), policy_(policy) {}

  // Adds `m` (false once closed; a push waiting for room returns false when
  // the queue is closed meanwhile). `on_push`, if set, is called after each
  // push (the process interface wakes its poll loop with it).
  bool push(message m);
  // The oldest message; waits until there is one or the queue is closed
  // (nullopt), or until `timeout` passes (nullopt).
  [[nodiscard]] std::optional<message> pop();
  [[nodiscard]] std::optional<message> pop_for(std::chrono::milliseconds timeout);
  [[nodiscard]] std::optional<message> try_pop();
  // Moves up to `max` of the oldest messages to the end of `out`, waiting
  // until there is one; false once closed and empty (one lock for many).
  [[nodiscard]] bool pop_some(std::vector<message>& out, std::size_t max);
  // Wakes every pop(); push() refuses from now on; what is queued can still be popped.
  void close();
  // Opens a closed queue again (the runner does before it restarts an interface).
  void reopen();
  [[nodiscard]] bool closed() const;
  [[nodiscard]] std::size_t size() const;
  // Messages dropped because the queue was full.
  [[nodiscard]] std::size_t dropped() const;
  void set_on_push(std::function<void()> f);

 private:
  std::optional<message> take(std::unique_lock<std::mutex>& lock);
  void wake_pushers(std::unique_lock<std::mutex>& lock);

  mutable std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<message> items_;
  std::size_t capacity_;
  when_full policy_;
  std::size_t pushers_waiting_ = 0;
  std::size_t dropped_ = 0;
  bool closed_ = false;
  std::function<void()> on_push_;
};

// What the runner hands an interface's run().
struct interface_context {
  const std::map<std::string, setting, std::less<>>& settings;  // its [interface] keys
  message_queue& commands;                                      // in: to carry out
  message_queue& statuses;  // out: to publish; push() waits while it is full (the broker is slower)
  log::logger log;
};

class interface {
 public:
  virtual ~interface() = default;
  // Runs until stop() or io.commands closed; see the header comment.
  virtual result<void> run(interface_context& io) = 0;
  // Asks run() to return soon; from another thread; may be called before run().
  virtual void stop() = 0;
};

}  // namespace tern::gateway
