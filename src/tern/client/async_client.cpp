// tern::AsyncClient: drives one session::connection (client role) over a
// transport (transport.hpp), and keeps what outlives a connection: the
// session state, the offline queue, the pending operations, the
// subscriptions to restore.
//
// How it runs, all on the client's executor:
// - One `link` per network connection: its transport, its read buffer, and
//   the write_buffer being written (swapped out of the connection's output,
//   so the connection keeps appending while a write is in flight; one
//   gathered async_write at a time). Handlers hold the link, and ignore
//   themselves once it is no longer the current one.
// - Every input (bytes read, a write done, the timer, a command) ends in
//   after_input(): send what waits (subscriptions to restore, queued
//   SUBSCRIBE/UNSUBSCRIBE, publishes while the Receive Maximum allows), start
//   a write, notice the end of the connection, re-arm the one timer (the
//   connection's next_timeout(); while opening, the connect deadline; while
//   closing, the flush deadline). The clock is read here only (now()).
// - The session::handler callbacks run inside connection calls: they only
//   record and complete (completions are always posted), never call user
//   code inline and never destroy the connection.
// - Publish operations are identified by a tag; the offline queue holds the
//   tag with the message, and once the message is handed to the session (only
//   when it can go out at once, so its packet id is known right away) the
//   packet id maps back to the tag for PUBACK/PUBCOMP.
// - Persistence (client_detail::persistent_session): the state journals its
//   in-flight changes, the client records its offline queue and received
//   messages, all into one batch; after_input() commits it before writing
//   the turn's bytes (so no packet leaves before its record is durable) and
//   only then hands received messages to the application. A publish made
//   outside an input posts one after_input() for all the publishes of the
//   turn (one commit for all). A publish's tag is its seq in the store.
#include "tern/client/async_client.hpp"

#include <algorithm>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <variant>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tern/client/backoff.hpp"
#include "tern/client/offline_queue.hpp"
#include "tern/client/persistence.hpp"
#include "tern/client/transport.hpp"
#include "tern/session/connection.hpp"
#include "tern/topic/topic.hpp"

namespace tern {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

namespace {

constexpr std::size_t read_buffer_size = 16 * 1024;
constexpr std::size_t max_resubscribe_entries = 64;  // per SUBSCRIBE when restoring subscriptions

// Counts PINGRESP packets in the bytes read, following MQTT's framing (the
// session answers PINGRESP silently; async_ping needs to know).
class pingresp_counter {
 public:
  std::size_t feed(bytes_view in) noexcept {
    std::size_t found = 0;
    std::size_t i = 0;
    while (i < in.size()) {
      switch (stage_) {
        case stage::first:
          first_ = static_cast<std::uint8_t>(in[i++]);
          remaining_ = 0;
          shift_ = 0;
          stage_ = stage::length;
          break;
        case stage::length: {
          const auto b = static_cast<std::uint8_t>(in[i++]);
          remaining_ |= static_cast<std::uint32_t>(b & 0x7Fu) << shift_;
          shift_ += 7;
          if ((b & 0x80u) == 0) {
            if (remaining_ == 0) {
              if (first_ == 0xD0) ++found;
              stage_ = stage::first;
            } else {
              stage_ = stage::body;
            }
          } else if (shift_ > 21) {
            stage_ = stage::broken;  // malformed: the session closes the connection
          }
          break;
        }
        case stage::body: {
          const auto n = std::min<std::size_t>(remaining_, in.size() - i);
          i += n;
          remaining_ -= static_cast<std::uint32_t>(n);
          if (remaining_ == 0) stage_ = stage::first;
          break;
        }
        case stage::broken: return found;
      }
    }
    return found;
  }

 private:
  enum class stage : std::uint8_t { first, length, body, broken };
  stage stage_ = stage::first;
  std::uint8_t first_ = 0;
  std::uint32_t remaining_ = 0;
  unsigned shift_ = 0;
};

// The filter to match topics against: a shared subscription's inner filter.
std::string match_filter_of(std::string_view filter) {
  auto s = topic::parse_shared(filter);
  if (s && *s) return std::string((*s)->filter);
  return std::string(filter);
}

error_code ec_of(const std::error_code& e) { return error_code(e); }

// Boost 1.81's any_completion_handler move assignment recurses without end
// (it wraps its argument as an lvalue; fixed in 1.82): never move-assign one
// (nor containers that would: sort, erase from the middle). This assigns by swap.
template <class Sig>
void assign(asio::any_completion_handler<Sig>& to, asio::any_completion_handler<Sig>&& from) noexcept {
  asio::any_completion_handler<Sig> tmp(std::move(from));
  to.swap(tmp);
}

}  // namespace

// ============================================================================ impl

struct AsyncClient::impl final : session::handler, std::enable_shared_from_this<impl> {
  // One network connection: transport, read buffer, the write in flight.
  struct link {
    std::shared_ptr<client_detail::transport> tr;
    std::vector<std::byte> rbuf;
    write_buffer wbuf;
    std::vector<asio::const_buffer> wviews;
    std::vector<std::uint64_t> qos0_writing;  // QoS 0 publishes whose bytes are in wbuf
    bool writing = false;
  };
  // A SUBSCRIBE or UNSUBSCRIBE, waiting or sent.
  struct ctl_op {
    std::uint64_t seq = 0;
    std::variant<subscribe_packet, unsubscribe_packet> request;
    asio::any_completion_handler<subscribe_signature> h;  // empty: the client's own (restoring)
  };
  struct receive_op {
    std::uint64_t id = 0;
    asio::any_completion_handler<receive_signature> h;
    std::unique_ptr<asio::steady_timer> timer;
  };
  struct registered {  // a subscription held, to restore
    subscription sub;
    properties props;
  };
  struct filter_handler {
    std::string filter;
    std::string match;
    std::shared_ptr<const message_handler> h;    // one of these two
    std::shared_ptr<const delivery_handler> hd;
  };
  struct received_message {  // waiting for async_receive()
    publish_packet m;
    delivery d;
  };
  enum class phase : std::uint8_t { idle, opening, handshaking, connected, waiting };

  impl(executor_type ex, client_options o)
      : ex_(std::move(ex)),
        opts_(std::move(o)),
        log_(opts_.log),
        backoff_(opts_.reconnect),
        timer_(ex_),
        retry_timer_(ex_),
        pending_(opts_.offline_queue) {
    opts_.session.auto_acknowledge = true;
  }

  // ---------------------------------------------------------------- helpers

  static time_point now() { return clock::now(); }

  // Completes `h` with `args`: posted to the client's executor, then run on
  // the handler's associated executor (never inside the initiating call).
  template <class Sig, class... Args>
  void complete(asio::any_completion_handler<Sig>& h, Args&&... args) {
    if (!h) return;
    asio::get_associated_cancellation_slot(h).clear();
    auto ex = asio::get_associated_executor(h, ex_);
    asio::post(ex_, asio::bind_executor(std::move(ex), [h = std::move(h), ... a = std::forward<Args>(args)]() mutable {
                 std::move(h)(std::move(a)...);
               }));
    h = nullptr;
  }

  void complete_publish(std::uint64_t tag, error_code ec, reason rc) {
    auto it = publish_ops_.find(tag);
    if (it == publish_ops_.end()) return;
    complete(it->second, ec, rc);
    publish_ops_.erase(it);
  }
  void fail_publish(std::uint64_t tag, error_code ec) { complete_publish(tag, ec, reason::unspecified_error); }

  // Runs `f` on the executor later, unless the client is gone by then.
  template <class F>
  void notify(F f) {
    asio::post(ex_, [w = weak_from_this(), f = std::move(f)]() mutable {
      if (auto s = w.lock(); s && !s->shut_down_) f();
    });
  }

  bool live() const { return conn_ && conn_->connected() && !conn_->closing(); }

  connect_packet make_connect(bool clean) const {
    connect_packet c;
    c.version = copts_.version;
    c.client_id = copts_.client_id;
    c.clean_start = clean;
    c.keep_alive = copts_.keep_alive;
    c.will = copts_.will;
    c.username = copts_.username;
    c.password = copts_.password;
    if (copts_.version == protocol_version::v5) {
      properties::builder b;
      b.append(copts_.props);
      if (copts_.session_expiry && !copts_.props.find(property_id::session_expiry_interval))
        b.add<property_id::session_expiry_interval>(*copts_.session_expiry);
      if (!b.empty()) c.props = b.build();
    }
    return c;
  }

  // ---------------------------------------------------------------- commands

  void connect(std::string uri, connect_options o, asio::any_completion_handler<connect_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted), connack_packet{});
    if (phase_ != phase::idle) return complete(h, ec_of(client_error::already_connected), connack_packet{});
    auto u = parse_broker_uri(uri);
    if (!u) {
      log_.warn("cannot connect to '{}': {}", uri, u.error().message());
      return complete(h, ec_of(u.error().code), connack_packet{});
    }
    if (!opts_.persistence.dir.empty()) {
      if (o.client_id.empty()) {
        log_.warn("cannot connect to '{}': a client store needs a client id", uri);
        return complete(h, ec_of(client_error::no_client_id), connack_packet{});
      }
      if (auto e = load_store(o.client_id)) return complete(h, *e, connack_packet{});
    }
    uri_ = std::move(*u);
    copts_ = std::move(o);
    assign(connect_op_, std::move(h));
    ever_connected_ = false;
    need_resubscribe_ = false;
    resubscribe_unacked_ = false;
    subscriptions_.clear();
    backoff_.reset();
    log_.info("connecting to {} as '{}' (MQTT {})", uri_.to_string(), copts_.client_id, name(copts_.version));
    open_link();
  }

  void publish(publish_packet m, asio::any_completion_handler<publish_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted), reason::unspecified_error);
    if (auto e = topic::validate_name(m.topic()))
      return complete(h, ec_of(make_error_code(reason::topic_name_invalid)), reason::topic_name_invalid);
    if (phase_ == phase::idle) return complete(h, ec_of(client_error::not_connected), reason::unspecified_error);
    m.packet_id = 0;
    m.dup = false;
    const auto tag = store_ ? store_->next_seq() : next_tag_++;
    const bool stored = store_ && m.qos != qos::at_most_once;
    const auto t = now();
    auto r = pending_.push({m, t, tag});
    for (auto dropped : r.dropped) {
      if (store_) store_->unqueued(dropped);  // no record for a QoS 0 one: erasing nothing
      fail_publish(dropped, ec_of(client_error::dropped));
    }
    if (!r.accepted) return complete(h, ec_of(client_error::queue_full), reason::unspecified_error);
    if (stored) store_->queue(tag, m, t);
    publish_ops_.emplace(tag, std::move(h));
    if (store_) return post_turn();
    after_input();
  }

  // After publishes made outside an input: one after_input() later, for all
  // of them (one commit).
  void post_turn() {
    if (turn_posted_) return;
    turn_posted_ = true;
    notify([this] {
      turn_posted_ = false;
      after_input();
    });
  }

  void persist_now(asio::any_completion_handler<persist_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted));
    if (opts_.persistence.dir.empty()) return complete(h, error_code{});
    if (!store_) return complete(h, ec_of(client_error::not_connected));
    after_input();
    complete(h, store_error_);
  }

  void subscribe(std::vector<subscription> subs, properties props,
                 asio::any_completion_handler<subscribe_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted), std::vector<reason>{});
    if (subs.empty())
      return complete(h, ec_of(make_error_code(reason::protocol_error)), std::vector<reason>{});
    for (const auto& s : subs)
      if (auto e = topic::validate_filter(s.filter))
        return complete(h, ec_of(make_error_code(reason::topic_filter_invalid)), std::vector<reason>{});
    if (phase_ == phase::idle) return complete(h, ec_of(client_error::not_connected), std::vector<reason>{});
    ctl_waiting_.push_back({++ctl_seq_, subscribe_packet{0, std::move(subs), std::move(props)}, std::move(h)});
    after_input();
  }

  void unsubscribe(std::vector<std::string> filters, properties props,
                   asio::any_completion_handler<subscribe_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted), std::vector<reason>{});
    if (filters.empty())
      return complete(h, ec_of(make_error_code(reason::protocol_error)), std::vector<reason>{});
    for (const auto& f : filters)
      if (auto e = topic::validate_filter(f))
        return complete(h, ec_of(make_error_code(reason::topic_filter_invalid)), std::vector<reason>{});
    if (phase_ == phase::idle) return complete(h, ec_of(client_error::not_connected), std::vector<reason>{});
    ctl_waiting_.push_back({++ctl_seq_, unsubscribe_packet{0, std::move(filters), std::move(props)}, std::move(h)});
    after_input();
  }

  void receive(clock::duration timeout, asio::any_completion_handler<receive_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted), publish_packet{});
    if (!received_.empty()) {
      auto r = std::move(received_.front());
      received_.pop_front();
      return complete_receive(h, std::move(r.m), r.d.number);
    }
    if (phase_ == phase::idle) return complete(h, ec_of(client_error::not_connected), publish_packet{});
    receive_op op{next_receive_id_++, std::move(h), nullptr};
    const auto id = op.id;
    if (timeout > clock::duration::zero()) {
      op.timer = std::make_unique<asio::steady_timer>(ex_);
      op.timer->expires_after(timeout);
      op.timer->async_wait([w = weak_from_this(), id](error_code ec) {
        if (ec) return;
        if (auto s = w.lock()) s->finish_receive(id, asio::error::timed_out);
      });
    }
    auto slot = asio::get_associated_cancellation_slot(op.h);
    if (slot.is_connected()) {
      slot.assign([w = weak_from_this(), id, ex = ex_](asio::cancellation_type) {
        asio::dispatch(ex, [w, id] {
          if (auto s = w.lock()) s->finish_receive(id, asio::error::operation_aborted);
        });
      });
    }
    receive_ops_.push_back(std::move(op));
  }

  void finish_receive(std::uint64_t id, error_code ec) {
    auto it = std::find_if(receive_ops_.begin(), receive_ops_.end(), [&](const receive_op& o) { return o.id == id; });
    if (it == receive_ops_.end()) return;
    if (it->timer) it->timer->cancel();
    complete(it->h, ec, publish_packet{});
    receive_ops_.erase(it);
  }

  void ping(asio::any_completion_handler<ping_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted));
    if (!live()) return complete(h, ec_of(client_error::not_connected));
    conn_->send(packet{pingreq_packet{}});
    ping_ops_.push_back(std::move(h));
    after_input();
  }

  void disconnect(reason code, properties props, asio::any_completion_handler<disconnect_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted));
    if (disconnect_op_ || stopping_) return complete(h, error_code(asio::error::in_progress));
    switch (phase_) {
      case phase::idle: return complete(h, ec_of(client_error::not_connected));
      case phase::opening:
      case phase::waiting:
        assign(disconnect_op_, std::move(h));
        log_.info("disconnect: stopped reconnecting to {}", uri_.to_string());
        return stop(asio::error::operation_aborted);
      case phase::handshaking:
      case phase::connected:
        stopping_ = true;
        assign(disconnect_op_, std::move(h));
        log_.info("disconnecting from {} (reason 0x{:02X})", uri_.to_string(), static_cast<unsigned>(code));
        conn_->disconnect(code, std::move(props));
        return after_input();
    }
  }

  void on_message(std::string filter, std::shared_ptr<const message_handler> h,
                  std::shared_ptr<const delivery_handler> hd) {
    auto it = std::find_if(handlers_.begin(), handlers_.end(), [&](const filter_handler& f) { return f.filter == filter; });
    if (!h && !hd) {
      if (it != handlers_.end()) handlers_.erase(it);
      return;
    }
    if (it != handlers_.end()) {
      it->h = std::move(h);
      it->hd = std::move(hd);
      return;
    }
    auto match = match_filter_of(filter);
    handlers_.push_back({std::move(filter), std::move(match), std::move(h), std::move(hd)});
  }

  // The client object is being destroyed: close at once, abort everything.
  void shutdown() {
    handlers_.clear();
    on_connect_ = nullptr;
    on_disconnect_ = nullptr;
    stop(asio::error::operation_aborted);
    shut_down_ = true;
    // Closed now, not when the last handler holding the impl goes: a new
    // client may open the directory at once. Messages not yet taken by the
    // application stay stored for the next run.
    store_.reset();
  }

  // ---------------------------------------------------------------- persistence

  // Opens the store (the first time) and loads what it holds for
  // `client_id` into the session state, the offline queue and the messages
  // to hand over. Only while idle: nothing of a session is in memory.
  std::optional<error_code> load_store(const std::string& client_id) {
    if (!store_) {
      const auto unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
      auto s = client_detail::persistent_session::open(opts_.persistence, log_, now(), unix_ms);
      if (!s) {
        log_.error("cannot open the client store in {}: {}", opts_.persistence.dir.string(), s.error().message);
        return ec_of(s.error().code);
      }
      store_ = std::move(*s);
    }
    // What an earlier connect left (commits, messages to hand over) first.
    if (!persist()) return store_error_;
    const std::uint64_t processed = opts_.persistence.processed ? opts_.persistence.processed() : 0;
    auto r = store_->load(client_id, processed);
    st_.set_journal(nullptr);
    st_.clear();
    inflight_.clear();
    for (auto& o : r.inflight) {
      inflight_[o.message.packet_id] = o.seq;  // no operation waits for it: completes silently
      st_.restore_outgoing(std::move(o));
    }
    for (auto id : r.incoming_qos2) st_.restore_incoming_qos2(id);
    for (auto it = r.queued.rbegin(); it != r.queued.rend(); ++it) pending_.push_front(std::move(*it));
    st_.set_journal(store_.get());
    std::size_t inbox = 0;
    for (auto& e : r.inbox) {
      if (outstanding_.count(e.number)) continue;  // still with the application (this run)
      awaiting_commit_.push_back(std::move(e));
      ++inbox;
    }
    log_.info("client store {} for '{}': {} in flight, {} queued, {} incoming QoS 2, {} to hand over{}",
              opts_.persistence.dir.string(), client_id, r.inflight.size(), r.queued.size(), r.incoming_qos2.size(),
              inbox, r.skipped ? fmt::format(" ({} processed already)", r.skipped) : std::string());
    if (!persist()) return store_error_;
    return std::nullopt;
  }

  // Commits the turn's changes; then hands the messages they stored to the
  // application. False (and store_error_ set, logged) when the commit failed.
  bool persist() {
    if (!store_) return true;
    if (store_->dirty()) {
      if (auto r = store_->commit(); !r) {
        if (!store_error_) log_.error("client store: {}", r.error().message);
        store_error_ = ec_of(r.error().code);
        return false;
      }
    }
    store_error_ = {};
    while (!awaiting_commit_.empty()) {
      auto e = std::move(awaiting_commit_.front());
      awaiting_commit_.pop_front();
      route(std::move(e.message), delivery{e.number, e.redelivered});
    }
    return true;
  }

  // The application took message `number` (with persistence).
  void mark_delivered(std::uint64_t number) {
    outstanding_.erase(number);
    if (!store_) return;
    if (auto r = store_->delivered(number); !r) log_.error("client store: {}", r.error().message);
  }

  // ---------------------------------------------------------------- the connection's life

  void open_link() {
    phase_ = phase::opening;
    const auto t = now();
    open_deadline_.reset();
    if (opts_.session.connect_timeout.count() > 0) open_deadline_ = t + opts_.session.connect_timeout;
    auto tr = client_detail::make_transport(ex_, uri_, opts_.tls, log_);
    if (!tr) return attempt_failed(ec_of(tr.error().code));
    auto l = std::make_shared<link>();
    l->tr = std::move(*tr);
    l->rbuf.resize(read_buffer_size);
    link_ = l;
    l->tr->async_open(uri_, [self = shared_from_this(), l](error_code ec) { self->on_opened(l, ec); });
    rearm_timer();
  }

  void on_opened(const std::shared_ptr<link>& l, error_code ec) {
    if (l != link_) return;
    if (ec) {
      link_.reset();
      return attempt_failed(ec);
    }
    // The first connection uses the caller's Clean Start; reconnects resume (5.0, see options.hpp).
    const bool clean = !ever_connected_ || copts_.version != protocol_version::v5 ? copts_.clean_start : false;
    if (clean) requeue_inflight();
    conn_.reset();
    conn_.emplace(session::role::client, *this, opts_.session, now());
    closed_ec_.reset();
    close_deadline_.reset();
    pings_seen_ = {};
    phase_ = phase::handshaking;
    log_.debug("transport open to {}; sending CONNECT (clean start {})", uri_.to_string(), clean);
    conn_->connect(make_connect(clean), st_, now());
    start_read(l);
    after_input();
  }

  void start_read(const std::shared_ptr<link>& l) {
    l->tr->async_read_some(asio::buffer(l->rbuf), [self = shared_from_this(), l](error_code ec, std::size_t n) {
      self->on_read(l, ec, n);
    });
  }

  void on_read(const std::shared_ptr<link>& l, error_code ec, std::size_t n) {
    if (l != link_ || !conn_) return;
    if (ec) return lose(ec);
    const bytes_view in(l->rbuf.data(), n);
    const auto pongs = pings_seen_.feed(in);
    conn_->receive(in, now());
    for (std::size_t i = 0; i < pongs && !ping_ops_.empty(); ++i) {
      complete(ping_ops_.front(), error_code{});
      ping_ops_.pop_front();
    }
    after_input();
    if (l == link_ && conn_ && !conn_->closing()) start_read(l);
  }

  // The transport failed: tell the session, then handle the end.
  void lose(error_code ec) {
    if (!closed_ec_) closed_ec_ = ec;
    conn_->transport_closed({std::error_code(ec), "the transport closed"});
    after_input();
  }

  // After every input: send what waits, write, notice the end, re-arm the timer.
  void after_input() {
    if (!conn_) {
      persist();  // publishes made while disconnected
      return;
    }
    if (live()) {
      if (need_resubscribe_) resubscribe();
      send_waiting_control();
      pump_publishes();
    }
    if (!persist() && !conn_->closing()) {
      // Nothing the failed commit covered may leave: end the connection
      // without writing; the reconnect commits again.
      conn_->output().clear();
      if (!closed_ec_) closed_ec_ = store_error_;
      conn_->transport_closed({std::error_code(store_error_), "the client store failed"});
    } else if (store_error_ && conn_->closing()) {
      conn_->output().clear();
    }
    flush();
    if (conn_->closing()) {
      if (!close_deadline_) close_deadline_ = now() + opts_.close_timeout;
      if (!link_ || (!link_->writing && conn_->output().empty())) return connection_lost();
    }
    rearm_timer();
  }

  void flush() {
    auto l = link_;
    if (!l || l->writing || conn_->output().empty()) return;
    std::swap(l->wbuf, conn_->output());
    l->wviews.clear();
    for (auto b : l->wbuf.buffers()) l->wviews.emplace_back(b.data(), b.size());
    std::swap(l->qos0_writing, qos0_unwritten_);
    l->writing = true;
    l->tr->async_write(l->wviews, [self = shared_from_this(), l](error_code ec, std::size_t) { self->on_written(l, ec); });
  }

  void on_written(const std::shared_ptr<link>& l, error_code ec) {
    l->writing = false;
    l->wbuf.clear();
    if (l != link_ || !conn_) return;
    for (auto tag : l->qos0_writing) {
      if (ec) fail_publish(tag, ec);
      else complete_publish(tag, error_code{}, reason::success);
    }
    l->qos0_writing.clear();
    if (ec) {
      conn_->output().clear();  // nothing more can be written
      return lose(ec);
    }
    after_input();
  }

  void rearm_timer() {
    std::optional<time_point> t;
    if (phase_ == phase::opening) t = open_deadline_;
    else if (conn_) t = conn_->closing() ? close_deadline_ : conn_->next_timeout();
    if (t == armed_) return;
    armed_ = t;
    ++timer_gen_;
    if (!t) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(*t);
    timer_.async_wait([self = shared_from_this(), g = timer_gen_](error_code ec) {
      if (ec || g != self->timer_gen_) return;
      self->armed_.reset();
      self->on_timer();
    });
  }

  void cancel_timer() {
    armed_.reset();
    ++timer_gen_;
    timer_.cancel();
  }

  void on_timer() {
    if (phase_ == phase::opening) {
      if (link_) link_->tr->close();
      link_.reset();
      return attempt_failed(asio::error::timed_out);
    }
    if (!conn_) return;
    if (conn_->closing()) {  // the last bytes could not be written in time
      if (!closed_ec_) closed_ec_ = error_code(asio::error::timed_out);
      return connection_lost();
    }
    conn_->on_timeout(now());
    after_input();
  }

  // Opening the transport failed (unreachable, refused, timed out).
  void attempt_failed(error_code ec) {
    cancel_timer();
    log_.info("cannot reach {}: {}", uri_.to_string(), ec.message());
    if (!ever_connected_) return stop(ec);
    schedule_retry();
  }

  // The connection ended and its last bytes are written (or cannot be).
  void connection_lost() {
    const bool was_connected = phase_ == phase::connected;
    const error_code why = closed_ec_.value_or(ec_of(client_error::connection_lost));
    const error_code op_error = why ? why : ec_of(client_error::connection_lost);
    if (link_) {
      link_->tr->close();
      for (auto tag : link_->qos0_writing) fail_publish(tag, op_error);
      link_->qos0_writing.clear();
      link_.reset();
    }
    for (auto tag : qos0_unwritten_) fail_publish(tag, op_error);
    qos0_unwritten_.clear();
    conn_.reset();
    cancel_timer();
    for (auto& p : ping_ops_) complete(p, op_error);
    ping_ops_.clear();
    requeue_control();
    if (was_connected) {
      log_.info("connection to {} ended: {}", uri_.to_string(), why ? why.message() : "normal disconnection");
      if (on_disconnect_) notify([h = on_disconnect_, why] { h(why); });
    }
    if (stopping_) return stop(asio::error::operation_aborted);
    if (!ever_connected_ || !opts_.reconnect.enabled) return stop(op_error);
    schedule_retry();
  }

  void schedule_retry() {
    phase_ = phase::waiting;
    const auto d = backoff_.next();
    log_.info("reconnecting to {} in {} ms (attempt {})", uri_.to_string(), d.count(), backoff_.attempts());
    retry_timer_.expires_after(d);
    retry_timer_.async_wait([self = shared_from_this(), g = ++retry_gen_](error_code ec) {
      if (ec || g != self->retry_gen_ || self->phase_ != phase::waiting) return;
      self->open_link();
    });
  }

  // The client stops for good: close, and complete every pending operation
  // (async_disconnect's with success, the others with `ec`).
  void stop(error_code ec) {
    persist();
    phase_ = phase::idle;
    stopping_ = false;
    ++retry_gen_;
    retry_timer_.cancel();
    cancel_timer();
    if (link_) {
      link_->tr->close();
      for (auto tag : link_->qos0_writing) fail_publish(tag, ec);
      link_.reset();
    }
    conn_.reset();
    complete(connect_op_, ec, connack_packet{});
    // With a store, QoS 1/2 publishes stay in it for the next connect (the
    // state forgets them without telling the journal).
    const error_code kept = store_ ? ec_of(client_error::kept_in_store) : ec;
    if (store_) st_.set_journal(nullptr);
    for (auto& e : pending_.take_all()) fail_publish(e.tag, e.message.qos != qos::at_most_once ? kept : ec);
    for (auto tag : qos0_unwritten_) fail_publish(tag, ec);
    qos0_unwritten_.clear();
    for (auto [id, tag] : inflight_) {
      (void)st_.remove_outgoing(id);  // given up: not resent by a later session (but see above)
      fail_publish(tag, kept);
    }
    inflight_.clear();
    for (auto& [id, op] : ctl_sent_) {
      st_.release_packet_id(id);
      complete(op.h, ec, std::vector<reason>{});
    }
    ctl_sent_.clear();
    for (auto& op : ctl_waiting_) complete(op.h, ec, std::vector<reason>{});
    ctl_waiting_.clear();
    for (auto& p : ping_ops_) complete(p, ec);
    ping_ops_.clear();
    for (auto& r : receive_ops_) {
      if (r.timer) r.timer->cancel();
      complete(r.h, ec, publish_packet{});
    }
    receive_ops_.clear();
    complete(disconnect_op_, error_code{});
  }

  // Before a Clean Start: the session state is about to be cleared, so the
  // QoS 1/2 messages in flight go back to the front of the offline queue, to
  // be sent again as new. A QoS 2 message already at PUBREL reached the
  // broker: its publish completes with success.
  void requeue_inflight() {
    if (store_) store_->forget_session(st_);  // Clean Start clears the state without journaling
    const auto order = st_.outgoing_order();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      auto tag = inflight_.find(*it);
      auto* o = st_.find_outgoing(*it);
      if (tag == inflight_.end() || !o) continue;
      if (o->phase == session::outgoing::phase::awaiting_comp) {
        complete_publish(tag->second, error_code{}, reason::success);
        continue;
      }
      auto m = o->message;
      m.packet_id = 0;
      m.dup = false;
      if (store_) store_->queue(tag->second, m, now());
      pending_.push_front({std::move(m), now(), tag->second});
    }
    inflight_.clear();
  }

  // The connection ended: SUBSCRIBE/UNSUBSCRIBE not yet answered go back to
  // the front of the queue (in their order), to be sent after the reconnect.
  void requeue_control() {
    std::map<std::uint64_t, ctl_op> sent;  // by seq (a map: ctl_op must not be move-assigned)
    for (auto& [id, op] : ctl_sent_) {
      st_.release_packet_id(id);
      if (!op.h) {
        resubscribe_unacked_ = true;  // restoring was cut short: restore again
        continue;
      }
      sent.emplace(op.seq, std::move(op));
    }
    ctl_sent_.clear();
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      std::visit([](auto& p) { p.packet_id = 0; }, it->second.request);
      ctl_waiting_.push_front(std::move(it->second));
    }
  }

  // The broker did not keep the session: subscribe again to what the client holds.
  void resubscribe() {
    need_resubscribe_ = false;
    resubscribe_unacked_ = false;
    if (subscriptions_.empty()) return;
    std::vector<ctl_op> ops;
    for (const auto& r : subscriptions_) {
      if (ops.empty() || std::get<subscribe_packet>(ops.back().request).props != r.props ||
          std::get<subscribe_packet>(ops.back().request).entries.size() >= max_resubscribe_entries)
        ops.push_back({++ctl_seq_, subscribe_packet{0, {}, r.props}, {}});
      std::get<subscribe_packet>(ops.back().request).entries.push_back(r.sub);
    }
    log_.info("restoring {} subscription(s) on {}", subscriptions_.size(), uri_.to_string());
    for (auto it = ops.rbegin(); it != ops.rend(); ++it) ctl_waiting_.push_front(std::move(*it));
  }

  void send_waiting_control() {
    while (!ctl_waiting_.empty() && live()) {
      if (st_.inflight() + ctl_sent_.size() >= 65'000) break;
      auto id = st_.allocate_packet_id();
      if (!id) break;
      auto op = std::move(ctl_waiting_.front());
      ctl_waiting_.pop_front();
      std::visit(
          [&](auto& p) {
            p.packet_id = *id;
            conn_->send(packet{p});
          },
          op.request);
      ctl_sent_.emplace(*id, std::move(op));
    }
  }

  // An offline-queue entry that will not be sent: its record goes.
  void unstore(const offline_queue::entry& e) {
    if (store_ && e.message.qos != qos::at_most_once) store_->unqueued(e.tag);
  }

  // Hands queued publishes to the session while they can go out at once.
  void pump_publishes() {
    const auto t = now();
    while (!pending_.empty() && live()) {
      const auto& front = pending_.front().message;
      if (front.qos != qos::at_most_once &&
          (st_.inflight() >= conn_->peer().receive_maximum || st_.inflight() + ctl_sent_.size() >= 65'000))
        break;
      auto e = pending_.pop_front();
      // Message Expiry Interval: dropped when it ran out while queued, else
      // sent with the time left (MQTT 5.0 3.3.2.3.3).
      if (auto expiry = e.message.props().get<property_id::message_expiry_interval>()) {
        const auto waited = std::chrono::duration_cast<std::chrono::seconds>(t - e.enqueued_at).count();
        if (waited >= std::int64_t{*expiry}) {
          unstore(e);
          fail_publish(e.tag, ec_of(client_error::message_expired));
          continue;
        }
        if (waited > 0) {
          const auto left = static_cast<std::uint32_t>(*expiry - static_cast<std::uint32_t>(waited));
          properties::builder b;
          e.message.props().for_each([&](const property& p) {
            if (p.id == property_id::message_expiry_interval) b.add<property_id::message_expiry_interval>(left);
            else (void)b.add(p);
          });
          e.message.set_props(b.build());
        }
      }
      if (e.message.qos > conn_->peer().maximum_qos) {
        unstore(e);
        complete_publish(e.tag, ec_of(make_error_code(reason::qos_not_supported)), reason::qos_not_supported);
        continue;
      }
      if (e.message.retain && !conn_->peer().retain_available) {
        unstore(e);
        complete_publish(e.tag, ec_of(make_error_code(reason::retain_not_supported)), reason::retain_not_supported);
        continue;
      }
      const auto q = e.message.qos;
      const bool stored = store_ && q != qos::at_most_once;
      submitting_ = true;
      submit_dropped_ = false;
      // Stored: the session's journal moves the record from queued to in flight.
      const auto r = conn_->publish(std::move(e.message), t, 0, stored ? e.tag : 0, stored);
      submitting_ = false;
      if (submit_dropped_ || r == session::enqueue_result::dropped || r == session::enqueue_result::refused) {
        if (stored) store_->unqueued(e.tag);
        complete_publish(e.tag, ec_of(make_error_code(reason::packet_too_large)), reason::packet_too_large);
        continue;
      }
      if (q == qos::at_most_once) {
        qos0_unwritten_.push_back(e.tag);
      } else if (!st_.outgoing_order().empty() && st_.queue().empty()) {
        inflight_[st_.outgoing_order().back()] = e.tag;  // the id it was just given
      } else {
        // Cannot happen: the window had room, so the session sent it at once.
        log_.error("publish to '{}' was queued by the session; its completion is lost", front.topic());
      }
    }
  }

  // ---------------------------------------------------------------- session::handler

  void on_connack(const connack_packet& a) override {
    if (is_failure(a.reason_code)) {
      const auto ec = copts_.version == protocol_version::v5
                          ? make_error_code(a.reason_code)
                          : make_error_code(to_connect_return_code(a.reason_code));
      closed_ec_ = ec_of(ec);
      log_.warn("{} refused the CONNECT: {}", uri_.to_string(), ec.message());
      complete(connect_op_, ec_of(ec), a);
      return;
    }
    phase_ = phase::connected;
    ++connects_;
    const bool first = !ever_connected_;
    ever_connected_ = true;
    backoff_.reset();
    if (auto id = a.props.get<property_id::assigned_client_identifier>()) copts_.client_id = std::string(*id);
    if ((!first && !a.session_present) || resubscribe_unacked_) need_resubscribe_ = !subscriptions_.empty();
    log_.info("connected to {} (session present: {})", uri_.to_string(), a.session_present);
    complete(connect_op_, error_code{}, a);
    if (on_connect_) notify([h = on_connect_, a] { h(a); });
  }

  void on_publish(publish_packet&& m) override {
    if (store_ && m.qos != qos::at_most_once) {
      // Stored now; handed over once the turn's commit made it durable
      // (persist()), and the PUBACK/PUBREC the session wrote leaves after
      // that commit too.
      const auto n = store_->received(m, now());
      awaiting_commit_.push_back({std::move(m), n, false});
      return;
    }
    route(std::move(m), delivery{});
  }

  // Hands a received message to the on_message()/on_delivery() handlers
  // whose filter matches (all of them, in one posted call), else to a
  // waiting async_receive(), else to the receive queue.
  void route(publish_packet m, delivery d) {
    std::vector<const filter_handler*> matching;
    for (const auto& f : handlers_)
      if (topic::matches(f.match, m.topic())) matching.push_back(&f);
    if (d.number) outstanding_.insert(d.number);
    if (!matching.empty()) {
      std::vector<std::shared_ptr<const message_handler>> hs;
      std::vector<std::shared_ptr<const delivery_handler>> hds;
      for (const auto* f : matching) {
        hs.push_back(f->h);
        hds.push_back(f->hd);
      }
      notify([this, hs = std::move(hs), hds = std::move(hds), m = std::move(m), d] {
        for (std::size_t i = 0; i < hs.size() && !shut_down_; ++i) {
          if (hs[i]) (*hs[i])(m);
          else if (hds[i]) (*hds[i])(m, d);
        }
        if (d.number && !shut_down_) mark_delivered(d.number);
      });
      return;
    }
    if (!receive_ops_.empty()) {
      auto op = std::move(receive_ops_.front());
      receive_ops_.pop_front();
      if (op.timer) op.timer->cancel();
      return complete_receive(op.h, std::move(m), d.number);
    }
    if (opts_.receive_queue == 0) {
      ++received_dropped_;
      if (d.number) mark_delivered(d.number);
      return;
    }
    if (received_.size() >= opts_.receive_queue) {
      if (received_.front().d.number) mark_delivered(received_.front().d.number);
      received_.pop_front();
      ++received_dropped_;
    }
    received_.push_back({std::move(m), d});
  }

  // Completes an async_receive() with `m`; with a delivery number, the
  // message counts as taken once the completion handler returned.
  void complete_receive(asio::any_completion_handler<receive_signature>& h, publish_packet m, std::uint64_t number) {
    if (!number) return complete(h, error_code{}, std::move(m));
    asio::get_associated_cancellation_slot(h).clear();
    auto ex = asio::get_associated_executor(h, ex_);
    asio::post(ex_, asio::bind_executor(std::move(ex), [h = std::move(h), m = std::move(m), number,
                                                        w = weak_from_this(), cex = ex_]() mutable {
                 std::move(h)(error_code{}, std::move(m));
                 asio::dispatch(cex, [w, number] {
                   if (auto s = w.lock(); s && !s->shut_down_) s->mark_delivered(number);
                 });
               }));
    h = nullptr;
  }

  void on_delivered(const publish_packet& m, reason code) override {
    auto it = inflight_.find(m.packet_id);
    if (it == inflight_.end()) return;
    const auto tag = it->second;
    inflight_.erase(it);
    complete_publish(tag, is_failure(code) ? ec_of(make_error_code(code)) : error_code{}, code);
  }

  void on_dropped(const publish_packet& m, reason why) override {
    if (submitting_) {
      submit_dropped_ = true;
      return;
    }
    if (m.qos == qos::at_most_once) return;
    auto it = inflight_.find(m.packet_id);
    if (it == inflight_.end()) return;
    const auto tag = it->second;
    inflight_.erase(it);
    const auto ec = why == reason::success ? ec_of(client_error::message_expired) : ec_of(make_error_code(why));
    complete_publish(tag, ec, why == reason::success ? reason::unspecified_error : why);
  }

  void on_suback(suback_packet&& a) override {
    auto it = ctl_sent_.find(a.packet_id);
    if (it == ctl_sent_.end()) return;
    auto op = std::move(it->second);
    ctl_sent_.erase(it);
    st_.release_packet_id(a.packet_id);
    auto* req = std::get_if<subscribe_packet>(&op.request);
    if (!req) return complete(op.h, ec_of(make_error_code(reason::protocol_error)), std::move(a.reason_codes));
    for (std::size_t i = 0; i < req->entries.size(); ++i) {
      const auto code = i < a.reason_codes.size() ? a.reason_codes[i] : reason::unspecified_error;
      const auto& s = req->entries[i];
      auto held = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                               [&](const registered& r) { return r.sub.filter == s.filter; });
      if (!is_failure(code)) {
        if (held != subscriptions_.end()) *held = {s, req->props};
        else subscriptions_.push_back({s, req->props});
      } else if (!op.h) {
        log_.warn("restoring the subscription to '{}' failed: {}", s.filter, name(code));
        if (held != subscriptions_.end()) subscriptions_.erase(held);
      }
    }
    if (op.h) complete(op.h, error_code{}, std::move(a.reason_codes));
  }

  void on_unsuback(unsuback_packet&& a) override {
    auto it = ctl_sent_.find(a.packet_id);
    if (it == ctl_sent_.end()) return;
    auto op = std::move(it->second);
    ctl_sent_.erase(it);
    st_.release_packet_id(a.packet_id);
    auto* req = std::get_if<unsubscribe_packet>(&op.request);
    if (!req) return complete(op.h, ec_of(make_error_code(reason::protocol_error)), std::move(a.reason_codes));
    auto codes = std::move(a.reason_codes);
    if (codes.empty()) codes.assign(req->filters.size(), reason::success);  // 3.x: no codes
    for (std::size_t i = 0; i < req->filters.size(); ++i) {
      if (i < codes.size() && is_failure(codes[i])) continue;
      std::erase_if(subscriptions_, [&](const registered& r) { return r.sub.filter == req->filters[i]; });
    }
    complete(op.h, error_code{}, std::move(codes));
  }

  void on_disconnect(const disconnect_packet& d) override {
    log_.info("{} sent DISCONNECT: {}", uri_.to_string(), name(d.reason_code));
    if (!closed_ec_) closed_ec_ = ec_of(make_error_code(d.reason_code));
  }

  void on_closed(const error& why) override {
    if (!closed_ec_) closed_ec_ = ec_of(why.code);
    if (why.code && !stopping_) log_.info("connection to {} closing: {}", uri_.to_string(), why.message());
  }

  // ---------------------------------------------------------------- members

  executor_type ex_;
  client_options opts_;
  log::logger log_;
  reconnect_backoff backoff_;
  session::state st_;
  std::optional<session::connection> conn_;
  std::shared_ptr<link> link_;

  asio::steady_timer timer_;  // the one protocol timer (see rearm_timer)
  std::optional<time_point> armed_;
  std::uint64_t timer_gen_ = 0;
  std::optional<time_point> open_deadline_;
  std::optional<time_point> close_deadline_;
  asio::steady_timer retry_timer_;
  std::uint64_t retry_gen_ = 0;

  phase phase_ = phase::idle;
  bool stopping_ = false;          // async_disconnect() in progress
  bool shut_down_ = false;         // the AsyncClient is gone
  bool ever_connected_ = false;    // a CONNACK accepted us since async_connect()
  bool need_resubscribe_ = false;
  bool resubscribe_unacked_ = false;
  std::optional<error_code> closed_ec_;  // why the current connection ends
  pingresp_counter pings_seen_;
  std::uint64_t connects_ = 0;

  broker_uri uri_;
  connect_options copts_;

  asio::any_completion_handler<connect_signature> connect_op_;
  asio::any_completion_handler<disconnect_signature> disconnect_op_;

  std::uint64_t next_tag_ = 1;  // without a store (with one, tags are the store's seqs)
  std::unordered_map<std::uint64_t, asio::any_completion_handler<publish_signature>> publish_ops_;
  offline_queue pending_;
  std::unordered_map<std::uint16_t, std::uint64_t> inflight_;  // packet id -> publish tag
  std::vector<std::uint64_t> qos0_unwritten_;  // QoS 0 publishes in the connection's output
  bool submitting_ = false;
  bool submit_dropped_ = false;

  std::deque<ctl_op> ctl_waiting_;
  std::map<std::uint16_t, ctl_op> ctl_sent_;
  std::uint64_t ctl_seq_ = 0;
  std::vector<registered> subscriptions_;

  std::deque<asio::any_completion_handler<ping_signature>> ping_ops_;

  std::list<receive_op> receive_ops_;  // a list: erased from the middle (see assign())
  std::uint64_t next_receive_id_ = 1;
  std::deque<received_message> received_;
  std::uint64_t received_dropped_ = 0;

  std::vector<filter_handler> handlers_;

  // Persistence (client_options::persistence): open from the first async_connect() on.
  std::unique_ptr<client_detail::persistent_session> store_;
  error_code store_error_;  // the last commit's
  bool turn_posted_ = false;  // post_turn() is pending
  std::deque<client_detail::inbox_entry> awaiting_commit_;  // received, stored, not yet committed
  std::set<std::uint64_t> outstanding_;  // delivery numbers handed over, not yet taken
  connect_handler on_connect_;
  disconnect_handler on_disconnect_;
};

// ============================================================================ AsyncClient

AsyncClient::AsyncClient(executor_type ex, client_options options)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(options))) {}

AsyncClient::~AsyncClient() { impl_->shutdown(); }

AsyncClient::executor_type AsyncClient::get_executor() const noexcept { return impl_->ex_; }

// Each command runs on the client's executor: inline when called there,
// else posted to it.
void AsyncClient::start_connect(std::string uri, connect_options o,
                                asio::any_completion_handler<connect_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, u = std::move(uri), o = std::move(o), h = std::move(h)]() mutable {
    s->connect(std::move(u), std::move(o), std::move(h));
  });
}

void AsyncClient::start_publish(publish_packet m, asio::any_completion_handler<publish_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, m = std::move(m), h = std::move(h)]() mutable {
    s->publish(std::move(m), std::move(h));
  });
}

void AsyncClient::start_subscribe(std::vector<subscription> subs, properties p,
                                  asio::any_completion_handler<subscribe_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, subs = std::move(subs), p = std::move(p), h = std::move(h)]() mutable {
    s->subscribe(std::move(subs), std::move(p), std::move(h));
  });
}

void AsyncClient::start_unsubscribe(std::vector<std::string> f, properties p,
                                    asio::any_completion_handler<subscribe_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, f = std::move(f), p = std::move(p), h = std::move(h)]() mutable {
    s->unsubscribe(std::move(f), std::move(p), std::move(h));
  });
}

void AsyncClient::start_receive(clock::duration timeout, asio::any_completion_handler<receive_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, timeout, h = std::move(h)]() mutable { s->receive(timeout, std::move(h)); });
}

void AsyncClient::start_ping(asio::any_completion_handler<ping_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, h = std::move(h)]() mutable { s->ping(std::move(h)); });
}

void AsyncClient::start_disconnect(reason code, properties props,
                                   asio::any_completion_handler<disconnect_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, code, p = std::move(props), h = std::move(h)]() mutable {
    s->disconnect(code, std::move(p), std::move(h));
  });
}

void AsyncClient::start_persist(asio::any_completion_handler<persist_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, h = std::move(h)]() mutable { s->persist_now(std::move(h)); });
}

void AsyncClient::on_message(std::string filter, message_handler h) {
  impl_->on_message(std::move(filter), h ? std::make_shared<const message_handler>(std::move(h)) : nullptr, nullptr);
}
void AsyncClient::on_delivery(std::string filter, delivery_handler h) {
  impl_->on_message(std::move(filter), nullptr, h ? std::make_shared<const delivery_handler>(std::move(h)) : nullptr);
}
void AsyncClient::on_connect(connect_handler h) { impl_->on_connect_ = std::move(h); }
void AsyncClient::on_disconnect(disconnect_handler h) { impl_->on_disconnect_ = std::move(h); }

bool AsyncClient::connected() const noexcept { return impl_->phase_ == impl::phase::connected && impl_->live(); }
protocol_version AsyncClient::version() const noexcept { return impl_->copts_.version; }
const std::string& AsyncClient::client_id() const noexcept { return impl_->copts_.client_id; }
std::size_t AsyncClient::queued() const noexcept { return impl_->pending_.size(); }
std::size_t AsyncClient::inflight() const noexcept { return impl_->inflight_.size(); }
std::uint64_t AsyncClient::received_dropped() const noexcept { return impl_->received_dropped_; }
std::uint64_t AsyncClient::connects() const noexcept { return impl_->connects_; }

}  // namespace tern
