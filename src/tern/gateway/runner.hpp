// tern/gateway/runner.hpp: one gateway, wired: a tern::Client connected to
// the broker of its config, the map between MQTT and the interface, and the
// interface on a thread of its own.
//
//   MQTT command --(subscribed: map.topics())--> map.to_internal --> interface's commands queue
//   interface's statuses queue --> map.to_mqtt (sender: the gateway's name) --> publish
//
//   auto cfg = tern::gateway::load_config(path).value();
//   auto map = tern::gateway::message_map::load(cfg.map.file).value();
//   tern::gateway::runner r(cfg, map, std::make_unique<tern::gateway::process_interface>(), log);
//   if (auto ec = r.start()) return fail(ec);     // connected, subscribed, interface started
//   ...
//   r.stop();
//
// This is the skeleton of issue 18's runner: an interface whose run() fails
// is started again after a backoff (1 s doubling to 30 s, back to 1 s after
// a run of more than a minute); messages the map
// refuses are counted and logged (debug for the gateway's own; warn
// otherwise, at most once per 10 s each way with the number not logged).
// Availability: ROOT/NAME/status (ROOT the map's root; NAME/status when
// it has none) is "online", retained, from every connect, and "offline",
// retained, from stop() or, when the gateway vanishes, from the broker (the
// will). Metrics: ROOT/NAME/metrics, retained, every metrics_interval s
// while connected: {"in":..,"out":..,"unmapped":..,"dropped":..,"queued":..,"restarts":..}.
// Store-and-forward: statuses published while the broker is unreachable
// wait in the client's offline queue (mqtt.queue of them, the oldest
// dropped and counted past it; on disk with mqtt.persistence_dir) and go
// out in order once it is back. While connected nothing is dropped: the
// pump thread keeps the statuses not yet completed within that queue's
// bounds, waiting on their tokens (the client's loop thread completes
// them, and never waits for the pump), and the interface's push() waits
// while the statuses queue is full. reload_map() swaps the map on the same
// connection.
//
// Thread safety: start() and stop() from one thread; stats() and
// reload_map() from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/system/error_code.hpp>

#include "tern/client/client.hpp"
#include "tern/gateway/config.hpp"
#include "tern/gateway/interface.hpp"
#include "tern/gateway/map.hpp"
#include "tern/gateway/throttle.hpp"
#include "tern/log/log.hpp"

namespace tern::gateway {

class runner {
 public:
  struct counters {
    std::uint64_t in = 0;          // MQTT messages handed to the interface
    std::uint64_t out = 0;         // statuses published
    std::uint64_t refused_in = 0;  // MQTT messages the syntax or the map refused (own messages not counted)
    std::uint64_t refused_out = 0;  // interface messages the map refused
    std::uint64_t restarts = 0;    // times the interface's run() failed and was started again
    std::uint64_t dropped = 0;     // statuses the full offline queue dropped (disconnected), commands the full commands queue
    std::uint64_t queued = 0;      // statuses not yet published or not yet acknowledged by the broker
  };

  runner(config c, message_map map, std::unique_ptr<interface> iface, log::logger log);
  ~runner();
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  // Connects (blocking until the CONNACK or a failure), subscribes the map's
  // topics (again after each reconnect; the first time, waits for the
  // SUBACK, 10 s at most) and starts the interface. The client's error when
  // the first connection fails (nothing is left running).
  [[nodiscard]] boost::system::error_code start();
  // Stops the interface, publishes what it produced meanwhile, disconnects.
  void stop();

  [[nodiscard]] counters stats() const;
  // True while the connection to the broker is up.
  [[nodiscard]] bool connected() const { return client_ && client_->connected(); }
  // From now on messages are translated by `map`; its topics the old one did
  // not have are subscribed, the old one's it does not have unsubscribed,
  // without reconnecting.
  void reload_map(message_map map);
  [[nodiscard]] std::shared_ptr<const message_map> current_map() const;
  // ROOT/NAME/status and ROOT/NAME/metrics (NAME/... when the map's root is
  // empty), ROOT the first map's: a reload does not move them (the will is
  // set at connect).
  [[nodiscard]] const std::string& status_topic() const noexcept { return status_topic_; }
  [[nodiscard]] const std::string& metrics_topic() const noexcept { return metrics_topic_; }

 private:
  void on_message(std::string_view topic, std::string_view payload);
  void run_interface();
  void pump_statuses();
  void publish_metrics();

  config config_;
  mutable std::mutex map_mutex_;
  std::shared_ptr<const message_map> map_;
  std::string status_topic_, metrics_topic_;
  std::unique_ptr<interface> interface_;
  log::logger log_;
  std::unique_ptr<Client> client_;
  message_queue commands_;
  // Full: the interface's push() waits (the pump waits for the broker while connected).
  message_queue statuses_{10'000, message_queue::when_full::wait};
  std::thread interface_thread_, pump_thread_;
  std::mutex subscribe_mutex_;
  std::vector<token> subscriptions_;  // the first connection's, waited for by start()
  bool collecting_ = false;           // while start() waits for them
  std::mutex stop_mutex_;
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  throttle refused_in_log_{std::chrono::seconds(10)};   // the client's loop thread only
  throttle refused_out_log_{std::chrono::seconds(10)};  // the pump thread only
  throttle dropped_log_{std::chrono::seconds(10)};      // the client's loop thread only
  std::atomic<std::uint64_t> in_{0}, out_{0}, refused_in_{0}, refused_out_{0}, restarts_{0};
  std::atomic<std::uint64_t> dropped_{0}, issued_{0}, completed_{0};  // statuses' publishes
  std::atomic<std::uint64_t> in_pump_{0};  // statuses the pump took from the queue and has not published yet
  std::uint64_t metrics_event_ = 0;
};

}  // namespace tern::gateway
