// tern/net/reactor.hpp: one event loop per io thread. A reactor watches
// descriptors (an epoll set today), runs work other threads post to it (woken
// through an eventfd), and hands each turn's events to one handler: the
// loop's owner, which keeps its own deadlines (deadline_table) and tells the
// reactor when it must look again.
//
//   struct my_loop : tern::net::reactor::handler {
//     void on_ready(std::uint64_t token, std::uint32_t ready, time_point now) override { ... }
//     void end_turn(time_point now) override { ... }          // deadlines due, then output
//     time_point next_deadline() const override { return time_point::max(); }
//   };
//   tern::net::reactor r;
//   my_loop loop;
//   r.watch(fd, reinterpret_cast<std::uintptr_t>(&conn), tern::net::watch_mode::stream);
//   while (!r.quitting()) r.turn(loop);                       // on the io thread
//   r.post(tern::net::task([] { ... }));                      // from any thread
//
// The handler hears "ready" (readable, writable, the peer hung up, failed)
// rather than epoll's bits, and does its reads and writes through the byte
// layers (byte_filter.hpp), not through the reactor: a completion-based
// backend (io_uring) would take those reads and writes as submissions and
// report their completions through the same handler, without the link or
// the engine changing (see docs/design or the commit that made this file).
//
// Thread safety: post(), wake(), quit() and borrow_if_idle() from any thread;
// everything else on the loop's own thread (or under a borrowed turn).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace tern::net {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

// Work posted to a loop: a callable that may own what it carries (a
// descriptor, a connection), destroyed unrun if the loop goes first.
class task {
 public:
  template <class F>
  explicit task(F f) : run_(std::make_unique<model<F>>(std::move(f))) {}
  void operator()() { run_->run(); }

 private:
  struct base {
    virtual ~base() = default;
    virtual void run() = 0;
  };
  template <class F>
  struct model final : base {
    explicit model(F x) : f(std::move(x)) {}
    void run() override { f(); }
    F f;
  };
  std::unique_ptr<base> run_;
};

// What a watched descriptor reports: a set of these bits.
namespace ready {
inline constexpr std::uint32_t readable = 1;
inline constexpr std::uint32_t writable = 2;
inline constexpr std::uint32_t hung_up = 4;  // the peer closed its side (reading reaches the end)
inline constexpr std::uint32_t failed = 8;   // an error or a hang-up of both sides
}  // namespace ready

// How a descriptor is watched.
enum class watch_mode {
  // A connection: readable and writable, each reported once per change
  // (edge-triggered): registered once, never modified.
  stream,
  // Readable, reported as long as it is (level-triggered): a listening
  // socket, a timer descriptor, a client's socket with nothing to write.
  readable,
  // Readable or writable, as long as it is (level-triggered): a client's
  // socket that connects, or waits to write the rest of its output.
  readable_writable,
  // Watched but silent (a listener that pauses).
  paused,
};

class reactor {
 public:
  // The loop's owner. One per reactor; called on the loop's thread.
  class handler {
   public:
    // The descriptor watched with `token` reported `ready_bits` (ready::*).
    virtual void on_ready(std::uint64_t token, std::uint32_t ready_bits, time_point now) = 0;
    // The turn's events and posted work have run: deadlines due, then output.
    virtual void end_turn(time_point now) = 0;
    // When the next turn must start at the latest: time_point::max() for
    // no deadline, a past time for at once (this turn left work).
    virtual time_point next_deadline() const = 0;

   protected:
    ~handler() = default;
  };

  // Token 0 is the reactor's own (its wake descriptor).
  static constexpr std::uint64_t reserved_token = 0;

  // Takes at most `events_per_wait` events from the kernel per turn. Throws
  // std::system_error when the kernel refuses the epoll set or eventfd.
  explicit reactor(std::size_t events_per_wait = 256);
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // Watches `fd`, reported as `token` (not reserved_token). False (errno
  // set) when refused.
  [[nodiscard]] bool watch(int fd, std::uint64_t token, watch_mode m);
  // Changes how `fd` is watched (watches it when it was not).
  [[nodiscard]] bool rewatch(int fd, std::uint64_t token, watch_mode m);
  // Stops watching `fd` (closing it does too).
  void unwatch(int fd);

  // One turn: waits for the first event, posted work or the handler's
  // deadline, reports the events and runs the posts (in the order they
  // came), then calls end_turn. Holds the turn lock except while waiting.
  void turn(handler& h);

  // From any thread: runs `t` on the loop (its next turn).
  void post(task t);
  // From any thread: makes the loop's wait return.
  void wake();
  // From any thread: turn() callers stop (the loop looks at quitting()).
  void quit();
  bool quitting() const { return quit_.load(std::memory_order_acquire); }

  // From another thread: the loop's turn, when the loop sleeps (it is
  // waiting, not in a turn) and has no posted work queued: the caller may
  // then do the loop's work itself, under the returned lock. An empty lock
  // when the loop is busy or has work queued.
  std::unique_lock<std::mutex> borrow_if_idle();

  // Destroys posted work unrun (what it carries closes).
  void drop_posts();

 private:
  void run_posts();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  // Held while the loop's state is in use: by the loop for a turn (not
  // while it waits for events), or by a thread that borrowed it.
  std::mutex turn_mutex_;
  std::mutex posts_mutex_;
  std::vector<task> posts_;  // guarded by posts_mutex_
  std::vector<task> running_posts_;
  std::atomic<bool> quit_{false};
  struct events;
  std::unique_ptr<events> events_;
};

// Deadlines of many objects: the objects in a table, and beside each one
// 32-bit count of milliseconds since an epoch (0: none), swept by the
// owner's periodic tick: a deadline is honoured within a tick and costs
// 4 bytes. The table is also the owner's list of its objects (its
// connections): add() gives each its index, remove() moves the last one
// into the hole.
template <class T>
class deadline_table {
 public:
  // Adds `x` (no deadline); returns its index.
  std::uint32_t add(T* x) {
    items_.push_back(x);
    dues_.push_back(0);
    return static_cast<std::uint32_t>(items_.size() - 1);
  }
  // Removes entry `i`. Returns the entry now at `i` (the former last one,
  // whose index is now `i`), or nullptr when `i` was the last.
  T* remove(std::uint32_t i) {
    T* moved = nullptr;
    if (i + 1 < items_.size()) {
      items_[i] = items_.back();
      dues_[i] = dues_.back();
      moved = items_[i];
    }
    items_.pop_back();
    dues_.pop_back();
    if (items_.empty() && items_.capacity() > 1024) {
      items_ = {};
      dues_ = {};
    }
    return moved;
  }
  // Entry i's deadline: `t`, or none.
  void set(std::uint32_t i, std::optional<time_point> t) { dues_[i] = t ? millis(*t) : 0; }
  const std::vector<T*>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }

  // Calls on_due(x, now) for each x whose deadline passed (cleared first);
  // on_due may remove entries.
  template <class F>
  void sweep(time_point now, F&& on_due) {
    std::uint32_t at = millis(now);
    // Every ~24 days the deadlines are counted from a later epoch, so that
    // 32 bits always suffice (deadlines are hours ahead at most).
    if (at > 0x80000000u) {
      const std::uint32_t shift = at - 1;
      epoch_ += std::chrono::milliseconds(shift);
      for (auto& d : dues_)
        if (d != 0) d = d > shift ? d - shift : 1;
      at = millis(now);
    }
    // on_due may remove an entry, which moves the last one into its place.
    for (std::size_t i = 0; i < items_.size();) {
      const auto due = dues_[i];
      auto* x = items_[i];
      if (due != 0 && due <= at) {
        dues_[i] = 0;
        on_due(*x, now);
      }
      if (i < items_.size() && items_[i] == x) ++i;
    }
  }

 private:
  std::uint32_t millis(time_point t) const {
    if (t <= epoch_) return 1;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - epoch_).count() + 1;
    return ms >= 0xFFFFFFFF ? 0xFFFFFFFE : static_cast<std::uint32_t>(ms);
  }

  std::vector<T*> items_;
  std::vector<std::uint32_t> dues_;
  time_point epoch_ = clock::now();
};

}  // namespace tern::net
