// tern/client/client_session.hpp (internal to the client): the client's side
// of MQTT across connections, with no I/O, clock or thread inside: the
// session::connection of the current network connection (client role) and
// what outlives it: the session state, the offline queue, the SUBSCRIBE and
// UNSUBSCRIBE requests and the subscriptions to restore, the reconnect
// backoff, and the persistent store (persistence.hpp) with its ordering.
// AsyncClient's link (link.hpp) drives it with bytes and the time; its glue
// (async_client.cpp) with commands; it answers through `events`.
//
//   struct driver : tern::client_detail::client_session::events { ... };
//   client_session s(options, log, driver);
//   if (auto e = s.connect("mqtt://127.0.0.1", {.client_id = "c1"}, now, unix_ms)) fail(e);
//   s.begin(now);                      // events: open_transport()
//   s.opened({}, now);                 // transport open: CONNECT encoded; start reading, then
//   s.turn(now);                       // it goes out (events: write())
//   s.received(bytes, now);            // CONNACK...: events: connect_done(), connected(), write()...
//   s.written({}, now);                // the write() finished
//   arm_timer(s.next_deadline());      // then s.on_timer(now) when it passes
//
// Order kept here, whatever drives it:
// - After a reconnect's CONNACK: the QoS 1/2 messages in flight first (the
//   connection resends them: PUBLISH with DUP when the session resumed,
//   PUBREL), then the subscriptions to restore (Session Present 0), then
//   SUBSCRIBE/UNSUBSCRIBE requests waiting, then the offline queue.
// - With a store: every record a packet stands for is committed before the
//   packet is handed to write() (one commit per turn), and a received QoS 1/2
//   message reaches message() only after the commit that stored it.
// - Deadlines (next_deadline()): while opening, the connect timeout; while
//   waiting to reconnect, the backoff's; while connected, the connection's
//   (keep alive, CONNACK timeout); while closing, the flush deadline.
//
// Events run inside the session's calls: a driver completes operations
// later (posted) and answers open_transport() and write() with later inputs
// (opened(), written()); the one call it may make from inside an event is
// delivered(), from message() (a message the receive queue's bound drops is
// done with at once). Thread safety: none.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/system/error_code.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include "tern/client/backoff.hpp"
#include "tern/client/delivery.hpp"
#include "tern/client/error.hpp"
#include "tern/client/offline_queue.hpp"
#include "tern/client/options.hpp"
#include "tern/client/persistence.hpp"
#include "tern/client/uri.hpp"
#include "tern/log/log.hpp"
#include "tern/session/connection.hpp"

namespace tern::client_detail {

using boost::system::error_code;
using session::time_point;

// asio::error::operation_aborted and timed_out, without Asio (the same codes:
// Asio's are POSIX errors in the system category).
error_code aborted_error() noexcept;
error_code timed_out_error() noexcept;
inline error_code ec_of(const std::error_code& e) { return error_code(e); }

// Counts PINGRESP packets in the bytes read, following MQTT's framing (the
// connection answers PINGRESP silently; async_ping needs to know).
class pingresp_counter {
 public:
  std::size_t feed(bytes_view in) noexcept;

 private:
  enum class stage : std::uint8_t { first, length, body, broken };
  stage stage_ = stage::first;
  std::uint8_t first_ = 0;
  std::uint32_t remaining_ = 0;
  unsigned shift_ = 0;
};

class client_session final : session::handler {
 public:
  // What the session asks of its driver and tells it. `tag`: a publish's
  // number (publish()); `id`: a request's (subscribe(), unsubscribe()).
  class events {
   public:
    virtual ~events() = default;
    // Open a transport to uri(); answer with opened(). An error: none can
    // be made (the attempt fails at once).
    virtual error_code open_transport() = 0;
    // Close the transport at once; its pending operations are abandoned.
    virtual void close_transport() = 0;
    // Write `out` (take its bytes: swap it with an empty buffer); answer
    // with written(). One write at a time.
    virtual void write(write_buffer& out) = 0;
    // async_connect's outcome: the first CONNACK, or why there is none.
    virtual void connect_done(error_code ec, const connack_packet& a) = 0;
    virtual void publish_done(std::uint64_t tag, error_code ec, reason rc) = 0;
    virtual void request_done(std::uint64_t id, error_code ec, std::vector<reason> codes) = 0;
    // The oldest ping() waiting is answered (or failed).
    virtual void ping_done(error_code ec) = 0;
    // A received message for the application (with a delivery number: the
    // application took it once delivered(number) is called).
    virtual void message(publish_packet m, delivery d) = 0;
    // A CONNACK accepted the client (each connection); an accepted connection ended.
    virtual void connected(const connack_packet& a) = 0;
    virtual void disconnected(error_code why) = 0;
    // The client stopped for good (stop(), a failed first attempt, reconnect
    // off...): every operation of the session was completed with `ec`
    // before this; the driver completes its own (receives, disconnect).
    virtual void stopped(error_code ec) = 0;
  };

  client_session(client_options o, log::logger log, events& ev);
  ~client_session() override;
  client_session(const client_session&) = delete;
  client_session& operator=(const client_session&) = delete;

  // ---- commands (the caller's) ----
  // Checks `uri` and `o`, opens the store (the first time: over
  // o.persistence.dir, `unix_ms` anchoring its records) and loads it. An
  // error: nothing started. Then begin() starts the first attempt.
  [[nodiscard]] error_code connect(std::string_view uri, connect_options o, time_point now, std::int64_t unix_ms);
  void begin(time_point now);
  // A publish accepted into the offline queue gets a tag (goes out at the
  // next turn()); else `ec` (and `rc`) say why not. Older entries the bound
  // dropped complete now (publish_done).
  struct publish_result {
    error_code ec;
    reason rc = reason::success;
    std::uint64_t tag = 0;
  };
  publish_result publish(publish_packet m, time_point now);
  // A request waiting (sent at the next turn()) gets an id; else `ec`.
  struct request_result {
    error_code ec;
    std::uint64_t id = 0;
  };
  request_result subscribe(std::vector<subscription> subs, properties props);
  request_result unsubscribe(std::vector<std::string> filters, properties props);
  // Sends PINGREQ (answered by ping_done()); not_connected when not live.
  error_code ping();
  // Ends the client: DISCONNECT `code` and close when connected (stopped()
  // once closed), else stop at once. Only when !idle() and !stopping().
  void disconnect(reason code, properties props, time_point now);
  // Stops for good: closes, completes every pending operation with `ec`.
  void stop(error_code ec, time_point now);
  // The application took message `number` (with a store).
  void delivered(std::uint64_t number);
  // Closes the store (the client object goes).
  void close_store() { store_.reset(); }
  // Uses `s` as the store from now on (tests: over a memory store).
  void attach_store(std::unique_ptr<persistent_session> s) { store_ = std::move(s); }

  // ---- inputs (the link's) ----
  // Sends what waits, commits the store, writes, notices the end of the connection.
  void turn(time_point now);
  // The transport opened: the CONNECT is encoded (a turn() writes it: start
  // reading first). Or it could not (`ec`): the attempt failed.
  void opened(error_code ec, time_point now);
  // Bytes read. True: read on.
  bool received(bytes_view in, time_point now);
  // The write() finished.
  void written(error_code ec, time_point now);
  // Reading failed (EOF, reset...).
  void transport_error(error_code ec, time_point now);
  // next_deadline() passed.
  void on_timer(time_point now);

  // ---- outputs and what is known ----
  std::optional<time_point> next_deadline() const;
  bool idle() const noexcept { return phase_ == phase::idle; }
  bool connected() const noexcept { return phase_ == phase::connected && live(); }
  bool stopping() const noexcept { return stopping_; }
  bool persistent() const noexcept { return store_ != nullptr; }
  // The last commit's error (none without a store).
  error_code store_error() const noexcept { return store_error_; }
  const broker_uri& uri() const noexcept { return uri_; }
  protocol_version version() const noexcept { return copts_.version; }
  const std::string& client_id() const noexcept { return copts_.client_id; }
  std::size_t queued() const noexcept { return pending_.size(); }
  std::size_t inflight() const noexcept { return inflight_.size(); }
  std::uint64_t connects() const noexcept { return connects_; }

 private:
  enum class phase : std::uint8_t { idle, opening, handshaking, connected, waiting };
  // A SUBSCRIBE or UNSUBSCRIBE, waiting or sent.
  struct request {
    std::uint64_t id = 0;
    std::variant<subscribe_packet, unsubscribe_packet> packet;
    bool own = false;  // the client's own (restoring subscriptions): nobody waits
  };
  struct registered {  // a subscription held, to restore
    subscription sub;
    properties props;
  };

  bool live() const { return conn_ && conn_->connected() && !conn_->closing(); }
  connect_packet make_connect(bool clean) const;
  void fail_publish(std::uint64_t tag, error_code ec) { ev_.publish_done(tag, ec, reason::unspecified_error); }

  // client_session.cpp: the connection's life.
  error_code load_store(const std::string& client_id, std::int64_t unix_ms);
  bool persist();
  void open_link();
  void close_transport();
  void lose(error_code ec);
  void flush();
  void attempt_failed(error_code ec);
  void connection_lost();
  void schedule_retry();
  // client_session_flows.cpp: what goes out, and what comes back.
  void requeue_inflight();
  void requeue_requests();
  void resubscribe();
  void send_waiting_requests();
  std::optional<request> answered(std::uint16_t packet_id);
  void unstore(const offline_queue::entry& e);
  void pump_publishes();
  void route(publish_packet m, delivery d);

  // session::handler
  void on_connack(const connack_packet& a) override;
  void on_publish(publish_packet&& m) override;
  void on_delivered(const publish_packet& m, reason code) override;
  void on_dropped(const publish_packet& m, reason why) override;
  void on_suback(suback_packet&& a) override;
  void on_unsuback(unsuback_packet&& a) override;
  void on_disconnect(const disconnect_packet& d) override;
  void on_closed(const error& why) override;

  client_options opts_;
  log::logger log_;
  events& ev_;
  reconnect_backoff backoff_;
  session::state st_;
  std::optional<session::connection> conn_;
  time_point now_{};  // the latest input's

  phase phase_ = phase::idle;
  std::optional<time_point> open_deadline_;
  std::optional<time_point> close_deadline_;
  std::optional<time_point> retry_at_;
  bool stopping_ = false;          // disconnect() in progress
  bool ever_connected_ = false;    // a CONNACK accepted us since connect()
  bool need_resubscribe_ = false;
  bool resubscribe_unacked_ = false;
  bool writing_ = false;           // a write() is in flight
  bool transport_ = false;         // open_transport() made one, not closed since
  std::optional<error_code> closed_ec_;  // why the current connection ends
  pingresp_counter pings_seen_;
  std::size_t pings_waiting_ = 0;
  std::uint64_t connects_ = 0;

  broker_uri uri_;
  connect_options copts_;

  std::uint64_t next_tag_ = 1;  // without a store (with one, tags are the store's seqs)
  offline_queue pending_;
  boost::unordered_flat_map<std::uint16_t, std::uint64_t> inflight_;  // packet id -> publish tag
  std::vector<std::uint64_t> qos0_unwritten_;  // QoS 0 publishes in the connection's output
  std::vector<std::uint64_t> qos0_writing_;    // QoS 0 publishes in the write in flight
  bool submitting_ = false;
  bool submit_dropped_ = false;

  std::deque<request> requests_waiting_;
  std::map<std::uint16_t, request> requests_sent_;
  std::uint64_t request_id_ = 0;
  std::vector<registered> subscriptions_;

  // Persistence (client_options::persistence): open from the first connect() on.
  std::unique_ptr<persistent_session> store_;
  error_code store_error_;  // the last commit's
  std::deque<inbox_entry> awaiting_commit_;  // received, stored, not yet committed
  std::set<std::uint64_t> outstanding_;  // delivery numbers handed over, not yet taken
};

}  // namespace tern::client_detail
