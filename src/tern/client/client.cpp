// tern::Client: an AsyncClient on a strand of a private io_context, and the
// thread plumbing around it.
//
// - Every handler (the AsyncClient's sockets, timers and completions, the
//   facade's own posts) runs through the strand, so any number of threads may
//   drive the io_context at once (a loop thread, a thread blocked in
//   connect(), one in loop()) and handlers still run one at a time.
// - Requests from user threads are posted to the strand, never dispatched:
//   a callback that publishes returns before the publish starts, so nothing
//   re-enters the AsyncClient from inside one of its own handlers.
// - State shared with user threads (callbacks, the receive queue, the loop's
//   bookkeeping, the timers' table) sits under `m_`; a callback is copied out
//   under it and called after it is released. State only the strand touches
//   has no lock (`strand only` below).
// - Handlers capture the raw core: the Client owns it and, before it goes,
//   stops the loop and drains the io_context; tokens keep only a weak_ptr.
#include "tern/client/client.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "tern/client/async_client.hpp"
#include "tern/client/seq_ring.hpp"

namespace tern {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace client_detail {

// The longest a blocked caller or loop sleeps before looking again (a
// loop_stop() or a change of who drives the loop is noticed within this).
constexpr auto slice = 20ms;

// A request's outcome, shared by its tokens and the client. Small (one is
// made per publish): no lock or condition of its own; written once, by
// complete(), before `phase` turns done (release); read after (acquire).
// Waiting uses its core's condition variable (core::wait()).
struct token_state {
  struct more {  // what only subscribe, unsubscribe and connect report
    std::vector<reason> codes;
    std::optional<connack_packet> connack;
  };
  enum : std::uint8_t { pending, completing, done };

  int mid = 0;
  std::atomic<std::uint8_t> phase{pending};
  std::atomic<bool> waited{false};  // a thread sleeps in core::wait() for it: wake it
  bool has_code = false;
  reason code = reason::success;  // a publish's one code
  error_code ec;
  std::unique_ptr<more> extra;
  std::weak_ptr<core> owner;

  bool is_done() const { return phase.load(std::memory_order_acquire) == done; }
  // The first completion wins. complete_publish() leaves waking the waiters
  // to the caller (core::wake_waiters(), once for a batch): true when one
  // waits. (`phase` then `waited` here, `waited` then `phase` in
  // core::wait(), both seq_cst: one of the two sees the other.)
  bool complete_publish(error_code e, reason rc) {
    std::uint8_t expected = pending;
    if (!phase.compare_exchange_strong(expected, completing, std::memory_order_acquire)) return false;
    ec = e;
    code = rc;
    has_code = true;
    phase.store(done, std::memory_order_seq_cst);
    return waited.load(std::memory_order_seq_cst);
  }
  void complete(error_code e, std::vector<reason> c = {}, std::optional<connack_packet> a = std::nullopt);
};

// One new_event() timer.
struct event_state {
  explicit event_state(asio::strand<asio::io_context::executor_type>& s) : timer(s) {}
  Client::event_id id = 0;
  clock::duration interval{};
  Client::event_handler handler;
  asio::steady_timer timer;  // strand only
  std::atomic<bool> cancelled{false};
};

// Forwards the AsyncClient's log records to the program's sink and, posted
// to the loop, to on_log().
class forward_sink final : public log::sink {
 public:
  forward_sink(std::shared_ptr<log::sink> next, std::weak_ptr<core> owner)
      : next_(std::move(next)), owner_(std::move(owner)) {}
  void write(const log::record& r) override;

 private:
  std::shared_ptr<log::sink> next_;
  std::weak_ptr<core> owner_;
};

struct core : std::enable_shared_from_this<core> {
  template <class F>
  using slot = std::shared_ptr<const F>;

  explicit core(client_options o) : opts_(std::move(o)), work_(io_.get_executor()), strand_(io_.get_executor()) {}

  // After make_shared: the AsyncClient, whose logger needs a weak_ptr to us.
  void init() {
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

  // ---------------------------------------------------------------- helpers

  bool in_loop() const { return strand_.running_in_this_thread(); }

  // Requests from any thread run on the strand in the order they were
  // made. They wait in one queue (a vector, swapped out whole by the
  // strand), and a burst of them costs one wake-up of the loop, not one
  // each: only the request that finds no run_requests() scheduled posts one.
  // The strand takes at most `request_batch` per turn and posts itself again
  // for the rest, so that socket writes and completions run in between: a
  // burst of 50,000 QoS 0 publishes goes out as it comes, instead of all
  // being held before the first write. A publish is not a closure: its
  // message and token wait in the queue as they are, and consecutive ones go
  // to AsyncClient::publish_batch() together (one turn, one write).
  static constexpr std::size_t request_batch = 256;

  struct request {
    std::function<void()> fn;  // any request but a publish
    publish_packet message;    // a publish (when !fn)
    std::shared_ptr<token_state> token;
    int mid = 0;
  };

  template <class F>
  void post(F f) {
    enqueue({std::function<void()>(std::move(f)), {}, nullptr, 0});
  }

  void enqueue(request r) {
    bool wake = false;
    {
      std::lock_guard lk(requests_m_);
      requests_.push_back(std::move(r));
      wake = !scheduled_;
      scheduled_ = true;
    }
    if (wake) asio::post(strand_, [this] { run_requests(); });
  }

  // Strand only.
  void run_requests() {
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

  // Strand only: the publishes gathered by run_requests(), in one batch.
  void send_publishes() {
    if (publishes_.empty()) return;
    ac_->publish_batch(publishes_);
    publishes_.clear();
  }

  // Strand only: what publish_batch() reports.
  void published(std::span<const AsyncClient::publish_outcome> outcomes) {
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

  token make_token(int mid) {
    auto s = std::make_shared<token_state>();
    s->mid = mid;
    s->owner = weak_from_this();
    return token(std::move(s));
  }
  static const std::shared_ptr<token_state>& state(const token& t) { return t.st_; }

  int next_mid() {
    int cur = mid_.load(std::memory_order_relaxed);
    for (;;) {
      const int next = cur == INT_MAX ? 1 : cur + 1;
      if (mid_.compare_exchange_weak(cur, next, std::memory_order_relaxed)) return next;
    }
  }

  template <class F>
  slot<F> get(const slot<F>& s) const {
    std::lock_guard lk(m_);
    return s;
  }
  template <class F>
  void set(slot<F>& s, F f) {
    auto p = f ? std::make_shared<const F>(std::move(f)) : nullptr;
    std::lock_guard lk(m_);
    s = std::move(p);
  }

  // Calls a user callback (never under m_); an exception is logged and swallowed.
  template <class F, class... A>
  void invoke(const F& f, const char* what, A&&... a) {
    if (!f) return;
    try {
      f(std::forward<A>(a)...);
    } catch (const std::exception& e) {
      log_.error("{} callback threw: {}", what, e.what());
    } catch (...) {
      log_.error("{} callback threw", what);
    }
  }

  // Blocks until done() or `deadline`. Drives the loop when no loop runs;
  // otherwise sleeps through `sleep(until)`. In a callback: never blocks.
  template <class Done, class Sleep>
  bool block_until(clock::time_point deadline, Done done, Sleep sleep) {
    if (in_loop() || shut_down_.load()) return done();
    for (;;) {
      if (done()) return true;
      if (shut_down_.load()) return false;
      const auto now = clock::now();
      if (now >= deadline) return false;
      const auto d = std::min<clock::duration>(deadline - now, slice);
      if (loops_.load() == 0) io_.run_one_for(d);
      else sleep(now + d);
    }
  }

  static clock::time_point deadline_after(std::chrono::milliseconds t) {
    const auto now = clock::now();
    if (t >= std::chrono::duration_cast<std::chrono::milliseconds>(clock::time_point::max() - now))
      return clock::time_point::max();
    return now + t;
  }

  bool wait(const std::shared_ptr<token_state>& s, clock::time_point deadline) {
    return block_until(
        deadline, [&] { return s->is_done(); },
        [&](clock::time_point until) {
          s->waited.store(true, std::memory_order_seq_cst);
          std::unique_lock lk(waits_m_);
          waits_cv_.wait_until(lk, until, [&] { return s->is_done(); });
        });
  }

  // Wakes the threads in wait() after a token they wait for completed (any
  // thread). The empty critical section orders it after a waiter's check of
  // its token, before it sleeps.
  void wake_waiters() {
    { std::lock_guard lk(waits_m_); }
    waits_cv_.notify_all();
  }

  // ---------------------------------------------------------------- connection (strand only unless said)

  // Any thread.
  token connect_async(std::string uri, connect_options o) {
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

  void do_connect(std::string uri, connect_options o, std::shared_ptr<token_state> s) {
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

  // The AsyncClient accepted a CONNACK (first connection or a reconnect).
  void on_accepted(const connack_packet& a) {
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

  // An accepted connection ended.
  void on_lost(error_code ec) {
    connected_ = false;
    if (!opts_.reconnect.enabled && !disconnecting_ && !reconnecting_) {
      session_active_ = false;
      end(ec ? ec : error_code(client_error::connection_lost));
    }
    invoke(*cb_or_empty(on_disconnect_), "on_disconnect", ec);
  }

  // Any thread.
  token disconnect(reason code, properties props) {
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

  // Any thread.
  token reconnect_async() {
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

  // Blocking connect()/reconnect().
  error_code wait_connect(const token& t) {
    wait(state(t), clock::time_point::max());
    return state(t)->is_done() ? state(t)->ec : error_code(asio::error::operation_aborted);
  }

  // The session ended for good: loop_forever() returns `ec`. Strand only.
  void end(error_code ec) {
    {
      std::lock_guard lk(m_);
      ended_ = true;
      end_ec_ = ec;
    }
    rx_cv_.notify_all();
  }

  // ---------------------------------------------------------------- receiving (strand only)

  // Keeps one async_receive pending while a session is active, and while
  // there is room in rx_ (or an on_message callback takes each message):
  // when rx_ is full the pump waits, AsyncClient's queue fills, and the
  // client stops reading from the broker until receive() makes room.
  void start_pump() {
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

  // rx_ holds receive_queue messages and no on_message callback takes them.
  bool rx_full() const {
    if (get(on_message_)) return false;
    std::lock_guard lk(m_);
    return opts_.receive_queue != 0 && rx_.size() >= opts_.receive_queue;
  }

  // receive() took a message or an on_message callback was set: a pump
  // waiting for room goes on (strand only).
  void room_in_rx() {
    if (!pump_waits_for_room_) return;
    pump_waits_for_room_ = false;
    start_pump();
  }

  void deliver(publish_packet m) {
    if (auto cb = get(on_message_)) return invoke(*cb, "on_message", m);
    {
      std::lock_guard lk(m_);
      if (opts_.receive_queue == 0) return;  // documented: no queue, dropped
      rx_.push_back(std::move(m));
    }
    rx_cv_.notify_all();
  }

  // Any thread.
  std::optional<publish_packet> receive(std::chrono::milliseconds timeout) {
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

  // ---------------------------------------------------------------- requests (any thread)

  token publish(publish_packet m) {
    auto t = make_token(next_mid());
    enqueue({{}, std::move(m), state(t), t.mid()});
    return t;
  }

  token subscribe(std::vector<subscription> subs, properties props) {
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

  token unsubscribe(std::vector<std::string> filters, properties props) {
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

  void message_callback(std::string filter, Client::message_callback cb) {
    post([this, filter = std::move(filter), cb = std::move(cb)]() mutable {
      if (shut_down_) return;
      if (!cb) return ac_->on_message(std::move(filter), {});
      ac_->on_message(std::move(filter), [this, cb = std::move(cb)](const publish_packet& m) {
        if (!shut_down_) invoke(cb, "message_callback", m);
      });
    });
  }

  // ---------------------------------------------------------------- the loop (any thread)

  bool loop_start() {
    std::lock_guard lk(loop_m_);
    if (thread_.joinable()) {
      if (!thread_stop_.load() || thread_.get_id() == std::this_thread::get_id()) return false;
      thread_.join();  // asked to stop from a callback, not joined yet
    }
    thread_stop_ = false;
    ++loops_;
    thread_ = std::thread([this] {
      while (!thread_stop_.load()) io_.run_one_for(slice);
      --loops_;
    });
    return true;
  }

  void loop_stop() {
    forever_stop_ = true;
    std::unique_lock lk(loop_m_);
    if (!thread_.joinable()) return;
    thread_stop_ = true;
    if (thread_.get_id() == std::this_thread::get_id()) return;  // from a callback
    auto t = std::move(thread_);
    lk.unlock();
    t.join();
  }

  error_code loop_forever() {
    if (in_loop()) return make_error_code(boost::system::errc::resource_deadlock_would_occur);
    {
      std::lock_guard lk(m_);
      if (!started_) return client_error::not_connected;
    }
    forever_stop_ = false;
    ++loops_;
    auto finished = [&] {
      std::lock_guard lk(m_);
      return ended_;
    };
    while (!forever_stop_.load() && !shut_down_.load() && !finished()) io_.run_one_for(slice);
    --loops_;
    std::lock_guard lk(m_);
    return ended_ ? end_ec_ : error_code{};
  }

  void loop(std::chrono::milliseconds timeout) {
    if (in_loop() || shut_down_.load()) return;
    ++loops_;
    io_.run_for(timeout);
    --loops_;
  }

  // ---------------------------------------------------------------- timers (any thread)

  Client::event_id new_event(std::chrono::milliseconds interval, Client::event_handler h) {
    auto e = std::make_shared<event_state>(strand_);
    e->interval = std::max<clock::duration>(interval, 1ms);
    e->handler = std::move(h);
    {
      std::lock_guard lk(m_);
      e->id = ++next_event_;
      events_.emplace(e->id, e);
    }
    post([this, e] {
      e->timer.expires_after(e->interval);
      arm(e);
    });
    return e->id;
  }

  void arm(const std::shared_ptr<event_state>& e) {
    e->timer.async_wait([this, e](error_code ec) {
      if (ec || e->cancelled.load() || shut_down_) return;
      bool again = false;
      try {
        again = e->handler && e->handler();
      } catch (const std::exception& x) {
        log_.error("timer {} handler threw: {}; stopped", e->id, x.what());
      } catch (...) {
        log_.error("timer {} handler threw; stopped", e->id);
      }
      if (again && !e->cancelled.load()) {
        // Fixed rate; ticks missed while no loop ran are skipped, not replayed.
        const auto now = clock::now();
        auto next = e->timer.expiry() + e->interval;
        if (next <= now) next = now + e->interval;
        e->timer.expires_at(next);
        return arm(e);
      }
      std::lock_guard lk(m_);
      events_.erase(e->id);
    });
  }

  bool remove_event(Client::event_id id) {
    std::shared_ptr<event_state> e;
    {
      std::lock_guard lk(m_);
      auto it = events_.find(id);
      if (it == events_.end()) return false;
      e = std::move(it->second);
      events_.erase(it);
    }
    e->cancelled = true;
    post([e] { e->timer.cancel(); });
    return true;
  }

  // ---------------------------------------------------------------- log

  void deliver_log(log::level l, const std::string& msg) {
    if (shut_down_) return;
    if (auto cb = get(on_log_)) invoke(*cb, "on_log", l, std::string_view(msg));
  }

  // ---------------------------------------------------------------- shutdown (the Client's destructor)

  void shutdown() {
    loop_stop();
    {
      std::lock_guard lk(m_);
      on_connect_ = nullptr;
      on_message_ = nullptr;
      on_publish_ = nullptr;
      on_subscribe_ = nullptr;
      on_unsubscribe_ = nullptr;
      on_disconnect_ = nullptr;
      on_log_ = nullptr;
      for (auto& [id, e] : events_) {
        e->cancelled = true;
        e->timer.cancel();  // no thread runs the loop now
      }
      events_.clear();
    }
    shut_down_ = true;
    rx_cv_.notify_all();
    // No thread runs the loop now: the AsyncClient may be destroyed here. Its
    // pending operations complete (posted); running them completes the tokens.
    ac_.reset();
    work_.reset();
    io_.restart();
    io_.poll();
    for (auto& s : connect_tokens_) s->complete(asio::error::operation_aborted);
    connect_tokens_.clear();
    watched_.for_each([](watched& w) {
      if (w.token) w.token->complete(asio::error::operation_aborted);
    });
    watched_.clear();
  }

  template <class F>
  slot<F> cb_or_empty(const slot<F>& s) const {
    static const auto empty = std::make_shared<const F>();
    auto p = get(s);
    return p ? p : empty;
  }

  // ---------------------------------------------------------------- members

  client_options opts_;
  log::logger log_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::strand<asio::io_context::executor_type> strand_;
  std::optional<AsyncClient> ac_;

  // enqueue()'s queue.
  std::mutex requests_m_;
  std::vector<request> requests_;
  bool scheduled_ = false;  // a run_requests() is posted or running (under requests_m_)
  // Strand only: the requests run_requests() took, [taken_pos_, end) still to run.
  std::vector<request> taken_;
  std::size_t taken_pos_ = 0;
  std::vector<AsyncClient::batch_publish> publishes_;
  // Strand only: publishes whose outcome someone waits for (a token, on_publish), by cookie.
  struct watched {
    std::shared_ptr<token_state> token;
    int mid = 0;  // 0: none (mids start at 1)
    friend bool operator==(const watched&, const watched&) = default;
  };
  seq_ring<watched> watched_;
  std::uint64_t last_cookie_ = 0;

  // Under m_.
  mutable std::mutex m_;
  std::condition_variable rx_cv_;
  slot<Client::connect_callback> on_connect_;
  slot<Client::message_callback> on_message_;
  slot<Client::publish_callback> on_publish_;
  slot<Client::subscribe_callback> on_subscribe_;
  slot<Client::subscribe_callback> on_unsubscribe_;
  slot<Client::disconnect_callback> on_disconnect_;
  slot<Client::log_callback> on_log_;
  std::deque<publish_packet> rx_;
  std::string saved_uri_;
  connect_options saved_opts_;
  bool started_ = false;  // a connect was requested
  bool ended_ = false;    // ... and the session ended for good since
  error_code end_ec_;
  std::string client_id_;
  std::unordered_map<Client::event_id, std::shared_ptr<event_state>> events_;
  Client::event_id next_event_ = 0;

  // Threads in wait(): woken when a token they wait for completes.
  std::mutex waits_m_;
  std::condition_variable waits_cv_;

  // The loop thread.
  std::mutex loop_m_;
  std::thread thread_;
  std::atomic<bool> thread_stop_{false};
  std::atomic<bool> forever_stop_{false};
  std::atomic<int> loops_{0};  // loop threads, loop_forever() and loop() callers running now

  std::atomic<bool> shut_down_{false};
  std::atomic<bool> connected_{false};
  std::atomic<int> mid_{0};

  // Strand only.
  bool session_active_ = false;
  bool pumping_ = false;
  bool pump_waits_for_room_ = false;  // strand only
  bool disconnecting_ = false;
  bool reconnecting_ = false;
  std::vector<std::shared_ptr<token_state>> connect_tokens_;
};

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

}  // namespace client_detail

// ============================================================================ token

int token::mid() const noexcept { return st_ ? st_->mid : 0; }

bool token::is_complete() const { return !st_ || st_->is_done(); }

bool token::wait(std::chrono::milliseconds timeout) const {
  if (!st_) return true;
  const auto deadline = client_detail::core::deadline_after(timeout);
  if (auto c = st_->owner.lock()) return c->wait(st_, deadline);
  return st_->is_done();  // the client is gone: nothing completes it any more
}

void token::wait() const { (void)wait(std::chrono::milliseconds::max()); }

token::error_code token::error() const {
  if (!st_ || !st_->is_done()) return {};
  return st_->ec;
}

std::vector<reason> token::reason_codes() const {
  if (!st_ || !st_->is_done()) return {};
  if (st_->has_code) return {st_->code};
  return st_->extra ? st_->extra->codes : std::vector<reason>{};
}

std::optional<connack_packet> token::connack() const {
  if (!st_ || !st_->is_done() || !st_->extra) return std::nullopt;
  return st_->extra->connack;
}

// ============================================================================ Client

Client::Client(client_options options) : core_(std::make_shared<client_detail::core>(std::move(options))) {
  core_->init();
}

Client::~Client() { core_->shutdown(); }

void Client::on_connect(connect_callback cb) { core_->set(core_->on_connect_, std::move(cb)); }
void Client::on_message(message_callback cb) {
  core_->set(core_->on_message_, std::move(cb));
  asio::post(core_->strand_, [w = std::weak_ptr<client_detail::core>(core_)] {
    if (auto c = w.lock()) c->room_in_rx();
  });
}
void Client::on_publish(publish_callback cb) { core_->set(core_->on_publish_, std::move(cb)); }
void Client::on_subscribe(subscribe_callback cb) { core_->set(core_->on_subscribe_, std::move(cb)); }
void Client::on_unsubscribe(subscribe_callback cb) { core_->set(core_->on_unsubscribe_, std::move(cb)); }
void Client::on_disconnect(disconnect_callback cb) { core_->set(core_->on_disconnect_, std::move(cb)); }
void Client::on_log(log_callback cb) { core_->set(core_->on_log_, std::move(cb)); }

void Client::message_callback_add(std::string filter, message_callback cb) {
  if (!cb) return message_callback_remove(std::move(filter));
  core_->message_callback(std::move(filter), std::move(cb));
}
void Client::message_callback_remove(std::string filter) { core_->message_callback(std::move(filter), {}); }

Client::error_code Client::connect(std::string uri, connect_options options) {
  if (core_->in_loop()) return make_error_code(boost::system::errc::resource_deadlock_would_occur);
  return core_->wait_connect(core_->connect_async(std::move(uri), std::move(options)));
}

token Client::connect_async(std::string uri, connect_options options) {
  return core_->connect_async(std::move(uri), std::move(options));
}

Client::error_code Client::reconnect() {
  if (core_->in_loop()) return make_error_code(boost::system::errc::resource_deadlock_would_occur);
  return core_->wait_connect(core_->reconnect_async());
}

token Client::disconnect(reason code, properties props) { return core_->disconnect(code, std::move(props)); }

bool Client::connected() const noexcept { return core_->connected_.load(); }

std::string Client::client_id() const {
  std::lock_guard lk(core_->m_);
  return core_->client_id_;
}

token Client::publish(std::string_view topic, std::string_view payload, qos q, bool retain, properties props) {
  return core_->publish(publish_packet(topic, shared_bytes::copy(payload), q, retain, std::move(props)));
}
token Client::publish(publish_packet message) { return core_->publish(std::move(message)); }

token Client::subscribe(std::string filter, qos max_qos) {
  return core_->subscribe({{std::move(filter), {.max_qos = max_qos}}}, {});
}
token Client::subscribe(std::vector<subscription> subscriptions, properties props) {
  return core_->subscribe(std::move(subscriptions), std::move(props));
}
token Client::unsubscribe(std::string filter) { return core_->unsubscribe({std::move(filter)}, {}); }
token Client::unsubscribe(std::vector<std::string> filters, properties props) {
  return core_->unsubscribe(std::move(filters), std::move(props));
}

std::optional<publish_packet> Client::receive(std::chrono::milliseconds timeout) { return core_->receive(timeout); }

bool Client::loop_start() { return core_->loop_start(); }
void Client::loop_stop() { core_->loop_stop(); }
Client::error_code Client::loop_forever() { return core_->loop_forever(); }
void Client::loop(std::chrono::milliseconds timeout) { core_->loop(timeout); }

Client::event_id Client::new_event(std::chrono::milliseconds interval, event_handler handler) {
  return core_->new_event(interval, std::move(handler));
}
bool Client::remove_event(event_id id) { return core_->remove_event(id); }

}  // namespace tern
