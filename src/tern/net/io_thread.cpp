// One io thread of the runtime (tern/net/io_thread.hpp).
//
// A turn (reactor::turn) reports the sockets' events to their links, runs
// what other threads posted, then end_turn: the deadlines due, then one
// flush. The flush first commits the worker's changes to the store (one disk
// sync for the turn: group commit, so acknowledgements leave only after
// their messages are durable), then hands the worker's outbox to the other
// threads (before this thread's own writes), one post per target thread; or,
// when the target thread is asleep with nothing queued, this thread runs the
// target's delivery and flush itself under the target's turn (run_for): at
// low load a message for a client of another thread then costs no thread
// wakeup more than one for a client of this thread. Then each dirty link
// writes. Only a thread's own turn deletes its closed connections.
//
// Listeners are level-triggered: a turn accepts a few connections from each,
// the next turn takes more. Deadlines (connect timeout, keep alive, the
// linger of a closing connection) are one 32-bit millisecond count per
// connection in the deadline table, swept by the thread's 100 ms tick.
#include "tern/net/io_thread.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace tern::net::detail {

namespace {

// Connections accepted per readiness of a listener before others run.
constexpr int accepts_per_turn = 64;
// Pending-write states kept for reuse per thread.
constexpr std::size_t kept_write_states = 64;
// How often each thread sweeps its connections' deadlines and looks whether
// its worker has periodic work due.
constexpr auto tick_period = std::chrono::milliseconds(100);
// After a failed accept (out of descriptors), the listener waits this long.
constexpr auto accept_pause = std::chrono::milliseconds(100);

// The reactor's tokens: a link's is its pointer (low bit 0, never 0);
// listener i's is odd.
std::uint64_t listener_token(std::size_t i) { return (static_cast<std::uint64_t>(i + 1) << 1) | 1u; }
std::uint64_t link_token(const link& l) { return reinterpret_cast<std::uintptr_t>(&l); }

}  // namespace

io_thread::io_thread(host& h, std::size_t i) : rt(h), index(i), worker(h.engine.worker_at(i)) {}

io_thread::~io_thread() {
  for (auto* l : finished) delete l;
  for (auto* l : deadlines.items()) delete l;
  listeners.clear();
  loop.drop_posts();  // what carried a connection or a descriptor closes it
}

void io_thread::run() {
  while (!loop.quitting()) {
    try {
      loop.turn(*this);
    } catch (const std::exception& e) {
      rt.options.log.error("io thread {}: {}", index, e.what());
    }
  }
}

void io_thread::on_ready(std::uint64_t token, std::uint32_t ready_bits, time_point now) {
  if ((token & 1u) == 0) {
    reinterpret_cast<link*>(static_cast<std::uintptr_t>(token))->on_ready(ready_bits, now);
    flush_due = true;
  } else {
    on_acceptable(static_cast<std::size_t>(token >> 1) - 1, now);
  }
}

void io_thread::end_turn(time_point now) {
  on_deadlines(now);
  if (flush_due) flush(true);
}

// Until the next deadline; at once when this turn left work for the next.
time_point io_thread::next_deadline() const {
  if (flush_due) return time_point::min();
  return std::min({tick_at, grace_at, paused_until});
}

void io_thread::on_deadlines(time_point now) {
  if (now >= tick_at) {
    if (auto t = worker.next_tick(); t && *t <= now) {
      worker.tick(now);
      touched();
    }
    deadlines.sweep(now, [](link& l, time_point at) { l.on_due(at); });
    release_idle_outputs();
    arm_tick(now);
  }
  if (now >= paused_until) {
    paused_until = time_point::max();
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      auto& l = *listeners[i];
      if (l.paused_until == time_point::max()) continue;
      if (now >= l.paused_until) {
        l.paused_until = time_point::max();
        listen(i, watch_mode::readable);
      } else {
        paused_until = std::min(paused_until, l.paused_until);
      }
    }
  }
  if (now >= grace_at) {
    grace_at = time_point::max();
    for (auto* l : std::vector<link*>(deadlines.items())) l->finish(now);
    touched();
  }
}

void io_thread::add_link(link& l) { l.index_ = deadlines.add(&l); }

std::unique_ptr<pending_write> io_thread::take_write_state() {
  if (spare_writes.empty()) return std::make_unique<pending_write>();
  auto w = std::move(spare_writes.back());
  spare_writes.pop_back();
  return w;
}

void io_thread::give_write_state(std::unique_ptr<pending_write> w) {
  w->bytes = write_buffer{};  // written: nothing to keep (the next write moves its own in)
  w->iov.clear();
  w->first = 0;
  w->linger_until = time_point::max();
  if (w->iov.capacity() > 1024) w->iov = std::vector<iovec>();  // released (`= {}` would keep the capacity)
  if (spare_writes.size() < kept_write_states) spare_writes.push_back(std::move(w));
}

// The outputs kept since the last tick go back to the heap when empty: a
// connection that stopped writing holds no write memory after one tick.
void io_thread::release_idle_outputs() {
  for (auto* l : warm) {
    l->warm_ = false;
    if (l->open_ && !l->writing_ && l->output().empty()) l->output() = write_buffer{};
  }
  warm.clear();
}

// `own`: on this thread's own turn (false: another thread runs it, see
// run_for).
void io_thread::flush(bool own) {
  flush_due = false;
  auto now = clock::now();
  // Connections that had more to read than one turn takes.
  std::swap(again, again_spare);
  for (auto* l : again_spare) {
    l->again_ = false;
    l->read(now);
  }
  again_spare.clear();
  // This turn's changes reach the store first (one disk sync): only then
  // may the acknowledgements in the outputs below be written.
  if (auto r = worker.commit(); !r) rt.options.log.error("storage: {}", r.error().message);
  // Messages for other threads' clients go before this thread's writes:
  // they have a thread to wake (or to run, see run_for) on their way.
  hand_over_outbox(own);
  now = clock::now();
  std::swap(dirty, spare);
  for (auto* l : spare) {
    l->dirty_ = false;
    l->service(now);
  }
  spare.clear();
  hand_over_outbox(own);  // a will published by a connection that closed above
  // Only the thread's own turn deletes: a wait of this thread that runs
  // meanwhile may return an event for a connection closed by another.
  if (own) {
    if (std::exchange(warm_closed, false)) std::erase_if(warm, [](const link* l) { return !l->open_; });
    for (auto* l : finished) delete l;
    finished.clear();
  }
  if (!again.empty()) touched();
}

void io_thread::hand_over_outbox(bool may_run) {
  worker.hand_over_outbox([&](std::size_t target, engine::batch& b) {
    auto& t = *rt.threads[target];
    if (may_run && t.run_for(b)) return;
    t.loop.post(task([&t, b = std::move(b)]() mutable {
      t.worker.deliver(std::move(b), clock::now());
      t.touched();
    }));
  });
}

// Another thread has a batch for this one. When this thread sleeps (its
// turn is free) and has nothing queued before the batch, the other thread
// delivers it and writes the result itself: the message reaches its
// subscriber without waking this thread, one thread wakeup less on its way
// (~20 us here when the two threads would be on different cores).
bool io_thread::run_for(engine::batch& b) {
  auto turn = loop.borrow_if_idle();
  if (!turn.owns_lock()) return false;
  worker.deliver(std::move(b), clock::now());
  flush(false);
  // What the flush left (more to read, a close's will) is this thread's.
  if (flush_due) loop.wake();
  return true;
}

void io_thread::open(int fd, time_point now, const byte_filter_maker* layers, listener_gate* gate) {
  owned_fd owned(fd);
  if (stopping) return rt.closed_one();
  if (gate && gate->open.fetch_add(1, std::memory_order_relaxed) >= gate->max_connections &&
      gate->max_connections != 0) {
    gate->open.fetch_sub(1, std::memory_order_relaxed);
    return rt.closed_one();  // `owned` closes it
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<byte_filter> filter;
  if (layers && !(filter = layers->make(fd, now))) {
    rt.options.log.warn("closing a new connection: its TLS state could not be made");
    if (gate) gate->open.fetch_sub(1, std::memory_order_relaxed);
    return rt.closed_one();  // `owned` closes it
  }
  if (filter) owned.release();  // the filter owns it now
  auto l = std::make_unique<link>(*this, filter ? fd : owned.release(), now);
  l->filter_ = filter.release();
  l->gate_ = gate ? gate->slot : 0;  // counted above: ~link uncounts it
  if (!loop.watch(l->fd(), link_token(*l), watch_mode::stream)) {
    rt.options.log.warn("adding a connection to the epoll set: {}",
                        std::error_code(errno, std::system_category()).message());
    return rt.closed_one();  // `l` closes it
  }
  auto& joined = *l.release();
  add_link(joined);
  joined.begin();
}

// On the new thread: the socket joins this thread's set, the endpoint is
// admitted by its worker.
void io_thread::arrive(link& l) {
  const auto now = clock::now();
  add_link(l);
  if (!loop.watch(l.fd(), link_token(l), watch_mode::stream))
    return l.lost({std::error_code(errno, std::system_category()), "the socket could not be moved to another thread"},
                  now);
  worker.admit(l, now);
  if (stopping) worker.shutdown(now);
  mark(l);
  l.read(now);  // the client may have sent more already
}

void io_thread::verified(link* l, std::uint64_t serial, reason r) {
  const auto it = verifying.find(l);
  if (it == verifying.end() || it->second != serial) return;
  verifying.erase(it);
  l->verified(r, clock::now());
}

void io_thread::add_listener(std::unique_ptr<listener> l) {
  listeners.push_back(std::move(l));
  listen(listeners.size() - 1, watch_mode::readable);
}

void io_thread::arm_tick(time_point now) {
  tick_at = now + tick_period;
  if (auto t = worker.next_tick(); t && *t < tick_at) tick_at = std::max(*t, now);
}

// Listener i's entry in the reactor: accepting, or silent while it pauses.
void io_thread::listen(std::size_t i, watch_mode m) {
  auto& l = *listeners[i];
  if (!loop.rewatch(l.fd, listener_token(i), m))
    rt.options.log.error("listening on {}: {}", l.name, std::error_code(errno, std::system_category()).message());
}

// Takes what the listener has (a few at most: it is level-triggered, the
// next turn takes more), each to the next thread in turn.
void io_thread::on_acceptable(std::size_t listener_index, time_point now) {
  auto& l = *listeners[listener_index];
  if (stopping || l.fd < 0) return;
  for (int i = 0; i < accepts_per_turn; ++i) {
    const auto a = l.accept();
    if (a.status == io_status::would_block) return;
    if (a.status == io_status::failed) {
      rt.options.log.warn("accepting on {}: {}", l.name, a.ec.message());
      // Out of descriptors, most likely: not in a busy loop.
      l.paused_until = now + accept_pause;
      paused_until = std::min(paused_until, l.paused_until);
      listen(listener_index, watch_mode::paused);
      return;
    }
    owned_fd owned(a.fd);
    const auto limit = rt.options.max_connections;
    if (limit != 0 && rt.live.load() >= limit) continue;  // closed by `owned`
    rt.live.fetch_add(1);
    auto& target = rt.pick_thread();
    // The listener's filter maker lives in the runtime's options, as long as the threads.
    const byte_filter_maker* layers = l.layers.get();
    listener_gate* gate = l.gate.get();
    if (&target == this) {
      open(owned.release(), now, layers, gate);
    } else {
      target.loop.post(task([&target, layers, gate, f = std::move(owned)]() mutable {
        target.open(f.release(), clock::now(), layers, gate);
      }));
    }
  }
}

void io_thread::begin_stop() {
  stopping = true;
  for (auto& l : listeners) l->close();
  tick_at = paused_until = time_point::max();
  const auto now = clock::now();
  worker.shutdown(now);
  for (auto* l : std::vector<link*>(deadlines.items())) l->stop(now);
  touched();
  grace_at = now + rt.options.stop_grace;
}

}  // namespace tern::net::detail
