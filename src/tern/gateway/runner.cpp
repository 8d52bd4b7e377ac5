#include "tern/gateway/runner.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <utility>
#include <vector>

#include "tern/client/client.hpp"
#include "tern/client/error.hpp"
#include <fmt/format.h>

namespace tern::gateway {

using namespace std::chrono_literals;

namespace {

// The client's offline queue: mqtt.queue statuses, and at least 512 bytes a
// status (16 MiB at least).
offline_queue_options store_bound(const config& c) {
  const std::size_t messages = std::max<std::size_t>(c.mqtt.queue, 1);
  return {.max_messages = messages,
          .max_bytes = std::max<std::size_t>(offline_queue_options{}.max_bytes, messages * 512),
          .on_full = offline_queue_options::overflow::drop_oldest};
}

// The statuses the pump published that the client has not completed yet
// (acknowledged, written or dropped), oldest first. While connected the
// pump keeps them within the client's offline queue's bounds, less room for
// the runner's own publishes (online, metrics, offline), so that the queue
// never has to drop one: it waits for the broker instead. Pump thread only.
class publish_window {
 public:
  explicit publish_window(const offline_queue_options& bound)
      : max_messages_(bound.max_messages - std::min<std::size_t>(bound.max_messages / 2, 4)),
        max_bytes_(bound.max_bytes - std::min<std::size_t>(bound.max_bytes / 2, 64 * 1024)) {}

  // Blocks until a publish of `cost` bytes fits, or `disconnected()`: then
  // the client's queue holds it, and drops the oldest past its bound.
  template <class Disconnected>
  void wait_for_room(std::size_t cost, Disconnected disconnected) {
    for (reclaim(); !fits(cost) && !disconnected(); reclaim()) {
      // Completions come in order while connected: wait for the one after
      // which a quarter of the window is free, so that the pump wakes once
      // per many PUBACKs, not once per PUBACK.
      const std::size_t keep = max_messages_ - max_messages_ / 4;
      const std::size_t k = pending_.size() > keep ? pending_.size() - keep - 1 : 0;
      (void)pending_[k].done.wait(100ms);  // a timeout: look at the connection again
    }
  }
  void add(token t, std::size_t cost) {
    pending_.push_back({std::move(t), cost});
    bytes_ += cost;
  }

 private:
  struct publish {
    token done;
    std::size_t cost;
  };

  bool fits(std::size_t cost) const {
    return pending_.empty() || (pending_.size() < max_messages_ && bytes_ + cost <= max_bytes_);
  }
  void reclaim() {
    while (!pending_.empty() && pending_.front().done.is_complete()) {
      bytes_ -= pending_.front().cost;
      pending_.pop_front();
    }
    // While disconnected, the queued statuses the client drops complete
    // before the older ones in flight, which wait for the broker: sweep
    // them out now and then, so that an outage does not grow this.
    if (pending_.size() > sweep_at_) {
      std::erase_if(pending_, [this](const publish& p) {
        if (!p.done.is_complete()) return false;
        bytes_ -= p.cost;
        return true;
      });
      sweep_at_ = 2 * pending_.size() + max_messages_;
    }
  }

  std::size_t max_messages_, max_bytes_;
  std::size_t sweep_at_ = 2 * max_messages_;
  std::deque<publish> pending_;
  std::size_t bytes_ = 0;
};

}  // namespace

runner::runner(config c, message_map map, std::unique_ptr<interface> iface, log::logger log)
    : config_(std::move(c)),
      map_(std::make_shared<const message_map>(std::move(map))),
      interface_(std::move(iface)),
      log_(std::move(log)) {
  const auto own_topic = [this](std::string_view leaf) {
    return map_->root().empty() ? fmt::format("{}/{}", config_.name, leaf)
                                : fmt::format("{}/{}/{}", map_->root(), config_.name, leaf);
  };
  status_topic_ = own_topic("status");
  metrics_topic_ = own_topic("metrics");
}

runner::~runner() { stop(); }

runner::counters runner::stats() const {
  const auto issued = issued_.load(), completed = completed_.load();
  return {in_.load(),
          out_.load(),
          refused_in_.load(),
          refused_out_.load(),
          restarts_.load(),
          dropped_.load() + commands_.dropped() + statuses_.dropped(),
          (issued > completed ? issued - completed : 0) + statuses_.size() + in_pump_.load()};
}

std::shared_ptr<const message_map> runner::current_map() const {
  const std::lock_guard lock(map_mutex_);
  return map_;
}

void runner::reload_map(message_map map) {
  auto next = std::make_shared<const message_map>(std::move(map));
  std::shared_ptr<const message_map> previous;
  {
    const std::lock_guard lock(map_mutex_);
    previous = std::exchange(map_, next);
  }
  const auto has = [](const std::vector<std::string>& v, const std::string& t) {
    return std::find(v.begin(), v.end(), t) != v.end();
  };
  std::vector<subscription> added;
  std::vector<std::string> removed;
  const auto q = static_cast<qos>(config_.mqtt.qos);
  for (const auto& t : next->topics())
    if (!has(previous->topics(), t)) added.push_back({t, subscribe_options{.max_qos = q}});
  for (const auto& t : previous->topics())
    if (!has(next->topics(), t)) removed.push_back(t);
  if (client_) {
    if (!added.empty()) client_->subscribe(std::move(added));
    if (!removed.empty()) client_->unsubscribe(std::move(removed));
  }
  log_.info("gateway {}: map reloaded: root \"{}\", {} topic(s)", config_.name, next->root(), next->topics().size());
}

void runner::publish_metrics() {
  if (!client_ || !client_->connected()) return;
  const auto s = stats();
  ++issued_;
  client_->publish(metrics_topic(),
                   fmt::format(R"({{"in":{},"out":{},"unmapped":{},"dropped":{},"queued":{},"restarts":{}}})", s.in,
                               s.out, s.refused_in + s.refused_out, s.dropped, s.queued, s.restarts),
                   qos::at_least_once, true);
}

boost::system::error_code runner::start() {
  client_options o;
  o.log = log_.with_channel("client");
  o.persistence.dir = config_.mqtt.persistence_dir;
  o.tls.ca_file = config_.mqtt.ca_file;
  o.tls.cert_file = config_.mqtt.cert_file;
  o.tls.key_file = config_.mqtt.key_file;
  o.offline_queue = store_bound(config_);
  client_ = std::make_unique<Client>(std::move(o));

  const auto q = static_cast<qos>(config_.mqtt.qos);
  client_->on_publish([this](int, boost::system::error_code ec, reason) {
    ++completed_;
    if (ec == client_error::dropped) {
      ++dropped_;
      if (const auto skipped = dropped_log_.allow(throttle::clock::now()))
        log_.warn("gateway {}: the offline queue is full: the oldest status dropped ({} more since the last report)",
                  config_.name, *skipped);
    }
  });
  client_->on_connect([this, q](boost::system::error_code ec, const connack_packet&) {
    if (ec) return;
    ++issued_;
    client_->publish(status_topic(), "online", qos::at_least_once, true);
    const auto m = current_map();
    if (m->topics().empty()) return;
    std::vector<subscription> subs;
    for (const auto& t : m->topics()) subs.push_back({t, subscribe_options{.max_qos = q}});
    token t = client_->subscribe(std::move(subs));
    const std::lock_guard lock(subscribe_mutex_);
    if (collecting_) subscriptions_.push_back(std::move(t));
  });
  client_->on_message([this](const publish_packet& m) { on_message(m.topic(), m.payload().view()); });

  connect_options c;
  c.client_id = config_.mqtt.client_id.empty() ? config_.name : config_.mqtt.client_id;
  c.keep_alive = config_.mqtt.keep_alive;
  if (!config_.mqtt.username.empty()) c.username = config_.mqtt.username;
  if (!config_.mqtt.password.empty()) c.password = config_.mqtt.password;
  if (!config_.mqtt.persistence_dir.empty()) {
    c.clean_start = false;
    c.session_expiry = 0xFFFFFFFF;
  }
  c.will = will_message{.topic = status_topic(), .payload = shared_bytes::copy(std::string_view("offline")),
                        .qos = qos::at_least_once, .retain = true, .props = {}};
  {
    const std::lock_guard lock(subscribe_mutex_);
    collecting_ = true;
  }
  if (auto ec = client_->connect(config_.mqtt.uri, c)) {
    client_.reset();
    return ec;
  }
  client_->loop_start();
  std::vector<token> first;
  {
    const std::lock_guard lock(subscribe_mutex_);
    first.swap(subscriptions_);
    collecting_ = false;
  }
  for (const auto& t : first)
    if (!t.wait(10s) || t.error()) log_.warn("gateway {}: subscribing the map's topics: {}", config_.name,
                                             t.error() ? t.error().message() : std::string("no SUBACK in 10 s"));
  {
    const std::lock_guard lock(stop_mutex_);
    stopping_ = false;
  }
  interface_thread_ = std::thread([this] { run_interface(); });
  pump_thread_ = std::thread([this] { pump_statuses(); });
  if (config_.metrics_interval > 0)
    metrics_event_ = client_->new_event(std::chrono::seconds(config_.metrics_interval), [this] {
      publish_metrics();
      return true;
    });
  log_.info("gateway {}: connected to {}, {} topic(s) subscribed, availability on {}", config_.name,
            config_.mqtt.uri, current_map()->topics().size(), status_topic());
  return {};
}

void runner::on_message(std::string_view topic, std::string_view payload) {
  const auto map = current_map();
  auto m = map->to_internal(topic, payload, config_.name);
  if (!m) {
    if (m.error().code == make_error_code(gateway_error::own_message) || topic == status_topic() ||
        topic == metrics_topic()) {
      log_.debug("gateway {}: {}: its own message, not fed back", config_.name, topic);
      return;
    }
    ++refused_in_;
    if (const auto skipped = refused_in_log_.allow(throttle::clock::now()))
      log_.warn("gateway {}: {}: dropped: {} ({} more dropped since the last report)", config_.name, topic,
                m.error().message(), *skipped);
    return;
  }
  ++in_;
  commands_.push(std::move(*m));
}

void runner::run_interface() {
  auto delay = 1s;
  interface_context io{config_.interface.settings, commands_, statuses_, log_.with_channel("interface")};
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    result<void> r = error{};
    try {
      r = interface_->run(io);
    } catch (const std::exception& e) {
      log_.error("gateway {}: the interface threw: {}", config_.name, e.what());
    } catch (...) {
      log_.error("gateway {}: the interface threw", config_.name);
    }
    std::unique_lock lock(stop_mutex_);
    if (stopping_) return;
    if (std::chrono::steady_clock::now() - started > 60s) delay = 1s;  // it ran a good while: a fresh failure
    if (r) {
      log_.warn("gateway {}: the interface returned; starting it again in {} s", config_.name, delay.count());
    } else if (r.error().code) {
      log_.error("gateway {}: the interface failed: {}; starting it again in {} s", config_.name,
                 r.error().message(), delay.count());
    }
    ++restarts_;
    if (stop_signal_.wait_for(lock, delay, [this] { return stopping_; })) return;
    delay = std::min(delay * 2, std::chrono::seconds(30));
  }
}

void runner::pump_statuses() {
  const auto q = static_cast<qos>(config_.mqtt.qos);
  publish_window window(store_bound(config_));
  std::vector<message> batch;
  for (;;) {
    batch.clear();
    if (!statuses_.pop_some(batch, 256)) return;  // one lock, one map look-up per batch
    in_pump_ += batch.size();
    const auto map = current_map();
    for (const auto& s : batch) {
      auto out = map->to_mqtt(s, config_.name);
      if (!out) {
        --in_pump_;
        ++refused_out_;
        if (const auto skipped = refused_out_log_.allow(throttle::clock::now()))
          log_.warn("gateway {}: a message from the interface was not published: {} ({} more since the last report)",
                    config_.name, out.error().message(), *skipped);
        continue;
      }
      // Connected: wait for the broker rather than overflow the client's
      // queue. Disconnected: that queue is the store, oldest dropped first.
      const std::size_t cost = out->topic.size() + out->payload.size();
      window.wait_for_room(cost, [this] { return !client_->connected(); });
      ++issued_;
      --in_pump_;
      window.add(client_->publish(out->topic, out->payload, q), cost);
      ++out_;
    }
  }
}

void runner::stop() {
  if (!client_) return;
  {
    const std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  interface_->stop();
  commands_.close();
  if (interface_thread_.joinable()) interface_thread_.join();
  statuses_.close();  // what the interface produced is still published
  if (pump_thread_.joinable()) pump_thread_.join();
  if (metrics_event_ != 0) client_->remove_event(std::exchange(metrics_event_, 0));
  if (client_->connected()) {
    publish_metrics();
    client_->publish(status_topic(), "offline", qos::at_least_once, true).wait(5s);
  }
  client_->disconnect().wait(5s);
  client_->loop_stop();
  client_.reset();
  commands_.reopen();
  statuses_.reopen();
}

}  // namespace tern::gateway
