// tern/client/async_client.hpp: tern::AsyncClient, an MQTT 3.1.1 / 5.0 client
// on an Asio executor the caller gives, with automatic reconnection, an
// offline queue and completion tokens (callbacks, asio::use_future,
// asio::use_awaitable, asio::deferred...).
//
//   boost::asio::io_context io;
//   tern::AsyncClient c(io.get_executor());
//   c.on_message("sensors/#", [](const tern::publish_packet& m) { show(m.topic(), m.payload().view()); });
//   c.async_connect("mqtt://127.0.0.1:1883", {.client_id = "app-1"},
//                   [&](boost::system::error_code ec, const tern::connack_packet&) {
//     if (ec) return;   // refused (ec carries the reason code) or unreachable
//     c.async_subscribe({{"sensors/#", {.max_qos = tern::qos::at_least_once}}},
//                       [](auto ec, std::vector<tern::reason> granted) { ... });
//     c.async_publish(tern::publish_packet("sensors/t1", tern::shared_bytes::copy("21.5"),
//                                          tern::qos::exactly_once),
//                     [](auto ec, tern::reason rc) { ... });   // after PUBCOMP
//   });
//   io.run();
//
//   // In a coroutine: auto ack = co_await c.async_connect(uri, opts, asio::use_awaitable);
//   // or, with the default token (asio::deferred): co_await c.async_ping();
//
// Completion signatures: `ec` is boost::system::error_code; it wraps tern's
// std::error_code categories, so `ec == tern::reason::not_authorized`,
// `ec == tern::connect_return_code::not_authorized` and
// `ec == tern::client_error::queue_full` all work.
//   connect      void(ec, connack_packet)   the CONNACK; ec: its reason code (5.0, category
//                                           "mqtt5") or return code (3.x, "mqtt3.connack"),
//                                           or the transport's error (unreachable, timeout)
//   publish      void(ec, reason)           QoS 0: written to the socket; QoS 1: PUBACK;
//                                           QoS 2: PUBCOMP (or a refusing PUBREC). reason:
//                                           the broker's code (success, or 0x10 no matching
//                                           subscribers...); ec set when it is >= 0x80 or
//                                           the message was not delivered (client_error::
//                                           queue_full, dropped, message_expired, the
//                                           connection's error, operation_aborted)
//   subscribe    void(ec, vector<reason>)   one code per filter (granted QoS or failure);
//   unsubscribe  void(ec, vector<reason>)   ec only when the request itself failed (3.1.1
//                                           UNSUBACK has no codes: all success)
//   receive      void(ec, publish_packet)   the next message no on_message() handler took
//   ping         void(ec)                   the next PINGRESP
//   disconnect   void(ec)                   DISCONNECT written and the socket closed
//   persist      void(ec)                   every publish accepted before it is in the store
//                                           (see Persistence); ec: the store's error
//
// Behaviour:
// - async_connect() completes with the first CONNACK. If that connection
//   attempt fails, the client stops (no retry). Once a CONNACK has accepted
//   the client, a lost connection is re-established automatically
//   (client_options::reconnect): backoff with jitter, the same CONNECT, and
//   when the broker did not keep the session (Session Present 0) every
//   subscription the client holds is made again before anything else is
//   sent. on_connect() runs on every accepted CONNACK, on_disconnect() on
//   every loss of an accepted connection.
// - Publishes go out at once while the broker's Receive Maximum allows; the
//   rest, and every publish made while disconnected (once async_connect() was
//   called; before it, or after the client stopped, a publish completes with
//   client_error::not_connected), wait in the bounded offline queue
//   (client_options::offline_queue). QoS 1/2 messages in flight
//   when a connection drops are sent again right after the reconnect's
//   CONNACK (DUP when the session resumed), before the subscriptions are
//   restored and before the offline queue. QoS 0 messages not yet written when it drops are lost
//   (their publish completes with the connection's error).
// - Subscribe/unsubscribe requests made while disconnected wait and go out
//   after the reconnect; one whose SUBACK did not arrive is sent again.
// - A received message goes to every on_message() handler whose filter
//   matches its topic; a message no handler takes goes to async_receive()
//   (a bounded queue: client_options::receive_queue, oldest dropped).
// - async_receive() waits for as long as it takes: use the overload with a
//   timeout (completes with asio::error::timed_out), or cancel it through
//   its cancellation slot: asio::bind_cancellation_slot with your own
//   cancellation_signal, a race with a steady_timer through
//   asio::experimental::make_parallel_group, or in a coroutine
//   `co_await (c.async_receive(use_awaitable) || timer.async_wait(use_awaitable))`
//   (asio::experimental::awaitable_operators). A cancelled receive completes
//   with asio::error::operation_aborted and takes no message.
// - async_disconnect() sends DISCONNECT (5.0: with the reason code, e.g.
//   reason::disconnect_with_will_message), closes, and stops reconnecting;
//   every operation still pending completes with asio::error::operation_aborted
//   (with persistence, a stored publish with client_error::kept_in_store).
//   Call it, and wait for its completion, before destroying the client to
//   close cleanly; the destructor just closes the socket (no DISCONNECT: the
//   broker sends the will) and aborts pending operations the same way.
// - When the client stops for good (first connection failed, reconnect
//   disabled and the connection lost), pending operations complete with the
//   error that stopped it (kept_in_store for stored publishes).
//
// Persistence (client_options::persistence.dir set): the client keeps its
// side of the session in a RocksDB store in that directory, keyed by the
// client id, loaded by async_connect(). Connect with clean_start = false
// (and, 5.0, a session_expiry > 0) so that the broker keeps its side too;
// then a new process (or a new AsyncClient on the same directory) resumes
// where the last one stopped, even if it was killed (SIGKILL) at any point:
// - Outgoing. A QoS 1/2 publish is recorded when async_publish() accepts it
//   (the offline queue), recorded in flight with its packet id when sent,
//   as released when its PUBREC arrives, and erased at PUBACK/PUBCOMP. Each
//   record is durable before the packet it stands for leaves (PUBLISH,
//   PUBREL): the changes of one loop turn are committed together (one write,
//   one sync), then the turn's bytes are written to the socket. So the next
//   run resends, at its CONNACK: PUBLISH with DUP and the same packet id for
//   messages not acknowledged, PUBREL for those released, then the queue, in
//   order; a broker that kept the session passes a QoS 2 message on exactly
//   once (it knows the packet id), a QoS 1 message at least once.
//   A publish is durable at the end of the turn that accepted it;
//   async_persist() says when. Killed before that, it is lost, and its
//   completion never ran. Completion still means the QoS flow completed with
//   the broker. When the client stops with a stored publish pending
//   (async_disconnect, the destructor, a failed first connect), it completes
//   with client_error::kept_in_store and goes out with the next async_connect
//   (this client's or the next run's). Publishes loaded from the store
//   complete silently. QoS 0 messages are never stored.
// - Incoming. A QoS 1/2 message is stored, with a delivery number
//   (delivery::number: 1, 2, 3..., increasing across runs), and a QoS 2
//   message's packet id recorded, before its PUBACK/PUBREC leaves; it is
//   then handed to the application, and erased once the application took
//   it: its on_message()/on_delivery() handlers returned, or the completion
//   handler of the async_receive() that took it returned (erasing is one
//   unsynced write to the store's log, which survives a kill). A resent QoS
//   2 PUBLISH whose packet id is recorded is answered with PUBREC and not
//   handed over again. Messages stored and not yet taken are handed over by
//   the next run, in order, with delivery::redelivered.
//   So across a kill at any point no QoS 1/2 message is lost, and a QoS 2
//   message reaches the application once, but for one window: killed after
//   a handler acted on a message (or while it ran) and before the write that
//   records it, the next run hands it over again, redelivered. No client
//   can close that window by itself: acting and recording are writes to two
//   places. The application closes it by keeping the delivery number with
//   what it does with the message, atomically (one transaction, one
//   write(2)), and saying at start which number it reached
//   (persistence.processed): stored messages up to it are skipped. The
//   on_delivery() handlers get messages in number order, so that one number
//   is enough (an application that also takes messages through
//   async_receive() must record them in that order too). With this, a QoS 2
//   message reaches the application exactly once across kill -9 at any
//   point (tern_client_kill_test kills a subscriber whose handler works on
//   after acting: duplicates without the checkpoint, none with it).
// - What is not stored: QoS 0 messages; subscriptions (the broker keeps
//   them with the session; after a restart subscribe again, or rely on
//   Session Present); messages in the Client facade's receive() queue
//   count as taken once queued there.
// - Durability: persistence.durability = fsync (the default) syncs each
//   turn's commit (a power cut loses nothing the broker was told); batch
//   only writes (a kill of the process loses nothing; a power cut may).
// - Errors: a store that cannot be opened fails async_connect() with its
//   storage::errc (locked: another process has it). A commit that fails
//   closes the connection without sending what it covered (logged); the
//   client reconnects and commits again, as it does after any loss.
//
// Thread safety: the client lives on its executor. Start async operations and
// call the other members from code running on that executor (a handler, a
// coroutine co_spawned on it), or before the executor runs. Starting an
// async operation from another thread is also safe when the executor is a
// strand, or an io_context run by one thread (the operation is dispatched to
// it); with several threads running one io_context, give the client a strand
// (asio::make_strand(io)). Destroy it on the executor too, or once it stopped.
// Completion handlers and on_*() callbacks run through the executor (posted,
// never inside the call that started the operation), on each handler's
// associated executor.
//
// Asio: this header includes only Asio's type-erasure and async_result parts;
// sockets, resolver and timers live in async_client.cpp and transport.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/system/error_code.hpp>

#include "tern/client/error.hpp"
#include "tern/client/options.hpp"
#include "tern/client/uri.hpp"
#include "tern/codec/packet.hpp"

namespace tern {

// How a received message reached the application (on_delivery()).
struct delivery {
  // With persistence, for QoS 1/2 messages: the message's number in the
  // client's store, 1, 2, 3..., increasing across runs and handed over in
  // this order. 0 for QoS 0 messages and without persistence.
  std::uint64_t number = 0;
  // An earlier run of the client stored the message and may have handed it
  // to the application already (it was killed before recording that).
  bool redelivered = false;
};

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
  // flow does (see the table above). An invalid topic completes with
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

  // Calls `h` with every received message whose topic matches `filter`
  // (wildcards allowed; a "$share/group/" prefix is ignored for matching).
  // Replaces the handler of the same filter; an empty `h` removes it. This
  // does not subscribe: call async_subscribe() too.
  void on_message(std::string filter, message_handler h);
  // The same, with how the message came (its delivery number: see
  // Persistence). Replaces the on_message() handler of the same filter too.
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
