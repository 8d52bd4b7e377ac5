// tern/engine/endpoint.hpp: one network connection as the engine sees it:
// the MQTT protocol machine (session::connection, server role) and the
// hand-off of what it reports to its worker. The network layer's connection
// derives from it (wake, peer_address) and owns it.
//
//   class my_link final : public tern::engine::endpoint {
//     void wake() override;                        // write output() soon
//     std::string peer_address() const override;   // "127.0.0.1:50000"
//   };
//   link.receive(bytes, now);   // then output(), next_timeout(), closing(), connect_pending()
//
// It owns its protocol machine and, before admission, its pending CONNECT;
// after, it points at its session (owned by the worker's session_table).
// Thread safety: one thread at a time (its worker's).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tern/session/connection.hpp"

namespace tern::engine {

using session::time_point;
class worker;
struct client_session;

// One network connection as the engine sees it: the protocol state machine
// plus the engine's handling of what it reports. The network layer's
// connection derives from it (the I/O side: wake, peer_address) and owns
// it: one object, one vtable, per connection.
class endpoint : private session::handler {
 public:
  endpoint(worker& w, time_point now);
  ~endpoint() override;
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  // ---- inputs (on the endpoint's current thread) ----
  void receive(bytes_view in, time_point now);
  void on_timeout(time_point now);
  void transport_closed(const error& why, time_point now);

  // ---- outputs ----
  write_buffer& output() { return conn_.output(); }
  std::optional<time_point> next_timeout() const { return conn_.next_timeout(); }
  bool closing() const { return conn_.closing(); }
  // Its CONNECT arrived and waits for worker::admit on the owning thread.
  bool connect_pending() const { return pending() != nullptr; }
  // The peer's address, for hooks and logs ("" once being destroyed).
  std::string peer() const { return destroying_ ? std::string() : peer_address(); }
  const session::connection& connection() const { return conn_; }

  // ---- the engine's side: its worker's, on the endpoint's thread ----
  // The protocol machine, for the worker to accept, refuse, publish to...
  session::connection& protocol() { return conn_; }
  // The worker it belongs to (the one that admitted it, or the accepting one).
  worker& current_worker() const { return *worker_; }
  void move_to(worker& w) { worker_ = &w; }
  // Its CONNECT, until admitted.
  connect_packet* pending() const { return admitted_ ? nullptr : pending_; }
  // From admit on: its session, until the connection ends (nullptr when
  // refused, closed or taken over).
  client_session* client() const { return admitted_ ? client_ : nullptr; }
  void set_client(client_session* s) {
    admitted_ = true;
    client_ = s;
  }
  // Its client sent DISCONNECT (not 0x04, disconnect with will message).
  bool disconnected_normally() const { return normal_disconnect_; }
  void set_disconnected_normally(bool b) { normal_disconnect_ = b; }
  // Why the connection closed (the reason of the DISCONNECT or CONNACK it
  // ended with, or of the error): what a WebSocket close frame tells.
  // unspecified_error for a transport error; success until closed.
  reason closed_with() const { return closed_with_; }
  // Acknowledged a QoS 1/2 message this loop turn (in the worker's list).
  bool unsynced() const { return unsynced_; }
  void set_unsynced(bool b) { unsynced_ = b; }

  // ---- the I/O side, implemented by the network layer ----
  // The endpoint has output to write, a new deadline or is closing: act on
  // it soon, on the endpoint's thread (coalescing many wakes into one write).
  virtual void wake() = 0;

 protected:
  // The peer's address ("127.0.0.1:50000", "[::1]:50000"). Asked when
  // needed rather than kept: an idle connection holds no copy of it. Hooks
  // may ask during any input, transport_closed() included: answer until then.
  virtual std::string peer_address() const = 0;

 private:
  void on_connect(connect_packet&& c) override;
  void on_publish(publish_packet&& m) override;
  void on_delivered(const publish_packet& m, reason code) override;
  void on_dropped(const publish_packet& m, reason why) override;
  void on_subscribe(subscribe_packet&& s) override;
  void on_unsubscribe(unsubscribe_packet&& u) override;
  void on_disconnect(const disconnect_packet& d) override;
  void on_closed(const error& why) override;

  worker* worker_;
  session::connection conn_;
  // Before admit: the CONNECT waiting for it (owned, allocated while it
  // waits: idle endpoints stay small). From admit on: its session, until the
  // connection ends (nullptr when refused, closed or taken over). Never both
  // at once: one pointer, told apart by admitted_.
  union {
    connect_packet* pending_ = nullptr;
    client_session* client_;
  };
  reason closed_with_ = reason::success;
  // Bit-fields: the link's first member fits in the tail padding after them.
  bool admitted_ : 1 = false;
  bool normal_disconnect_ : 1 = false;
  bool unsynced_ : 1 = false;    // acknowledged a QoS 1/2 message this loop turn
  bool destroying_ : 1 = false;  // in ~endpoint: the derived part is gone (no virtual calls)
  // (The time of the current input is the worker's now_: every handler call
  // happens inside an input on the worker's thread.)
};

}  // namespace tern::engine
