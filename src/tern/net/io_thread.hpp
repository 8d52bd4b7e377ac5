// tern/net/io_thread.hpp: one io thread of the runtime: its reactor, its
// engine worker, its listeners and its connections (links), and what ties
// them together each turn: the deadlines (one table, swept by a 100 ms
// tick), the flush that ends a turn (the worker's commit, the outbox handed
// to the other threads, each dirty link's write), and the hand-over of
// batches between threads.
//
//   host h(engine, options);                                  // what the threads share
//   h.threads.push_back(std::make_unique<io_thread>(h, 0));
//   h.threads[0]->thread = std::thread([t = h.threads[0].get()] { t->run(); });
//
// Thread safety: the reactor's post(), and run_for() from another io thread;
// everything else on the thread itself (or while run_for holds its turn).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include <boost/unordered/unordered_flat_map.hpp>

#include "tern/engine/engine.hpp"
#include "tern/net/link.hpp"
#include "tern/net/listener.hpp"
#include "tern/net/reactor.hpp"
#include "tern/net/runtime.hpp"

namespace tern::net::detail {

struct io_thread;

// A descriptor owned until handed on: closed if the task carrying it is
// destroyed without running (the runtime stopped meanwhile).
struct owned_fd {
  int fd = -1;
  explicit owned_fd(int f) noexcept : fd(f) {}
  owned_fd(owned_fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  owned_fd& operator=(owned_fd&&) = delete;
  ~owned_fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() noexcept { return std::exchange(fd, -1); }
};

// What every thread shares: the engine, the options, the threads.
struct host {
  host(engine::engine& e, runtime_options o) : engine(e), options(std::move(o)) {}

  engine::engine& engine;
  runtime_options options;
  std::vector<std::unique_ptr<io_thread>> threads;
  // The listeners' gates, by slot - 1 (a link keeps the slot, not a pointer).
  std::vector<listener_gate*> gates;
  std::vector<std::thread::id> thread_ids;

  mutable std::mutex mutex;  // bound, and the stop condition
  std::condition_variable all_closed;
  std::vector<bound_address> bound;
  std::string start_error;

  std::atomic<std::size_t> live{0};  // connections accepted or adopted and not yet closed
  std::atomic<std::size_t> next_thread{0};
  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};
  bool started = false;

  io_thread& pick_thread() { return *threads[next_thread.fetch_add(1, std::memory_order_relaxed) % threads.size()]; }
  void closed_one() {
    if (live.fetch_sub(1, std::memory_order_acq_rel) == 1 && stopping.load()) {
      std::lock_guard lock(mutex);
      all_closed.notify_all();
    }
  }
};

struct io_thread final : reactor::handler {
  // One per io thread, shared by its connections.
  static constexpr std::size_t read_buffer_size = 64 * 1024;

  io_thread(host& h, std::size_t i);
  ~io_thread();

  // The thread's body: turns until the reactor quits.
  void run();

  // reactor::handler
  void on_ready(std::uint64_t token, std::uint32_t ready_bits, time_point now) override;
  void end_turn(time_point now) override;
  time_point next_deadline() const override;

  // A new connection (accepted or adopted) joins this thread, with the
  // filters `layers` makes (TLS), if any.
  // `gate` (its listener's, if any) counts it and checks its CONNECT.
  void open(int fd, time_point now, const byte_filter_maker* layers = nullptr, listener_gate* gate = nullptr);
  // The answer of link `l`'s CONNECT check number `serial` (admission.hpp),
  // posted here from whatever thread answered; ignored when `l` closed.
  void verified(link* l, std::uint64_t serial, reason r);
  // A connection moved here after its CONNECT (link::move_to).
  void arrive(link& l);
  // Listens on `l` (at start, before the thread runs).
  void add_listener(std::unique_ptr<listener> l);
  void arm_tick(time_point now);
  void begin_stop();

  // For the links.
  void touched() { flush_due = true; }
  void mark(link& l) {
    if (!l.dirty_) {
      l.dirty_ = true;
      dirty.push_back(&l);
    }
    touched();
  }
  void remove_link(link& l) {
    if (auto* moved = deadlines.remove(l.index_)) moved->index_ = l.index_;
  }
  std::unique_ptr<pending_write> take_write_state();
  void give_write_state(std::unique_ptr<pending_write> w);

  host& rt;
  std::size_t index;
  engine::worker& worker;
  reactor loop;
  // Deadlines of the loop (time_point::max(): none).
  time_point tick_at = time_point::max();
  time_point grace_at = time_point::max();
  time_point paused_until = time_point::max();  // the earliest of the listeners'
  std::vector<std::unique_ptr<listener>> listeners;
  std::unique_ptr<std::byte[]> read_buffer = std::make_unique_for_overwrite<std::byte[]>(read_buffer_size);
  std::vector<iovec> iov;  // a write's gathered buffers, reused
  // Its connections, and beside each its next deadline, swept by the tick.
  deadline_table<link> deadlines;
  std::vector<link*> dirty;  // to service at the end of this turn
  std::vector<link*> spare;
  std::vector<link*> again;  // have more to read (read a few buffers, then let others run)
  std::vector<link*> again_spare;
  std::vector<link*> finished;  // closed this turn, deleted at its end
  // Links whose CONNECT waits for its check's answer, with the number of
  // the check (a later link may reuse a closed one's address).
  boost::unordered_flat_map<link*, std::uint64_t> verifying;
  std::uint64_t verify_serial = 0;
  // Written since the last tick (their outputs may keep memory until it).
  std::vector<link*> warm;
  bool warm_closed = false;  // one of them is finished: to take out before deleting
  // Pending writes of the connections that have one (few: a socket takes
  // most writes whole), and spare ones for reuse.
  boost::unordered_flat_map<const link*, std::unique_ptr<pending_write>> pending;
  std::vector<std::unique_ptr<pending_write>> spare_writes;
  bool flush_due = false;
  bool stopping = false;
  std::thread thread;

 private:
  void add_link(link& l);
  void on_deadlines(time_point now);
  void flush(bool own);
  void hand_over_outbox(bool may_run);
  bool run_for(engine::batch& b);
  void release_idle_outputs();
  void listen(std::size_t i, watch_mode m);
  void on_acceptable(std::size_t i, time_point now);
};

}  // namespace tern::net::detail
