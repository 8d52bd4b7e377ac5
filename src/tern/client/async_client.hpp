// tern/client/async_client.hpp: tern::AsyncClient, an MQTT 3.1.1 / 5.0 client
// on an Asio executor the caller gives, with automatic reconnection, an
// offline queue, an optional store that survives a restart, and completion
// tokens (callbacks, asio::use_future, asio::use_awaitable, asio::deferred...).
//
//   boost::asio::io_context io;
//   tern::AsyncClient c(io.get_executor());
//   c.on_message("sensors/#", [](const tern::publish_packet& m) { show(m.topic(), m.payload().view()); });
//   c.async_connect("mqtt://127.0.0.1:1883", {.client_id = "app-1"},
//                   [&](boost::system::error_code ec, const tern::connack_packet&) {
//     if (ec) return;   // refused (ec carries the reason code) or unreachable
//     c.async_publish(tern::publish_packet("sensors/t1", tern::shared_bytes::copy("21.5"),
//                                          tern::qos::exactly_once),
//                     [](auto ec, tern::reason rc) { ... });   // after PUBCOMP
//   });
//   io.run();
//
// docs/client.md says what each completion means, how reconnection, the
// offline queue and the receive queue behave, what persistence guarantees
// across a kill, and the thread-safety contract: the client lives on its
// executor (start operations there, or give it a strand); completions and
// on_*() callbacks are posted, never run inside the initiating call.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/system/error_code.hpp>

#include "tern/client/delivery.hpp"
#include "tern/client/error.hpp"
#include "tern/client/options.hpp"
#include "tern/client/uri.hpp"
#include "tern/codec/packet.hpp"

namespace tern {

class AsyncClient {
 public:
  using executor_type = boost::asio::any_io_executor;
  using error_code = boost::system::error_code;

  using connect_signature = void(error_code, connack_packet);
  using publish_signature = void(error_code, reason);
  using subscribe_signature = void(error_code, std::vector<reason>);
  using receive_signature = void(error_code, publish_packet);
  using ping_signature = void(error_code);
  using disconnect_signature = void(error_code);
  using persist_signature = void(error_code);

  // The default completion token: asio::deferred (what Asio 1.82+ makes the
  // default); `co_await c.async_ping();` works in an asio::awaitable.
  using default_token = boost::asio::deferred_t;

  using message_handler = std::function<void(const publish_packet&)>;
  using delivery_handler = std::function<void(const publish_packet&, const delivery&)>;
  using connect_handler = std::function<void(const connack_packet&)>;
  using disconnect_handler = std::function<void(error_code)>;

  explicit AsyncClient(executor_type ex, client_options options = {});
  // Closes the connection at once (no DISCONNECT) and aborts pending operations.
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  executor_type get_executor() const noexcept;

  // Connects to `uri` (mqtt://host[:port] or tcp://, port 1883; TLS:
  // mqtts://host[:port] or ssl://, tls://, port 8883, configured by
  // client_options::tls; ws:// and wss:// are parsed but not built yet:
  // client_error::unsupported_scheme) and sends the CONNECT `options`
  // describes. Completes with the first CONNACK, or with why the connection
  // could not be made: the transport's error, a TLS handshake that failed
  // (tls_verify_category(): "certificate verify failed: hostname mismatch"...;
  // retried like any failed attempt on a reconnect).
  template <boost::asio::completion_token_for<connect_signature> Token = default_token>
  auto async_connect(std::string uri, connect_options options, Token&& token = {}) {
    return boost::asio::async_initiate<Token, connect_signature>(
        [this](boost::asio::any_completion_handler<connect_signature> h, std::string u, connect_options o) {
          start_connect(std::move(u), std::move(o), std::move(h));
        },
        token, std::move(uri), std::move(options));
  }

  // Publishes `message` (topic, payload, QoS, retain, 5.0 properties; its
  // packet id and DUP are the client's business). Completes when its QoS
  // flow does (see docs/client.md, "Completion signatures"). An invalid topic completes with
  // reason::topic_name_invalid; a QoS above the broker's Maximum QoS or
  // retain where Retain Available is 0 with qos_not_supported /
  // retain_not_supported, before anything is sent.
  template <boost::asio::completion_token_for<publish_signature> Token = default_token>
  auto async_publish(publish_packet message, Token&& token = {}) {
    return boost::asio::async_initiate<Token, publish_signature>(
        [this](boost::asio::any_completion_handler<publish_signature> h, publish_packet m) {
          start_publish(std::move(m), std::move(h));
        },
        token, std::move(message));
  }

  // Subscribes (one SUBSCRIBE; `props`: 5.0 Subscription Identifier, user
  // properties). An invalid filter completes with reason::topic_filter_invalid.
  template <boost::asio::completion_token_for<subscribe_signature> Token = default_token>
  auto async_subscribe(std::vector<subscription> subscriptions, properties props, Token&& token = {}) {
    return boost::asio::async_initiate<Token, subscribe_signature>(
        [this](boost::asio::any_completion_handler<subscribe_signature> h, std::vector<subscription> s,
               properties p) { start_subscribe(std::move(s), std::move(p), std::move(h)); },
        token, std::move(subscriptions), std::move(props));
  }
  template <boost::asio::completion_token_for<subscribe_signature> Token = default_token>
  auto async_subscribe(std::vector<subscription> subscriptions, Token&& token = {}) {
    return async_subscribe(std::move(subscriptions), properties{}, std::forward<Token>(token));
  }

  template <boost::asio::completion_token_for<subscribe_signature> Token = default_token>
  auto async_unsubscribe(std::vector<std::string> filters, properties props, Token&& token = {}) {
    return boost::asio::async_initiate<Token, subscribe_signature>(
        [this](boost::asio::any_completion_handler<subscribe_signature> h, std::vector<std::string> f,
               properties p) { start_unsubscribe(std::move(f), std::move(p), std::move(h)); },
        token, std::move(filters), std::move(props));
  }
  template <boost::asio::completion_token_for<subscribe_signature> Token = default_token>
  auto async_unsubscribe(std::vector<std::string> filters, Token&& token = {}) {
    return async_unsubscribe(std::move(filters), properties{}, std::forward<Token>(token));
  }

  // The next received message that no on_message() handler took. Supports
  // per-operation cancellation (terminal, partial, total: nothing is lost).
  template <boost::asio::completion_token_for<receive_signature> Token = default_token>
  auto async_receive(Token&& token = {}) {
    return boost::asio::async_initiate<Token, receive_signature>(
        [this](boost::asio::any_completion_handler<receive_signature> h) {
          start_receive(std::chrono::steady_clock::duration::zero(), std::move(h));
        },
        token);
  }
  // The same, completing with asio::error::timed_out when nothing arrives
  // within `timeout` (> 0).
  template <boost::asio::completion_token_for<receive_signature> Token = default_token>
  auto async_receive(std::chrono::steady_clock::duration timeout, Token&& token = {}) {
    return boost::asio::async_initiate<Token, receive_signature>(
        [this](boost::asio::any_completion_handler<receive_signature> h, std::chrono::steady_clock::duration t) {
          start_receive(t, std::move(h));
        },
        token, timeout);
  }

  // Sends PINGREQ; completes at the next PINGRESP (client_error::not_connected
  // when not connected now).
  template <boost::asio::completion_token_for<ping_signature> Token = default_token>
  auto async_ping(Token&& token = {}) {
    return boost::asio::async_initiate<Token, ping_signature>(
        [this](boost::asio::any_completion_handler<ping_signature> h) { start_ping(std::move(h)); }, token);
  }

  // Sends DISCONNECT with `code` (and `props`, 5.0), closes, stops reconnecting.
  template <boost::asio::completion_token_for<disconnect_signature> Token = default_token>
  auto async_disconnect(reason code, properties props, Token&& token = {}) {
    return boost::asio::async_initiate<Token, disconnect_signature>(
        [this](boost::asio::any_completion_handler<disconnect_signature> h, reason c, properties p) {
          start_disconnect(c, std::move(p), std::move(h));
        },
        token, code, std::move(props));
  }
  template <boost::asio::completion_token_for<disconnect_signature> Token = default_token>
  auto async_disconnect(reason code = reason::normal_disconnection, Token&& token = {}) {
    return async_disconnect(code, properties{}, std::forward<Token>(token));
  }

  // Completes once every publish accepted before it, and every message
  // received before it, is in the store, as durable as
  // persistence.durability makes it (the commit also sends what waited for
  // it). ec: the store's error. Without persistence: at once, no error;
  // before the first async_connect() opened the store: client_error::not_connected.
  template <boost::asio::completion_token_for<persist_signature> Token = default_token>
  auto async_persist(Token&& token = {}) {
    return boost::asio::async_initiate<Token, persist_signature>(
        [this](boost::asio::any_completion_handler<persist_signature> h) { start_persist(std::move(h)); }, token);
  }

  // ---- publishing in bulk (what tern::Client does for its callers' threads) ----
  // One message for publish_batch(), and the outcome reported for it.
  struct batch_publish {
    publish_packet message;
    std::uint64_t cookie = 0;  // the caller's name for it; 0: no outcome wanted
  };
  struct publish_outcome {
    std::uint64_t cookie = 0;
    error_code ec;
    reason rc = reason::success;
  };
  using outcomes_handler = std::function<void(std::span<const publish_outcome>)>;
  // Publishes `messages` in order, each as async_publish() would (same
  // checks, offline queue, max_inflight, store), and sends them in one turn:
  // one write for all that can go out now. No completion handler is stored:
  // the outcome of each message with a cookie goes to on_publish_outcomes(),
  // with the same ec and rc async_publish() would complete with; a message
  // with cookie 0 costs nothing once sent. Call it on the executor (the
  // messages are moved from).
  void publish_batch(std::span<batch_publish> messages);
  // Where publish_batch()'s outcomes go: posted to the executor, all those
  // that one turn produced in one call. Outcomes that the AsyncClient's
  // destruction produces (operation_aborted) are posted too: `h` must stay
  // callable until they have run. Set it on the executor, or before it runs.
  void on_publish_outcomes(outcomes_handler h);

  // Calls `h` with every received message whose topic matches `filter`
  // (wildcards allowed; a "$share/group/" prefix is ignored for matching).
  // Replaces the handler of the same filter; an empty `h` removes it. This
  // does not subscribe: call async_subscribe() too.
  void on_message(std::string filter, message_handler h);
  // The same, with how the message came (its delivery number: see
  // "Persistence" in docs/client.md). Replaces the on_message() handler of the same filter too.
  void on_delivery(std::string filter, delivery_handler h);
  // Called on every accepted CONNACK (the first and each reconnect).
  void on_connect(connect_handler h);
  // Called each time an accepted connection ends, with why (the broker's
  // DISCONNECT reason code, the transport's error, a keep alive timeout...).
  void on_disconnect(disconnect_handler h);

  // ---- what is known (call on the executor) ----
  bool connected() const noexcept;
  // The version of the current (or last) CONNECT.
  protocol_version version() const noexcept;
  // The client id in use (the server's Assigned Client Identifier when it chose one).
  const std::string& client_id() const noexcept;
  // Publishes waiting in the offline queue, and QoS 1/2 publishes in flight.
  std::size_t queued() const noexcept;
  std::size_t inflight() const noexcept;
  // Received messages dropped because the receive queue was full.
  std::uint64_t received_dropped() const noexcept;
  // Connections accepted so far (1 after the first CONNACK; +1 per reconnect).
  std::uint64_t connects() const noexcept;

 private:
  struct impl;

  void start_connect(std::string uri, connect_options o, boost::asio::any_completion_handler<connect_signature> h);
  void start_publish(publish_packet m, boost::asio::any_completion_handler<publish_signature> h);
  void start_subscribe(std::vector<subscription> s, properties p,
                       boost::asio::any_completion_handler<subscribe_signature> h);
  void start_unsubscribe(std::vector<std::string> f, properties p,
                         boost::asio::any_completion_handler<subscribe_signature> h);
  void start_receive(std::chrono::steady_clock::duration timeout,
                     boost::asio::any_completion_handler<receive_signature> h);
  void start_ping(boost::asio::any_completion_handler<ping_signature> h);
  void start_disconnect(reason code, properties props, boost::asio::any_completion_handler<disconnect_signature> h);
  void start_persist(boost::asio::any_completion_handler<persist_signature> h);

  std::shared_ptr<impl> impl_;
};

}  // namespace tern
