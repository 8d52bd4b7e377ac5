// tern/client/client_core.hpp (internal to the client): tern::Client's
// core, an AsyncClient on a strand of a private io_context, and the thread
// plumbing around it. client_core.cpp: the requests, the connection and the
// receive pump; client_loop.cpp: the loop, waiting, timers and shutdown;
// client.cpp: the tern::Client and tern::token facades over it.
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
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "tern/client/async_client.hpp"
#include "tern/client/client.hpp"
#include "tern/client/seq_ring.hpp"
#include "tern/core/deadline.hpp"

namespace tern::client_detail {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

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
  void init();

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

  void enqueue(request r);

  // Strand only.
  void run_requests();

  // Strand only: the publishes gathered by run_requests(), in one batch.
  void send_publishes();

  // Strand only: what publish_batch() reports.
  void published(std::span<const AsyncClient::publish_outcome> outcomes);

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

  // now + t, saturated (tern::deadline_after).
  static clock::time_point deadline_after(std::chrono::milliseconds t) { return tern::deadline_after(clock::now(), t); }

  bool wait(const std::shared_ptr<token_state>& s, clock::time_point deadline);

  // Wakes the threads in wait() after a token they wait for completed (any
  // thread). The empty critical section orders it after a waiter's check of
  // its token, before it sleeps.
  void wake_waiters() {
    { std::lock_guard lk(waits_m_); }
    waits_cv_.notify_all();
  }

  // ---------------------------------------------------------------- connection (strand only unless said)

  // Any thread.
  token connect_async(std::string uri, connect_options o);

  void do_connect(std::string uri, connect_options o, std::shared_ptr<token_state> s);

  // The AsyncClient accepted a CONNACK (first connection or a reconnect).
  void on_accepted(const connack_packet& a);

  // An accepted connection ended.
  void on_lost(error_code ec);

  // Any thread.
  token disconnect(reason code, properties props);

  // Any thread.
  token reconnect_async();

  // Blocking connect()/reconnect().
  error_code wait_connect(const token& t);

  // The session ended for good: loop_forever() returns `ec`. Strand only.
  void end(error_code ec);

  // ---------------------------------------------------------------- receiving (strand only)

  // Keeps one async_receive pending while a session is active, and while
  // there is room in rx_ (or an on_message callback takes each message):
  // when rx_ is full the pump waits, AsyncClient's queue fills, and the
  // client stops reading from the broker until receive() makes room.
  void start_pump();

  // rx_ holds receive_queue messages and no on_message callback takes them.
  bool rx_full() const;

  // receive() took a message or an on_message callback was set: a pump
  // waiting for room goes on (strand only).
  void room_in_rx();

  void deliver(publish_packet m);

  // Any thread.
  std::optional<publish_packet> receive(std::chrono::milliseconds timeout);

  // ---------------------------------------------------------------- requests (any thread)

  token publish(publish_packet m);

  token subscribe(std::vector<subscription> subs, properties props);

  token unsubscribe(std::vector<std::string> filters, properties props);

  token ping();

  void message_callback(std::string filter, Client::message_callback cb);

  // ---------------------------------------------------------------- the loop (any thread)

  bool loop_start();

  void loop_stop();

  error_code loop_forever();

  void loop(std::chrono::milliseconds timeout);

  // ---------------------------------------------------------------- timers (any thread)

  Client::event_id new_event(std::chrono::milliseconds interval, Client::event_handler h);

  void arm(const std::shared_ptr<event_state>& e);

  bool remove_event(Client::event_id id);

  // ---------------------------------------------------------------- log

  void deliver_log(log::level l, const std::string& msg);

  // ---------------------------------------------------------------- shutdown (the Client's destructor)

  void shutdown();

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

}  // namespace tern::client_detail
