// tern::AsyncClient: the completion-token glue. Each command runs on the
// client's executor (dispatched to it), is checked, and goes to the rooms:
// - client_session.hpp: the client's side of MQTT, sans I/O (connection,
//   reconnect order, offline queue, requests, persistence ordering,
//   deadlines); it reports through client_session::events, which this file
//   implements: completions are posted (completion.hpp), never run inside
//   the call that started the operation.
// - link.hpp: transport, read/write loop, the one timer, the clock.
// - dispatch.hpp: on_message()/on_delivery() handlers, waiting receives,
//   the receive queue.
// What stays here: the handlers of pending operations (publishes by tag,
// requests by id, pings in order, connect and disconnect), and the
// lifetime: the impl lives in a shared_ptr that every pending operation
// holds; the destructor shuts it down (no DISCONNECT) and aborts them.
#include "tern/client/async_client.hpp"

#include <map>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include "tern/client/client_session.hpp"
#include "tern/client/completion.hpp"
#include "tern/client/dispatch.hpp"
#include "tern/client/link.hpp"
#include "tern/client/seq_ring.hpp"

namespace tern {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
using client_detail::assign;

namespace {
using client_detail::ec_of;
std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

struct AsyncClient::impl final : client_detail::client_session::events, std::enable_shared_from_this<impl> {
  impl(executor_type ex, client_options o)
      : ex_(std::move(ex)),
        log_(o.log),
        receive_queue_(o.receive_queue),
        session_(o, log_, *this),
        link_(ex_, session_, o.tls, log_, o.ws_headers),
        dispatch_(ex_, receive_queue_) {}

  // After construction (weak_from_this() works from then on).
  void bind() {
    link_.bind(weak_from_this());
    dispatch_.bind(weak_from_this(), [this](std::uint64_t n) { session_.delivered(n); });
  }

  template <class Sig, class... Args>
  void complete(asio::any_completion_handler<Sig>& h, Args&&... args) {
    client_detail::complete(ex_, h, std::forward<Args>(args)...);
  }

  // Runs `f` on the executor later, unless the client is gone by then.
  template <class F>
  void notify(F f) {
    asio::post(ex_, [w = weak_from_this(), f = std::move(f)]() mutable {
      if (auto s = w.lock(); s && !s->shut_down_) f();
    });
  }

  // A turn of the session (send, commit, write), then the timer follows its deadline.
  void turn() {
    session_.turn(clock::now());
    link_.rearm();
  }

  // ---------------------------------------------------------------- commands

  void connect(std::string uri, connect_options o, asio::any_completion_handler<connect_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted), connack_packet{});
    const auto now = clock::now();
    if (auto e = session_.connect(uri, std::move(o), now, unix_ms())) return complete(h, e, connack_packet{});
    assign(connect_op_, std::move(h));
    session_.begin(now);
    link_.rearm();
  }

  void publish(publish_packet m, asio::any_completion_handler<publish_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted), reason::unspecified_error);
    auto r = session_.publish(std::move(m), clock::now());
    if (r.ec) return complete(h, r.ec, r.rc);
    publish_ops_.emplace(r.tag, std::move(h));
    if (session_.persistent()) return post_turn();
    turn();
  }

  // publish_batch(): the messages go to the session's offline queue, then
  // one turn sends what the window allows, in one write.
  void publish_batch(std::span<batch_publish> ms) {
    if (shut_down_) {
      for (auto& b : ms)
        if (b.cookie) outcome(b.cookie, error_code(asio::error::operation_aborted), reason::unspecified_error);
      return;
    }
    const auto now = clock::now();
    for (auto& b : ms) {
      auto r = session_.publish(std::move(b.message), now);
      if (r.ec) {
        if (b.cookie) outcome(b.cookie, r.ec, r.rc);
        continue;
      }
      if (b.cookie) cookies_.put(r.tag, b.cookie);
    }
    if (session_.persistent()) return post_turn();
    turn();
  }

  // An outcome for on_publish_outcomes(): gathered, and posted once per batch.
  void outcome(std::uint64_t cookie, error_code ec, reason rc) {
    outcomes_.push_back({cookie, ec, rc});
    if (outcomes_posted_) return;
    outcomes_posted_ = true;
    // Not notify(): posted even once shut down (the destructor's aborts).
    asio::post(ex_, [s = shared_from_this()] { s->report_outcomes(); });
  }

  void report_outcomes() {
    outcomes_posted_ = false;
    auto v = std::move(outcomes_);
    outcomes_.clear();
    if (on_outcomes_) on_outcomes_(v);
    v.clear();
    if (outcomes_.empty()) outcomes_ = std::move(v);  // keep the storage
  }

  // After publishes made outside an input: one turn later, for all of them (one commit).
  void post_turn() {
    if (turn_posted_) return;
    turn_posted_ = true;
    notify([this] {
      turn_posted_ = false;
      turn();
    });
  }

  void persist_now(asio::any_completion_handler<persist_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted));
    if (!persistence_) return complete(h, error_code{});
    if (!session_.persistent()) return complete(h, ec_of(client_error::not_connected));
    turn();
    complete(h, session_.store_error());
  }

  void request(client_detail::client_session::request_result r, asio::any_completion_handler<subscribe_signature> h) {
    if (r.ec) return complete(h, r.ec, std::vector<reason>{});
    request_ops_.emplace(r.id, std::move(h));
    turn();
  }

  void receive(clock::duration timeout, asio::any_completion_handler<receive_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted), publish_packet{});
    dispatch_.receive(timeout, std::move(h), session_.idle());
    if (!dispatch_.full()) link_.hold_reads(false);
  }

  void ping(asio::any_completion_handler<ping_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted));
    if (auto e = session_.ping()) return complete(h, e);
    ping_ops_.push_back(std::move(h));
    turn();
  }

  void disconnect(reason code, properties props, asio::any_completion_handler<disconnect_signature> h) {
    if (shut_down_) return complete(h, error_code(asio::error::operation_aborted));
    if (disconnect_op_ || session_.stopping()) return complete(h, error_code(asio::error::in_progress));
    if (session_.idle()) return complete(h, ec_of(client_error::not_connected));
    assign(disconnect_op_, std::move(h));
    session_.disconnect(code, std::move(props), clock::now());
    link_.rearm();
  }

  // The client object is being destroyed: close at once, abort everything.
  void shutdown() {
    dispatch_.shutdown();
    on_connect_ = nullptr;
    on_disconnect_ = nullptr;
    session_.stop(asio::error::operation_aborted, clock::now());
    link_.rearm();
    shut_down_ = true;
    // Closed now, not when the last handler holding the impl goes: a new
    // client may open the directory at once. Messages not yet taken by the
    // application stay stored for the next run.
    session_.close_store();
  }

  // ---------------------------------------------------------------- client_session::events

  error_code open_transport() override { return link_.open(session_.uri()); }
  void close_transport() override { link_.close(); }
  void write(write_buffer& out) override { link_.write(out); }

  void connect_done(error_code ec, const connack_packet& a) override { complete(connect_op_, ec, a); }

  void publish_done(std::uint64_t tag, error_code ec, reason rc) override {
    if (auto cookie = cookies_.take(tag)) return outcome(*cookie, ec, rc);
    auto it = publish_ops_.find(tag);
    if (it == publish_ops_.end()) return;
    complete(it->second, ec, rc);
    publish_ops_.erase(it);
  }

  void request_done(std::uint64_t id, error_code ec, std::vector<reason> codes) override {
    auto it = request_ops_.find(id);
    if (it == request_ops_.end()) return;
    complete(it->second, ec, std::move(codes));
    request_ops_.erase(it);
  }

  void ping_done(error_code ec) override {
    if (ping_ops_.empty()) return;
    complete(ping_ops_.front(), ec);
    ping_ops_.pop_front();
  }

  void message(publish_packet m, delivery d) override {
    dispatch_.route(std::move(m), d);
    if (dispatch_.full()) link_.hold_reads(true);
  }

  void connected(const connack_packet& a) override {
    if (on_connect_) notify([h = on_connect_, a] { h(a); });
  }

  void disconnected(error_code why) override {
    if (on_disconnect_) notify([h = on_disconnect_, why] { h(why); });
  }

  void stopped(error_code ec) override {
    dispatch_.fail_waiting(ec);
    complete(disconnect_op_, error_code{});
  }

  // ---------------------------------------------------------------- members

  executor_type ex_;
  log::logger log_;
  std::size_t receive_queue_;
  bool persistence_ = false;  // client_options::persistence.dir set
  client_detail::client_session session_;
  client_detail::link link_;
  client_detail::dispatch dispatch_;
  bool shut_down_ = false;  // the AsyncClient is gone
  bool turn_posted_ = false;  // post_turn() is pending

  asio::any_completion_handler<connect_signature> connect_op_;
  asio::any_completion_handler<disconnect_signature> disconnect_op_;
  std::unordered_map<std::uint64_t, asio::any_completion_handler<publish_signature>> publish_ops_;
  client_detail::seq_ring<std::uint64_t> cookies_;  // publish_batch(): tag -> cookie
  std::vector<publish_outcome> outcomes_;  // to report (one post for all)
  bool outcomes_posted_ = false;
  outcomes_handler on_outcomes_;
  std::map<std::uint64_t, asio::any_completion_handler<subscribe_signature>> request_ops_;
  std::deque<asio::any_completion_handler<ping_signature>> ping_ops_;
  connect_handler on_connect_;
  disconnect_handler on_disconnect_;
};

// ============================================================================ AsyncClient

AsyncClient::AsyncClient(executor_type ex, client_options options) {
  const bool persistence = !options.persistence.dir.empty();
  impl_ = std::make_shared<impl>(std::move(ex), std::move(options));
  impl_->persistence_ = persistence;
  impl_->bind();
}

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
    if (s->shut_down_) return s->complete(h, error_code(asio::error::operation_aborted), std::vector<reason>{});
    s->request(s->session_.subscribe(std::move(subs), std::move(p)), std::move(h));
  });
}

void AsyncClient::start_unsubscribe(std::vector<std::string> f, properties p,
                                    asio::any_completion_handler<subscribe_signature> h) {
  asio::dispatch(impl_->ex_, [s = impl_, f = std::move(f), p = std::move(p), h = std::move(h)]() mutable {
    if (s->shut_down_) return s->complete(h, error_code(asio::error::operation_aborted), std::vector<reason>{});
    s->request(s->session_.unsubscribe(std::move(f), std::move(p)), std::move(h));
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
  impl_->dispatch_.set_handler(std::move(filter), h ? std::make_shared<const message_handler>(std::move(h)) : nullptr,
                               nullptr);
}
void AsyncClient::on_delivery(std::string filter, delivery_handler h) {
  impl_->dispatch_.set_handler(std::move(filter), nullptr,
                               h ? std::make_shared<const delivery_handler>(std::move(h)) : nullptr);
}
void AsyncClient::publish_batch(std::span<batch_publish> messages) { impl_->publish_batch(messages); }
void AsyncClient::on_publish_outcomes(outcomes_handler h) { impl_->on_outcomes_ = std::move(h); }
void AsyncClient::on_connect(connect_handler h) { impl_->on_connect_ = std::move(h); }
void AsyncClient::on_disconnect(disconnect_handler h) { impl_->on_disconnect_ = std::move(h); }

bool AsyncClient::connected() const noexcept { return impl_->session_.connected(); }
protocol_version AsyncClient::version() const noexcept { return impl_->session_.version(); }
const std::string& AsyncClient::client_id() const noexcept { return impl_->session_.client_id(); }
std::size_t AsyncClient::queued() const noexcept { return impl_->session_.queued(); }
std::size_t AsyncClient::inflight() const noexcept { return impl_->session_.inflight(); }
std::uint64_t AsyncClient::received_dropped() const noexcept { return impl_->dispatch_.dropped(); }
std::uint64_t AsyncClient::connects() const noexcept { return impl_->session_.connects(); }

}  // namespace tern
