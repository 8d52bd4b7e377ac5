// tern/client/helpers.hpp: one call to publish or receive, for scripts and
// small programs: each connects, does its job, disconnects cleanly, and
// returns (like paho.mqtt.publish.single/multiple and subscribe.simple/callback).
//
//   if (auto ec = tern::publish_one("mqtt://127.0.0.1", "lights/kitchen", "on", {.qos = tern::qos::at_least_once}))
//     std::cerr << ec.message() << '\n';
//
//   std::vector<tern::publish_packet> batch{{"a/1", tern::shared_bytes::copy("x")}, {"a/2", tern::shared_bytes::copy("y")}};
//   auto ec = tern::publish_many("mqtt://127.0.0.1", batch);
//
//   auto got = tern::receive("mqtt://127.0.0.1", {"sensors/#"}, 3, std::chrono::seconds(10));
//   for (auto& m : got.messages) show(m.topic(), m.payload().view());   // got.error: timed_out if < 3
//
//   tern::for_each_message("mqtt://127.0.0.1", {"alerts/#"}, [](const tern::publish_packet& m) {
//     handle(m);
//     return m.topic() != "alerts/stop";                                 // false: stop, disconnect, return
//   });
//
// Each call uses its own tern::Client in the calling thread (no thread is
// started); callbacks run in the calling thread. Errors are values: an empty
// error_code means done; otherwise the CONNACK's refusal (== tern::reason::...
// or tern::connect_return_code::...), a refused SUBSCRIBE (the SUBACK's failure
// code), a failed publish (its reason code or client_error), the transport's
// error, or std::errc::timed_out (boost::asio::error::timed_out) when
// `timeout` ran out. Thread safety: the functions share nothing; call them
// from any threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/error_code.hpp>

#include "tern/client/error.hpp"
#include "tern/client/options.hpp"
#include "tern/codec/packet.hpp"

namespace tern {

struct publish_options {
  // Of publish_one()'s message (publish_many()'s messages carry their own).
  tern::qos qos = qos::at_most_once;
  bool retain = false;
  properties props{};  // 5.0 PUBLISH properties
  // The CONNECT (client id: empty lets a 5.0 server assign one; version...).
  connect_options connect{};
  client_options client{};
  // For the whole call: connect, publish, wait for the QoS flows.
  std::chrono::milliseconds timeout{10'000};
};

struct receive_options {
  tern::qos qos = qos::at_most_once;  // of every subscription
  // Also hand over retained messages (the broker's stored ones, sent on
  // subscribing). paho's subscribe.simple skips them by default; tern does
  // not, like mosquitto_sub.
  bool retained = true;
  connect_options connect{};
  client_options client{};
  // for_each_message(): how long connecting and subscribing may take (then
  // it runs until the callback says stop). receive() takes its own timeout.
  std::chrono::milliseconds timeout{10'000};
};

// Publishes one message and waits for its QoS flow (QoS 0: written; 1:
// PUBACK; 2: PUBCOMP). Empty error_code: done.
[[nodiscard]] boost::system::error_code publish_one(std::string_view uri, std::string_view topic,
                                                    std::string_view payload, const publish_options& options = {});

// Publishes `messages` in order on one connection (each with its own QoS,
// retain and properties) and waits for all of them. Stops at and returns the
// first failure; empty when every one was delivered.
[[nodiscard]] boost::system::error_code publish_many(std::string_view uri, std::vector<publish_packet> messages,
                                                     const publish_options& options = {});

struct receive_result {
  std::vector<publish_packet> messages;  // in arrival order; may be fewer than asked
  boost::system::error_code error;       // empty when all `n` arrived
};

// Subscribes to `filters` and returns the first `n` messages; waits at most
// `timeout` in all (then error is timed_out and `messages` holds what came).
[[nodiscard]] receive_result receive(std::string_view uri, std::vector<std::string> filters, std::size_t n,
                                     std::chrono::milliseconds timeout, const receive_options& options = {});

// Subscribes to `filters` and calls `callback` with each message until it
// returns false; then disconnects. Reconnects as client_options::reconnect
// says. Empty error_code when the callback stopped it; otherwise why the
// client stopped (connect or subscribe failed, connection lost with
// reconnect disabled).
boost::system::error_code for_each_message(std::string_view uri, std::vector<std::string> filters,
                                           const std::function<bool(const publish_packet&)>& callback,
                                           const receive_options& options = {});

}  // namespace tern
