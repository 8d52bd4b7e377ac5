// tern::client_detail::client_session, part one: the connection's life
// (connect, open, lose, reconnect, stop), the turn that ends every input,
// the deadlines, and the store's commits. What goes out and what comes back
// (publishes, requests, the session::handler calls) is in
// client_session_flows.cpp.
#include "tern/client/client_session.hpp"

#include <cerrno>
#include <chrono>

#include "tern/core/deadline.hpp"

namespace tern::client_detail {

error_code aborted_error() noexcept { return error_code(ECANCELED, boost::system::system_category()); }
error_code timed_out_error() noexcept { return error_code(ETIMEDOUT, boost::system::system_category()); }


std::size_t pingresp_counter::feed(bytes_view in) noexcept {
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

client_session::client_session(client_options o, log::logger log, events& ev)
    : opts_(std::move(o)), log_(std::move(log)), ev_(ev), backoff_(opts_.reconnect), pending_(opts_.offline_queue) {
  opts_.session.auto_acknowledge = true;
}

client_session::~client_session() = default;

connect_packet client_session::make_connect(bool clean) const {
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

error_code client_session::connect(std::string_view uri, connect_options o, time_point now, std::int64_t unix_ms) {
  now_ = now;
  if (phase_ != phase::idle) return ec_of(client_error::already_connected);
  auto u = parse_broker_uri(uri);
  if (!u) {
    log_.warn("cannot connect to '{}': {}", uri, u.error().message());
    return ec_of(u.error().code);
  }
  if (!opts_.persistence.dir.empty() || store_) {
    if (o.client_id.empty()) {
      log_.warn("cannot connect to '{}': a client store needs a client id", uri);
      return ec_of(client_error::no_client_id);
    }
    if (auto e = load_store(o.client_id, unix_ms)) return e;
  }
  uri_ = std::move(*u);
  copts_ = std::move(o);
  return {};
}

void client_session::begin(time_point now) {
  now_ = now;
  ever_connected_ = false;
  need_resubscribe_ = false;
  resubscribe_unacked_ = false;
  subscriptions_.clear();
  backoff_.reset();
  log_.info("connecting to {} as '{}' (MQTT {})", uri_.to_string(), copts_.client_id, name(copts_.version));
  open_link();
}

error_code client_session::ping() {
  if (!live()) return ec_of(client_error::not_connected);
  conn_->send(packet{pingreq_packet{}});
  ++pings_waiting_;
  return {};
}

void client_session::disconnect(reason code, properties props, time_point now) {
  now_ = now;
  switch (phase_) {
    case phase::idle: return;
    case phase::opening:
    case phase::waiting:
      log_.info("disconnect: stopped reconnecting to {}", uri_.to_string());
      return stop(aborted_error(), now);
    case phase::handshaking:
    case phase::connected:
      stopping_ = true;
      log_.info("disconnecting from {} (reason 0x{:02X})", uri_.to_string(), static_cast<unsigned>(code));
      conn_->disconnect(code, std::move(props));
      return turn(now);
  }
}

// ---------------------------------------------------------------- persistence

// Opens the store (the first time) and loads what it holds for
// `client_id` into the session state, the offline queue and the messages
// to hand over. Only while idle: nothing of a session is in memory.
error_code client_session::load_store(const std::string& client_id, std::int64_t unix_ms) {
  if (!store_) {
    auto s = persistent_session::open(opts_.persistence, log_, now_, unix_ms);
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
  return {};
}

// Commits the turn's changes; then hands the messages they stored to the
// application. False (and store_error_ set, logged) when the commit failed.
bool client_session::persist() {
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

void client_session::delivered(std::uint64_t number) {
  outstanding_.erase(number);
  if (!store_) return;
  if (auto r = store_->delivered(number); !r) log_.error("client store: {}", r.error().message);
}

// ---------------------------------------------------------------- the connection's life

void client_session::open_link() {
  phase_ = phase::opening;
  open_deadline_.reset();
  retry_at_.reset();
  if (opts_.session.connect_timeout.count() > 0) open_deadline_ = deadline_after(now_, opts_.session.connect_timeout);
  if (auto e = ev_.open_transport()) return attempt_failed(e);
  transport_ = true;
}

void client_session::close_transport() {
  if (!transport_) return;
  transport_ = false;
  ev_.close_transport();
}

void client_session::opened(error_code ec, time_point now) {
  now_ = now;
  if (phase_ != phase::opening) return;
  if (ec) {
    transport_ = false;  // the link dropped it
    return attempt_failed(ec);
  }
  // The first connection uses the caller's Clean Start; reconnects resume (5.0, see options.hpp).
  const bool clean = !ever_connected_ || copts_.version != protocol_version::v5 ? copts_.clean_start : false;
  if (clean) requeue_inflight();
  conn_.reset();
  conn_.emplace(session::role::client, static_cast<session::handler&>(*this), opts_.session, now);
  closed_ec_.reset();
  close_deadline_.reset();
  pings_seen_ = {};
  phase_ = phase::handshaking;
  log_.debug("transport open to {}; sending CONNECT (clean start {})", uri_.to_string(), clean);
  conn_->connect(make_connect(clean), st_, now);
}

bool client_session::received(bytes_view in, time_point now) {
  now_ = now;
  if (!conn_) return false;
  const auto pongs = pings_seen_.feed(in);
  conn_->receive(in, now);
  for (std::size_t i = 0; i < pongs && pings_waiting_ > 0; ++i) {
    --pings_waiting_;
    ev_.ping_done({});
  }
  turn(now);
  return conn_ && !conn_->closing();
}

void client_session::transport_error(error_code ec, time_point now) {
  now_ = now;
  if (!conn_) return;
  lose(ec);
}

// The transport failed: tell the session, then handle the end.
void client_session::lose(error_code ec) {
  if (!closed_ec_) closed_ec_ = ec;
  conn_->transport_closed({std::error_code(ec), "the transport closed"});
  turn(now_);
}

void client_session::turn(time_point now) {
  now_ = now;
  if (!conn_) {
    persist();  // publishes made while disconnected
    return;
  }
  if (live()) {
    if (need_resubscribe_) resubscribe();
    send_waiting_requests();
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
    if (!close_deadline_) close_deadline_ = deadline_after(now_, opts_.close_timeout);
    if (!writing_ && conn_->output().empty()) return connection_lost();
  }
}

void client_session::flush() {
  if (writing_ || conn_->output().empty()) return;
  writing_ = true;
  std::swap(qos0_writing_, qos0_unwritten_);
  ev_.write(conn_->output());
}

void client_session::written(error_code ec, time_point now) {
  now_ = now;
  writing_ = false;
  if (!conn_) return;
  for (auto tag : qos0_writing_) {
    if (ec) fail_publish(tag, ec);
    else ev_.publish_done(tag, error_code{}, reason::success);
  }
  qos0_writing_.clear();
  if (ec) {
    conn_->output().clear();  // nothing more can be written
    return lose(ec);
  }
  turn(now);
}

std::optional<time_point> client_session::next_deadline() const {
  switch (phase_) {
    case phase::idle: return std::nullopt;
    case phase::opening: return open_deadline_;
    case phase::waiting: return retry_at_;
    case phase::handshaking:
    case phase::connected: break;
  }
  if (!conn_) return std::nullopt;
  return conn_->closing() ? close_deadline_ : conn_->next_timeout();
}

void client_session::on_timer(time_point now) {
  now_ = now;
  if (phase_ == phase::opening) {
    close_transport();
    return attempt_failed(timed_out_error());
  }
  if (phase_ == phase::waiting) return open_link();
  if (!conn_) return;
  if (conn_->closing()) {  // the last bytes could not be written in time
    if (!closed_ec_) closed_ec_ = timed_out_error();
    return connection_lost();
  }
  conn_->on_timeout(now);
  turn(now);
}

// Opening the transport failed (unreachable, refused, timed out).
void client_session::attempt_failed(error_code ec) {
  log_.info("cannot reach {}: {}", uri_.to_string(), ec.message());
  if (!ever_connected_) return stop(ec, now_);
  schedule_retry();
}

// The connection ended and its last bytes are written (or cannot be).
void client_session::connection_lost() {
  const bool was_connected = phase_ == phase::connected;
  const error_code why = closed_ec_.value_or(ec_of(client_error::connection_lost));
  const error_code op_error = why ? why : ec_of(client_error::connection_lost);
  close_transport();
  for (auto tag : qos0_writing_) fail_publish(tag, op_error);
  qos0_writing_.clear();
  writing_ = false;
  for (auto tag : qos0_unwritten_) fail_publish(tag, op_error);
  qos0_unwritten_.clear();
  conn_.reset();
  for (; pings_waiting_ > 0; --pings_waiting_) ev_.ping_done(op_error);
  requeue_requests();
  if (was_connected) {
    log_.info("connection to {} ended: {}", uri_.to_string(), why ? why.message() : "normal disconnection");
    ev_.disconnected(why);
  }
  if (stopping_) return stop(aborted_error(), now_);
  if (!ever_connected_ || !opts_.reconnect.enabled) return stop(op_error, now_);
  schedule_retry();
}

void client_session::schedule_retry() {
  phase_ = phase::waiting;
  const auto d = backoff_.next();
  log_.info("reconnecting to {} in {} ms (attempt {})", uri_.to_string(), d.count(), backoff_.attempts());
  retry_at_ = deadline_after(now_, d);
}

// The client stops for good: close, and complete every pending operation
// (the driver's disconnect with success, the others with `ec`).
void client_session::stop(error_code ec, time_point now) {
  now_ = now;
  persist();
  phase_ = phase::idle;
  stopping_ = false;
  retry_at_.reset();
  close_transport();
  for (auto tag : qos0_writing_) fail_publish(tag, ec);
  qos0_writing_.clear();
  writing_ = false;
  conn_.reset();
  ev_.connect_done(ec, connack_packet{});
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
  for (auto& [id, r] : requests_sent_) {
    st_.release_packet_id(id);
    if (!r.own) ev_.request_done(r.id, ec, {});
  }
  requests_sent_.clear();
  for (auto& r : requests_waiting_)
    if (!r.own) ev_.request_done(r.id, ec, {});
  requests_waiting_.clear();
  for (; pings_waiting_ > 0; --pings_waiting_) ev_.ping_done(ec);
  ev_.stopped(ec);
}

}  // namespace tern::client_detail
