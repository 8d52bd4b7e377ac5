// tern/client/client.hpp: tern::Client, the threaded MQTT client in the style
// paho users know: callbacks (on_connect, on_message, on_publish, ...), a
// network loop you run in a thread of your own (loop_forever) or in one the
// client starts (loop_start), and calls that work from any thread. It is a
// facade over tern::AsyncClient: same reconnection, offline queue, MQTT 3.1,
// 3.1.1 and 5.0, same options.
//
//   tern::Client c;
//   c.on_connect([&](auto ec, const tern::connack_packet&) {
//     if (!ec) c.subscribe("sensors/#", tern::qos::at_least_once);   // again after each reconnect
//   });
//   c.on_message([](const tern::publish_packet& m) { show(m.topic(), m.payload().view()); });
//   if (auto ec = c.connect("mqtt://127.0.0.1:1883", {.client_id = "app-1"})) return fail(ec);
//   c.loop_start();                                                  // one io thread
//   auto t = c.publish("sensors/t1", "21.5", tern::qos::at_least_once);
//   t.wait_for_publish(5s);                                          // PUBACK (or an error)
//   c.disconnect().wait();
//   c.loop_stop();
//
// Without a callback, messages wait for receive():
//   c.subscribe("jobs/#", tern::qos::at_least_once).wait();
//   while (auto m = c.receive(10s)) handle(*m);                      // nullopt: 10 s of silence
//
// Timers run on the loop too: `c.new_event(1s, [&] { c.publish("beat", "1"); return true; });`
// repeats until the handler returns false or remove_event() is called.
//
// The network loop. Everything the client does (socket I/O, timers,
// callbacks) runs on an internal io_context, driven by whichever of these
// is running: the thread of loop_start(); the caller of loop_forever() or
// loop(); and, when none of those runs, a thread blocked in connect(),
// reconnect(), receive() or token::wait(), which drives the loop itself
// while it waits. So a program may use no loop at all (connect, subscribe,
// wait, receive, in one thread), or start one whenever it likes.
//
// Thread safety:
// - Every member function may be called from any thread, concurrently, and
//   from inside callbacks, except the destructor (see below). publish(),
//   subscribe(), unsubscribe(), disconnect(), connect_async(), new_event()
//   and remove_event() never block: they hand the request to the loop and
//   return a token at once.
// - Callbacks run on the thread driving the loop, one at a time, in the
//   order of the events, and never while the client holds a lock of its own:
//   a callback may call publish(), subscribe(), new_event(), disconnect()...
//   (reentrancy is part of the tests). A callback must not block on the
//   loop that runs it: inside a callback, the blocking calls return at once
//   (token::wait() with the token's state as it is now, receive() with what
//   is queued, connect() and reconnect() with
//   errc::resource_deadlock_would_occur: use connect_async() there).
// - A callback that throws is logged (on_log, error level) and ignored.
// - Setting a callback from any thread is safe; it takes effect for the
//   events handled after the call.
// - The destructor must not run on the loop (from a callback), nor while
//   another thread uses the client. It stops the loop thread, closes the
//   connection at once (no DISCONNECT: the broker sends the will; call
//   disconnect().wait() first to close cleanly) and completes every pending
//   token with asio::error::operation_aborted, without calling callbacks.
//
// Persistence (client_options::persistence.dir): as for AsyncClient (see
// docs/client.md, "Persistence"): in-flight and queued QoS 1/2 messages survive a
// restart of the process. A received QoS 1/2 message counts as taken once
// the on_message() callback returned, or once it is in receive()'s queue.
//
// Message ids: publish(), subscribe() and unsubscribe() number their
// requests 1, 2, 3... (per client, wrapping at INT_MAX). This `mid` is what
// on_publish/on_subscribe/on_unsubscribe and token::mid() report; it is not
// the MQTT packet identifier, which the session picks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/error_code.hpp>

#include "tern/client/error.hpp"
#include "tern/client/options.hpp"
#include "tern/codec/packet.hpp"
#include "tern/log/log.hpp"

namespace tern {

namespace client_detail {
struct core;
struct token_state;
}  // namespace client_detail

// The outcome of one request (connect, publish, subscribe, unsubscribe,
// disconnect), for waiting on it from another thread. Copies share the same
// state. Every member may be called from any thread.
class token {
 public:
  using error_code = boost::system::error_code;

  // An empty token (not a request): complete, with no error.
  token() = default;

  // The request's message id (0 for connect and disconnect).
  int mid() const noexcept;
  bool is_complete() const;
  // Blocks until the request completes or `timeout` passes; true when it
  // completed. Drives the loop when none runs; inside a callback it does not
  // block (returns is_complete()).
  bool wait(std::chrono::milliseconds timeout) const;
  // Blocks until the request completes (not inside a callback: see above).
  void wait() const;
  // paho's names: wait(timeout), and "completed without error".
  bool wait_for_publish(std::chrono::milliseconds timeout) const { return wait(timeout); }
  bool is_published() const { return is_complete() && !error(); }

  // Once complete: why it failed (empty on success). As AsyncClient reports
  // it: a reason code >= 0x80 (reason category, or connect_return_code for a
  // refused 3.x CONNECT), a client_error, a transport error,
  // asio::error::operation_aborted when the client stopped or went away.
  error_code error() const;
  // Once complete: publish: the broker's one code (PUBACK/PUBREC reason,
  // e.g. no_matching_subscribers; success for QoS 0); subscribe: one granted
  // QoS or failure code per filter; unsubscribe: one code per filter.
  std::vector<reason> reason_codes() const;
  // Once complete, for connect_async(): the CONNACK (absent when none came).
  std::optional<connack_packet> connack() const;

 private:
  friend struct client_detail::core;
  explicit token(std::shared_ptr<client_detail::token_state> s) noexcept : st_(std::move(s)) {}
  std::shared_ptr<client_detail::token_state> st_;
};

class Client {
 public:
  using error_code = boost::system::error_code;
  using clock = std::chrono::steady_clock;

  // On every accepted CONNACK (the first and each automatic reconnect:
  // subscribe here to keep subscriptions across sessions the broker did not
  // keep) with ec empty; and once when a connect()/connect_async()/
  // reconnect() fails, with why (the CONNACK's code, or the transport's error).
  using connect_callback = std::function<void(error_code ec, const connack_packet& connack)>;
  // A received message (that no message_callback_add() filter took).
  using message_callback = std::function<void(const publish_packet& message)>;
  // A publish completed: QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP, or failed.
  using publish_callback = std::function<void(int mid, error_code ec, reason code)>;
  // A SUBACK or UNSUBACK arrived (codes: one per filter), or the request failed.
  using subscribe_callback = std::function<void(int mid, error_code ec, const std::vector<reason>& codes)>;
  // An accepted connection ended: ec empty after disconnect(), else why (the
  // broker's DISCONNECT reason, the transport's error, a keep alive timeout).
  // The client reconnects by itself unless client_options::reconnect says no.
  using disconnect_callback = std::function<void(error_code ec)>;
  // The client's log records (channel "client", or client_options::log's).
  using log_callback = std::function<void(log::level level, std::string_view message)>;
  // A timer's handler: return true to run again after the interval, false to stop.
  using event_handler = std::function<bool()>;
  using event_id = std::uint64_t;

  // `options` as for AsyncClient. Logging: records go to options.log's sink
  // if it has one, and to on_log(); the level is options.log's minimum level,
  // or info when that is `off` (a default logger):
  //   opts.log = tern::log::logger{nullptr, "client", tern::log::level::debug};  // on_log gets debug too
  explicit Client(client_options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---- callbacks (any thread; an empty function removes one) ----
  void on_connect(connect_callback cb);
  void on_message(message_callback cb);
  void on_publish(publish_callback cb);
  void on_subscribe(subscribe_callback cb);
  void on_unsubscribe(subscribe_callback cb);
  void on_disconnect(disconnect_callback cb);
  void on_log(log_callback cb);
  // Messages whose topic matches `filter` (wildcards; "$share/g/" ignored)
  // go to `cb` instead of on_message() and receive(). Several filters may
  // match one message: each such callback runs. Does not subscribe.
  void message_callback_add(std::string filter, message_callback cb);
  void message_callback_remove(std::string filter);

  // ---- the connection ----
  // Connects to `uri` (mqtt://host[:port]; see AsyncClient::async_connect)
  // and blocks until the CONNACK, running on_connect() first. Empty on
  // success; else the CONNACK's code (ec == tern::reason::not_authorized,
  // tern::connect_return_code::...), the transport's error, or
  // client_error::already_connected.
  [[nodiscard]] error_code connect(std::string uri, connect_options options = {});
  // The same without blocking: the token completes (connack()) after on_connect().
  token connect_async(std::string uri, connect_options options = {});
  // Closes the current connection (DISCONNECT, normal) if there is one and
  // connects again with the last connect()'s URI and options; blocks like
  // connect(). client_error::not_connected when connect() was never called.
  [[nodiscard]] error_code reconnect();
  // Sends DISCONNECT (5.0: `code`, `props`), closes, stops reconnecting;
  // loop_forever() returns. Requests still pending complete with
  // asio::error::operation_aborted.
  token disconnect(reason code = reason::normal_disconnection, properties props = {});
  // True while a connection is accepted and open.
  bool connected() const noexcept;
  // The client id of the last accepted connection (the server's assigned
  // one if it chose it); empty before.
  std::string client_id() const;

  // ---- messages (any thread, never blocking) ----
  // Publishes (queued while disconnected: see AsyncClient). on_publish(mid)
  // and the token complete when the QoS flow does.
  token publish(std::string_view topic, std::string_view payload, qos q = qos::at_most_once, bool retain = false,
                properties props = {});
  token publish(publish_packet message);
  token subscribe(std::string filter, qos max_qos = qos::at_most_once);
  token subscribe(std::vector<subscription> subscriptions, properties props = {});
  token unsubscribe(std::string filter);
  token unsubscribe(std::vector<std::string> filters, properties props = {});
  // A PINGREQ now; the token completes with its PINGRESP (not_connected
  // when no connection is up). Keep-alive pings go on by themselves.
  token ping();
  // The next received message when no on_message() callback is set (they
  // wait in a queue of client_options::receive_queue; when it is full the
  // client reads nothing more from the broker until receive() takes one);
  // nullopt when none arrives within `timeout` (0: only what is queued now).
  // With an on_message() callback, messages go there instead.
  std::optional<publish_packet> receive(std::chrono::milliseconds timeout);

  // ---- the loop ----
  // Starts one thread that runs the loop until loop_stop(). False when one runs already.
  bool loop_start();
  // Stops the loop thread (and a loop_forever() in another thread) and joins
  // it. From a callback it only asks: the thread ends when the callback returns.
  void loop_stop();
  // Runs the loop in the calling thread until disconnect() completes, the
  // client stops for good (connect failed; connection lost with reconnect
  // disabled) or loop_stop() is called. Returns why it ended: empty after
  // disconnect() or loop_stop(); client_error::not_connected at once when
  // no connect was requested; errc::resource_deadlock_would_occur from a callback.
  error_code loop_forever();
  // Runs the loop in the calling thread for `timeout` (no-op in a callback),
  // for programs that interleave other work with the network. Every
  // timeout of this class may be anything from milliseconds::min() (do not
  // wait) to max() (for ever).
  void loop(std::chrono::milliseconds timeout);

  // ---- timers (any thread) ----
  // Calls `handler` on the loop every `interval` (1 ms to a century; fixed rate,
  // no drift) until it returns false or remove_event(). Timers run whether
  // or not the client is connected, while a loop runs.
  event_id new_event(std::chrono::milliseconds interval, event_handler handler);
  // Cancels a timer: once this returns its handler is not started again
  // (one running right now on the loop thread finishes). False when `id`
  // is unknown or already stopped.
  bool remove_event(event_id id);

 private:
  std::shared_ptr<client_detail::core> core_;
};

}  // namespace tern
