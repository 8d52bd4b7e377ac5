// tern::Client's core: the request queue, the connection, the receive pump
// and the requests (client_core.hpp says how the threads meet).
#include "tern/client/client_core.hpp"

namespace tern::client_detail {

void core::init() {
  auto level = opts_.log.min_level() == log::level::off ? log::level::info : opts_.log.min_level();
  auto channel = opts_.log.channel().empty() ? std::string("client") : opts_.log.channel();
  log_ = log::logger{std::make_shared<forward_sink>(opts_.log.output(), weak_from_this()), channel, level};
  client_options o = opts_;
  o.log = log_;
  // AsyncClient's queue holds what arrives while the pump delivers (even
  // with receive_queue 0, which means no queue here: with an on_message
  // callback every message is delivered, without one they are dropped).
  o.receive_queue = std::max<std::size_t>(opts_.receive_queue, 1);
  ac_.emplace(strand_, std::move(o));
  // Set before any thread runs the loop (AsyncClient: "or before the executor runs").
  ac_->on_connect([this](const connack_packet& a) { on_accepted(a); });
  ac_->on_disconnect([this](error_code ec) { on_lost(ec); });
  ac_->on_publish_outcomes([this](std::span<const AsyncClient::publish_outcome> v) { published(v); });
}

void core::enqueue(request r) {
  bool wake = false;
  {
    std::lock_guard lk(requests_m_);
    requests_.push_back(std::move(r));
    wake = !scheduled_;
    scheduled_ = true;
  }
  if (wake) asio::post(strand_, [this] { run_requests(); });
}

void core::run_requests() {
  if (taken_pos_ == taken_.size()) {
    taken_.clear();
    taken_pos_ = 0;
    std::lock_guard lk(requests_m_);
    if (requests_.empty()) {
      scheduled_ = false;
      return;
    }
    std::swap(taken_, requests_);
  }
  const auto end = std::min(taken_.size(), taken_pos_ + request_batch);
  const bool notify = !shut_down_ && get(on_publish_) != nullptr;
  for (; taken_pos_ < end; ++taken_pos_) {
    auto& r = taken_[taken_pos_];
    if (r.fn) {
      send_publishes();
      auto f = std::move(r.fn);
      f();
      continue;
    }
    if (shut_down_) {
      if (r.token) r.token->complete(asio::error::operation_aborted);
      continue;
    }
    std::uint64_t cookie = 0;
    if (r.token || notify) {
      cookie = ++last_cookie_;
      watched_.put(cookie, watched{std::move(r.token), r.mid});
    }
    publishes_.push_back({std::move(r.message), cookie});
  }
  send_publishes();
  asio::post(strand_, [this] { run_requests(); });  // the rest, or finds none and stops
}

void core::send_publishes() {
  if (publishes_.empty()) return;
  ac_->publish_batch(publishes_);
  publishes_.clear();
}

void core::published(std::span<const AsyncClient::publish_outcome> outcomes) {
  auto cb = shut_down_ ? nullptr : get(on_publish_);
  bool wake = false;
  for (const auto& o : outcomes) {
    auto w = watched_.take(o.cookie);
    if (!w) continue;
    if (cb && !shut_down_) invoke(*cb, "on_publish", w->mid, o.ec, o.rc);
    if (w->token && w->token->complete_publish(o.ec, o.rc)) wake = true;
  }
  if (wake) wake_waiters();
}

token core::connect_async(std::string uri, connect_options o) {
  auto t = make_token(0);
  {
    std::lock_guard lk(m_);
    saved_uri_ = uri;
    saved_opts_ = o;
    started_ = true;
    ended_ = false;
    end_ec_ = {};
  }
  post([this, uri = std::move(uri), o = std::move(o), s = state(t)]() mutable {
    do_connect(std::move(uri), std::move(o), s);
  });
  return t;
}

void core::do_connect(std::string uri, connect_options o, std::shared_ptr<token_state> s) {
  if (shut_down_) return s->complete(asio::error::operation_aborted);
  session_active_ = true;
  ac_->async_connect(std::move(uri), std::move(o), [this, s](error_code ec, connack_packet a) {
    if (!ec) {
      // on_accepted() completes the token, after on_connect() ran.
      connect_tokens_.push_back(s);
      return;
    }
    if (ec != client_error::already_connected) {
      session_active_ = false;
      end(ec);
    }
    invoke(*cb_or_empty(on_connect_), "on_connect", ec, a);
    s->complete(ec, {}, std::move(a));
  });
  start_pump();
}

void core::on_accepted(const connack_packet& a) {
  connected_ = true;
  {
    std::lock_guard lk(m_);
    client_id_ = ac_->client_id();
  }
  invoke(*cb_or_empty(on_connect_), "on_connect", error_code{}, a);
  auto tokens = std::move(connect_tokens_);
  connect_tokens_.clear();
  for (auto& s : tokens) s->complete({}, {}, a);
}

void core::on_lost(error_code ec) {
  connected_ = false;
  if (!opts_.reconnect.enabled && !disconnecting_ && !reconnecting_) {
    session_active_ = false;
    end(ec ? ec : error_code(client_error::connection_lost));
  }
  invoke(*cb_or_empty(on_disconnect_), "on_disconnect", ec);
}

token core::disconnect(reason code, properties props) {
  auto t = make_token(0);
  post([this, code, props = std::move(props), s = state(t)]() mutable {
    if (shut_down_) return s->complete(asio::error::operation_aborted);
    disconnecting_ = true;
    ac_->async_disconnect(code, std::move(props), [this, s](error_code ec) {
      if (ec == asio::error::in_progress) return s->complete(ec);  // another disconnect() ends it
      disconnecting_ = false;
      session_active_ = false;
      connected_ = false;
      end(ec == client_error::not_connected ? error_code{} : ec);
      s->complete(ec);
    });
  });
  return t;
}

token core::reconnect_async() {
  auto t = make_token(0);
  std::optional<std::pair<std::string, connect_options>> saved;
  {
    std::lock_guard lk(m_);
    if (started_) {
      saved.emplace(saved_uri_, saved_opts_);
      ended_ = false;
      end_ec_ = {};
    }
  }
  if (!saved) {
    state(t)->complete(client_error::not_connected);
    return t;
  }
  post([this, saved = std::move(*saved), s = state(t)]() mutable {
    if (shut_down_) return s->complete(asio::error::operation_aborted);
    reconnecting_ = true;
    ac_->async_disconnect(reason::normal_disconnection,
                          [this, saved = std::move(saved), s](error_code) mutable {
                            reconnecting_ = false;
                            connected_ = false;
                            do_connect(std::move(saved.first), std::move(saved.second), s);
                          });
  });
  return t;
}

error_code core::wait_connect(const token& t) {
  wait(state(t), clock::time_point::max());
  return state(t)->is_done() ? state(t)->ec : error_code(asio::error::operation_aborted);
}

void core::end(error_code ec) {
  {
    std::lock_guard lk(m_);
    ended_ = true;
    end_ec_ = ec;
  }
  rx_cv_.notify_all();
}

void core::start_pump() {
  if (pumping_ || shut_down_) return;
  if (rx_full()) {
    pump_waits_for_room_ = true;
    return;
  }
  pumping_ = true;
  ac_->async_receive([this](error_code ec, publish_packet m) {
    pumping_ = false;
    if (shut_down_) return;
    if (ec) {
      if (session_active_ && ec != client_error::not_connected) start_pump();
      return;
    }
    deliver(std::move(m));
    start_pump();
  });
}

bool core::rx_full() const {
  if (get(on_message_)) return false;
  std::lock_guard lk(m_);
  return opts_.receive_queue != 0 && rx_.size() >= opts_.receive_queue;
}

void core::room_in_rx() {
  if (!pump_waits_for_room_) return;
  pump_waits_for_room_ = false;
  start_pump();
}

void core::deliver(publish_packet m) {
  if (auto cb = get(on_message_)) return invoke(*cb, "on_message", m);
  {
    std::lock_guard lk(m_);
    if (opts_.receive_queue == 0) return;  // documented: no queue, dropped
    rx_.push_back(std::move(m));
  }
  rx_cv_.notify_all();
}

std::optional<publish_packet> core::receive(std::chrono::milliseconds timeout) {
  auto have = [&] {
    std::lock_guard lk(m_);
    return !rx_.empty();
  };
  block_until(deadline_after(timeout), have, [&](clock::time_point until) {
    std::unique_lock lk(m_);
    rx_cv_.wait_until(lk, until, [&] { return !rx_.empty(); });
  });
  std::optional<publish_packet> m;
  {
    std::lock_guard lk(m_);
    if (rx_.empty()) return std::nullopt;
    m = std::move(rx_.front());
    rx_.pop_front();
  }
  asio::post(strand_, [w = weak_from_this()] {
    if (auto self = w.lock()) self->room_in_rx();
  });
  return m;
}

token core::publish(publish_packet m) {
  auto t = make_token(next_mid());
  enqueue({{}, std::move(m), state(t), t.mid()});
  return t;
}

token core::subscribe(std::vector<subscription> subs, properties props) {
  auto t = make_token(next_mid());
  post([this, subs = std::move(subs), props = std::move(props), s = state(t)]() mutable {
    if (shut_down_) return s->complete(asio::error::operation_aborted);
    ac_->async_subscribe(std::move(subs), std::move(props), [this, s](error_code ec, std::vector<reason> codes) {
      if (!shut_down_) invoke(*cb_or_empty(on_subscribe_), "on_subscribe", s->mid, ec, codes);
      s->complete(ec, std::move(codes));
    });
  });
  return t;
}

token core::unsubscribe(std::vector<std::string> filters, properties props) {
  auto t = make_token(next_mid());
  post([this, f = std::move(filters), props = std::move(props), s = state(t)]() mutable {
    if (shut_down_) return s->complete(asio::error::operation_aborted);
    ac_->async_unsubscribe(std::move(f), std::move(props), [this, s](error_code ec, std::vector<reason> codes) {
      if (!shut_down_) invoke(*cb_or_empty(on_unsubscribe_), "on_unsubscribe", s->mid, ec, codes);
      s->complete(ec, std::move(codes));
    });
  });
  return t;
}

token core::ping() {
  auto t = make_token(0);
  post([this, s = state(t)] {
    if (shut_down_) return s->complete(asio::error::operation_aborted);
    ac_->async_ping([s](error_code ec) { s->complete(ec); });
  });
  return t;
}

void core::message_callback(std::string filter, Client::message_callback cb) {
  post([this, filter = std::move(filter), cb = std::move(cb)]() mutable {
    if (shut_down_) return;
    if (!cb) return ac_->on_message(std::move(filter), {});
    ac_->on_message(std::move(filter), [this, cb = std::move(cb)](const publish_packet& m) {
      if (!shut_down_) invoke(cb, "message_callback", m);
    });
  });
}

void token_state::complete(error_code e, std::vector<reason> c, std::optional<connack_packet> a) {
  std::uint8_t expected = pending;
  if (!phase.compare_exchange_strong(expected, completing, std::memory_order_acquire)) return;
  ec = e;
  if (!c.empty() || a) extra.reset(new more{std::move(c), std::move(a)});
  phase.store(done, std::memory_order_seq_cst);
  if (!waited.load(std::memory_order_seq_cst)) return;
  if (auto o = owner.lock()) o->wake_waiters();
}

void forward_sink::write(const log::record& r) {
  if (next_) next_->write(r);
  auto c = owner_.lock();
  if (!c || c->shut_down_.load() || !c->get(c->on_log_)) return;
  c->post([w = owner_, l = r.lvl, msg = std::string(r.message)] {
    if (auto s = w.lock()) s->deliver_log(l, msg);
  });
}

}  // namespace tern::client_detail
