// The Asio side of tern::net::broker_runtime: io threads, listeners and the
// per-connection driver of broker::endpoint. The only file of tern that
// includes Asio's I/O objects (asio.cpp compiles Asio itself, once).
//
// How a connection runs, all on its io thread:
// - Reading is reactor-style: wait until the socket is readable, then read into
//   the thread's one 64 KiB buffer (reads never overlap on a thread, so every
//   connection of the thread shares it; an idle connection holds no read
//   buffer) until a short read, feeding each piece to the endpoint.
// - Anything that may have produced output (input, link::wake) marks the
//   connection dirty; one flush per loop turn per thread first commits the
//   worker's changes to the store (one disk sync for the turn: group
//   commit, so acknowledgements leave only after their messages are
//   durable), then writes each
//   dirty connection's output with one gathered async_write (the endpoint's
//   write_buffer is swapped out, so the engine keeps appending to an empty one
//   while the write is in flight), re-arms its timer and closes it when it is
//   closing and everything is written; then the worker's outbox goes to the
//   other threads, one post per target thread.
// - Its CONNECT makes it move to the thread that owns its client id: the
//   socket's descriptor is released, and re-assigned to a socket of the target
//   thread's io_context, where worker::admit runs.
#include "tern/net/broker_runtime.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

namespace tern::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using executor = asio::io_context::executor_type;
using socket_type = tcp::socket::rebind_executor<executor>::other;
using acceptor_type = tcp::acceptor::rebind_executor<executor>::other;
using timer_type = asio::basic_waitable_timer<clock, asio::wait_traits<clock>, executor>;

namespace {

// One per io thread, shared by its connections.
constexpr std::size_t read_buffer_size = 64 * 1024;
// Full buffers read from one connection before the others get a turn.
constexpr int full_reads_per_turn = 4;
// A write buffer that held more than this is freed once written; one is
// freed anyway when its connection has nothing more to write, so that an
// idle connection keeps no write memory.
constexpr std::size_t kept_write_capacity = 4 * 1024;
// How often each thread looks whether its worker has periodic work due.
constexpr auto tick_period = std::chrono::milliseconds(100);
// After a failed accept (out of descriptors), the listener waits this long.
constexpr auto accept_pause = std::chrono::milliseconds(100);
// A closing connection whose last bytes cannot be written is dropped after this.
constexpr auto close_linger = std::chrono::seconds(2);
// Output a connection may pile up while its peer does not read.
constexpr std::size_t max_pending_output = 64 * 1024 * 1024;

std::string to_text(const tcp::endpoint& e) {
  auto a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(e.port());
  return a.to_string() + ":" + std::to_string(e.port());
}

// A descriptor owned until handed on: closed if the handler carrying it is
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

}  // namespace

std::string bound_address::to_string() const {
  error_code ec;
  return to_text(tcp::endpoint(asio::ip::make_address(address, ec), port));
}

namespace detail {

struct thread_state;
class tcp_link;

// What every thread shares: the engine, the options, the threads.
struct host {
  host(broker::engine& e, runtime_options o) : engine(e), options(std::move(o)) {}

  broker::engine& engine;
  runtime_options options;
  std::vector<std::unique_ptr<thread_state>> threads;
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

  thread_state& pick_thread() { return *threads[next_thread.fetch_add(1, std::memory_order_relaxed) % threads.size()]; }
  void closed_one() {
    if (live.fetch_sub(1, std::memory_order_acq_rel) == 1 && stopping.load()) {
      std::lock_guard lock(mutex);
      all_closed.notify_all();
    }
  }
};

struct listener {
  explicit listener(asio::io_context& ctx) : acceptor(ctx), pause(ctx) {}
  acceptor_type acceptor;
  timer_type pause;
  std::optional<socket_type> peer;  // the socket being accepted into (on `peer_home`)
  thread_state* peer_home = nullptr;
  std::string name;
};

// What a connection needs while it writes: the bytes being written (the
// endpoint keeps appending to its own buffer meanwhile) and their iovecs.
struct write_state {
  write_buffer sending;
  std::vector<asio::const_buffer> iov;
};

// One io thread: its io_context, its engine worker, its connections.
struct thread_state {
  thread_state(host& h, std::size_t i) : rt(h), index(i), worker(h.engine.worker_at(i)) {}

  host& rt;
  std::size_t index;
  broker::worker& worker;
  // First, so that it is destroyed last: everything below uses it.
  asio::io_context ctx{1};
  std::optional<asio::executor_work_guard<executor>> guard;
  timer_type tick{ctx};
  timer_type grace{ctx};
  std::vector<std::unique_ptr<listener>> listeners;
  std::unique_ptr<std::byte[]> read_buffer = std::make_unique_for_overwrite<std::byte[]>(read_buffer_size);
  // Its connections, by an id given here (a flat table: no node per link).
  boost::unordered_flat_map<std::uint64_t, std::shared_ptr<tcp_link>> links;
  std::uint64_t next_link_id = 1;
  // Every connection's next deadline, a min-heap: one Asio timer per thread
  // rather than one per connection (an idle connection's timer and its
  // pending wait cost ~200 bytes). Entries of connections gone or re-armed
  // are skipped when they come up.
  struct deadline {
    time_point at;
    std::uint64_t link;  // its id in `links`
    std::uint32_t epoch;
    bool operator>(const deadline& o) const noexcept { return at > o.at; }
  };
  std::vector<deadline> deadlines;
  timer_type deadline_timer{ctx};
  std::optional<time_point> deadline_armed;
  std::vector<std::shared_ptr<tcp_link>> dirty;  // to service at the end of this turn
  std::vector<std::shared_ptr<tcp_link>> spare;
  bool flush_posted = false;
  bool stopping = false;
  std::thread thread;

  void run();
  // Write states of connections that have nothing to write, for reuse:
  // writing allocates nothing once warm, idle connections hold none.
  std::vector<std::unique_ptr<write_state>> spare_writes;
  std::unique_ptr<write_state> take_write_state() {
    if (spare_writes.empty()) return std::make_unique<write_state>();
    auto w = std::move(spare_writes.back());
    spare_writes.pop_back();
    return w;
  }
  void give_write_state(std::unique_ptr<write_state> w) {
    if (spare_writes.size() < 64) spare_writes.push_back(std::move(w));
  }
  void add_link(const std::shared_ptr<tcp_link>& l);
  void add_deadline(time_point at, std::uint64_t link, std::uint32_t epoch);
  void arm_deadlines();
  void on_deadlines();
  void touched();
  void mark(tcp_link& l);
  void flush();
  void open(socket_type s, time_point now);
  void arm_tick(time_point now);
  void accept_next(listener& l);
  void on_accept(listener& l, const error_code& ec);
  void begin_stop();
};

// One TCP connection: its socket, its timer and its broker::endpoint.
class tcp_link final : public broker::link, public std::enable_shared_from_this<tcp_link> {
 public:
  tcp_link(thread_state& home, socket_type s, tcp protocol)
      : home_(&home), socket_(std::move(s)), protocol_(protocol) {}
  ~tcp_link() override {
    if (transit_fd_ >= 0) ::close(transit_fd_);
  }

  void wake() override { home_->mark(*this); }
  std::string peer() const override {
    if (!socket_) return {};
    error_code ec;
    const auto e = socket_->remote_endpoint(ec);
    return ec ? std::string() : to_text(e);
  }

  // Opens the endpoint and waits for the CONNECT.
  void begin(time_point now) {
    ep_ = home_->worker.open(*this, now);
    wait_readable();
    home_->mark(*this);  // arms the connect timeout
  }

  // End of a loop turn: write, re-arm the timer, close when done.
  void service(time_point now) {
    if (!ep_) return;
    if (writing_ && ep_->output().size() > max_pending_output)
      return lost({reason::quota_exceeded, "the peer does not read what it is sent"}, now);
    if (!writing_ && !ep_->output().empty()) start_write();
    if (ep_->closing()) {
      if (!writing_ && ep_->output().empty()) return finish(now);
      if (!close_deadline_) close_deadline_ = now + close_linger;
    }
    arm_timer();
  }

  // The broker is stopping: a connection the engine did not disconnect (its
  // CONNECT not yet admitted) closes too.
  void stop(time_point now) {
    if (!ep_) return;
    if (!ep_->closing()) ep_->transport_closed({reason::server_shutting_down, "the broker is stopping"}, now);
    home_->mark(*this);
  }

  // Closes the socket and destroys the endpoint, written or not.
  void finish(time_point now) {
    if (!ep_) return;
    auto self = shared_from_this();
    auto& here = *home_;
    if (socket_) {
      error_code ec;
      socket_->shutdown(tcp::socket::shutdown_send, ec);
      // What the peer sent and nobody read would make close() send RST, which
      // may destroy our last bytes (a DISCONNECT) before the peer reads them.
      for (int i = 0; i < 4 && !ec; ++i)
        (void)socket_->read_some(asio::buffer(here.read_buffer.get(), read_buffer_size), ec);
      socket_->close(ec);
      if (!writing_) socket_.reset();  // else when the aborted write completes
    }
    timed_ = false;
    armed_.reset();
    here.links.erase(id_);
    if (!ep_->closing()) ep_->transport_closed({reason::unspecified_error, "the connection was dropped"}, now);
    ep_.reset();
    here.rt.closed_one();
    here.touched();  // closing may have published a will
  }

  bool dirty = false;  // in home_->dirty
  thread_state* home_;
  std::uint64_t id_ = 0;  // in home_->links

 private:
  friend struct thread_state;

  void wait_readable() {
    socket_->async_wait(tcp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
      if (!self->ep_ || ec == asio::error::operation_aborted) return;
      const auto now = clock::now();
      if (ec) return self->lost({ec, "waiting for the socket failed"}, now);
      self->read(now);
    });
  }

  // Reads until the socket is drained (a short read), at most a few full
  // buffers before letting the thread's other connections run.
  void read(time_point now) {
    auto& here = *home_;
    std::byte* buffer = here.read_buffer.get();
    for (int i = 0; i < full_reads_per_turn; ++i) {
      error_code ec;
      const std::size_t n = socket_->read_some(asio::buffer(buffer, read_buffer_size), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        wait_readable();
        return here.touched();
      }
      if (ec == asio::error::eof) return lost({ec, "the peer closed the connection"}, now);
      if (ec) return lost({ec, "reading failed"}, now);
      ep_->receive(bytes_view(buffer, n), now);
      if (ep_->connect_pending() && !admit_or_move(now)) return here.touched();  // moving: reads resume there
      if (ep_->closing()) return here.mark(*this);                                // nothing more to read
      if (n < read_buffer_size) {
        wait_readable();
        return here.mark(*this);
      }
    }
    asio::post(here.ctx, [self = shared_from_this()] {
      if (self->ep_) self->read(clock::now());
    });
    here.mark(*this);
  }

  // Its CONNECT arrived: admit it here when this thread owns the client id,
  // else move there. Returns true when it stays.
  bool admit_or_move(time_point now) {
    const auto owner = home_->rt.engine.owner_of(*ep_);
    if (owner == home_->index) {
      home_->worker.admit(*ep_, now);
      return true;
    }
    if (writing_) {
      move_to_ = owner;  // when the write completes
    } else {
      move_to(*home_->rt.threads[owner]);
    }
    return false;
  }

  void move_to(thread_state& to) {
    auto self = shared_from_this();
    auto& from = *home_;
    epoch_.fetch_add(1, std::memory_order_relaxed);  // disowns handlers still queued on `from`
    dirty = false;
    timed_ = false;
    armed_.reset();
    error_code ec;
    transit_fd_ = socket_->release(ec);
    if (ec) return lost({ec, "the socket could not be moved to another thread"}, clock::now());
    socket_.reset();
    from.links.erase(id_);
    home_ = &to;
    asio::post(to.ctx, [self] { self->arrive(); });
  }

  // On the new thread: the socket again, the endpoint admitted by its worker.
  void arrive() {
    auto& here = *home_;
    const auto now = clock::now();
    error_code ec;
    socket_.emplace(here.ctx);
    socket_->assign(protocol_, transit_fd_, ec);
    if (ec) {
      socket_.reset();
      ::close(std::exchange(transit_fd_, -1));
      ep_->transport_closed({ec, "the socket could not be moved to another thread"}, now);
      ep_.reset();
      here.rt.closed_one();
      return here.touched();
    }
    transit_fd_ = -1;
    socket_->non_blocking(true, ec);
    timed_ = true;
    here.add_link(shared_from_this());
    ep_->rebind(*this);
    here.worker.admit(*ep_, now);
    if (here.stopping) here.worker.shutdown(now);
    if (ep_->closing()) return here.mark(*this);
    read(now);  // the client may have sent more already
  }

  void start_write() {
    if (!w_) w_ = home_->take_write_state();
    auto& w = *w_;
    std::swap(w.sending, ep_->output());
    w.iov.clear();
    for (auto b : w.sending.buffers()) w.iov.emplace_back(b.data(), b.size());
    writing_ = true;
    // A span, not the vector: the composed write copies its buffer sequence.
    asio::async_write(*socket_, std::span<const asio::const_buffer>(w.iov),
                      [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_written(ec); });
  }

  void on_written(const error_code& ec) {
    writing_ = false;
    auto& w = *w_;
    if (w.sending.size() > kept_write_capacity) {
      w.sending = write_buffer{};
      w.iov = {};
    } else {
      w.sending.clear();
      w.iov.clear();
    }
    if (!ep_ || ep_->output().empty()) {
      // Nothing more to write: the connection keeps no write memory (the
      // endpoint's empty buffer may hold capacity from an earlier write).
      if (ep_) ep_->output() = write_buffer{};
      home_->give_write_state(std::move(w_));
    }
    if (!ep_) {
      socket_.reset();  // finished while the write was in flight
      return;
    }
    const auto now = clock::now();
    if (ec) return lost({ec, "writing failed"}, now);
    if (move_to_) {
      auto& here = *home_;
      const auto to = *std::exchange(move_to_, std::nullopt);
      move_to(*here.rt.threads[to]);
      return here.touched();
    }
    // Output added since holds acknowledgements only the next commit covers.
    if (home_->worker.uncommitted()) return home_->mark(*this);
    service(now);
  }

  // Keeps a deadline armed at the endpoint's next deadline. A later deadline
  // leaves an earlier one armed: it comes, finds nothing due, and re-arms.
  void arm_timer() {
    if (!timed_ || !ep_) return;
    auto t = ep_->next_timeout();
    if (close_deadline_ && (!t || *close_deadline_ < *t)) t = close_deadline_;
    if (!t || (armed_ && *armed_ <= *t)) return;
    armed_ = *t;
    home_->add_deadline(*t, id_, epoch_.load(std::memory_order_relaxed));
  }
  // Its deadline `at` has come (thread_state::on_deadlines).
  void on_timer(std::uint32_t epoch, time_point at) {
    if (epoch != epoch_.load(std::memory_order_relaxed) || !ep_) return;  // moved to another thread since
    if (!armed_ || *armed_ != at) return;  // superseded by an earlier deadline
    armed_.reset();
    const auto now = clock::now();
    if (close_deadline_ && now >= *close_deadline_) return finish(now);
    ep_->on_timeout(now);
    home_->mark(*this);
  }
  // The transport failed: nothing more can be written.
  void lost(const error& why, time_point now) {
    if (!ep_) return;
    ep_->transport_closed(why, now);
    ep_->output().clear();
    finish(now);
  }

  std::optional<socket_type> socket_;
  tcp protocol_;
  bool timed_ = true;  // its deadlines are kept (not while moving, nor once finished)
  std::optional<time_point> armed_;
  std::optional<time_point> close_deadline_;
  std::unique_ptr<broker::endpoint> ep_;
  std::unique_ptr<write_state> w_;  // while writing, or with more to write
  std::optional<std::size_t> move_to_;
  std::atomic<std::uint32_t> epoch_{0};
  int transit_fd_ = -1;  // the descriptor while moving between threads
  bool writing_ = false;
};

void thread_state::run() {
  for (;;) {
    try {
      ctx.run();
      return;
    } catch (const std::exception& e) {
      rt.options.log.error("io thread {}: {}", index, e.what());
    }
  }
}

void thread_state::add_link(const std::shared_ptr<tcp_link>& l) {
  l->id_ = next_link_id++;
  links.emplace(l->id_, l);
}

void thread_state::add_deadline(time_point at, std::uint64_t link, std::uint32_t epoch) {
  deadlines.push_back({at, link, epoch});
  std::push_heap(deadlines.begin(), deadlines.end(), std::greater<>{});
  if (!deadline_armed || at < *deadline_armed) arm_deadlines();
}

void thread_state::arm_deadlines() {
  if (deadlines.empty()) {
    deadline_armed.reset();
    return;
  }
  deadline_armed = deadlines.front().at;
  deadline_timer.expires_at(*deadline_armed);  // cancels a wait for a later one
  deadline_timer.async_wait([this](const error_code& ec) {
    if (!ec) on_deadlines();
  });
}

void thread_state::on_deadlines() {
  const auto now = clock::now();
  while (!deadlines.empty() && deadlines.front().at <= now) {
    std::pop_heap(deadlines.begin(), deadlines.end(), std::greater<>{});
    const auto d = deadlines.back();
    deadlines.pop_back();
    auto it = links.find(d.link);
    if (it == links.end()) continue;  // closed or moved away since
    auto l = it->second;              // on_timer may finish it
    l->on_timer(d.epoch, d.at);
  }
  if (deadlines.empty() && deadlines.capacity() > 1024) deadlines = {};
  arm_deadlines();
}

void thread_state::touched() {
  if (flush_posted) return;
  flush_posted = true;
  asio::post(ctx, [this] { flush(); });
}

void thread_state::mark(tcp_link& l) {
  if (!l.dirty) {
    l.dirty = true;
    dirty.push_back(l.shared_from_this());
  }
  touched();
}

void thread_state::flush() {
  flush_posted = false;
  // This turn's changes reach the store first (one disk sync): only then
  // may the acknowledgements in the outputs below be written.
  if (auto r = worker.commit(); !r) rt.options.log.error("storage: {}", r.error().message);
  const auto now = clock::now();
  std::swap(dirty, spare);
  for (auto& l : spare) {
    if (l->home_ != this) continue;  // moved to another thread meanwhile
    l->dirty = false;
    l->service(now);
  }
  spare.clear();
  for (auto& [target, b] : worker.take_outbox()) {
    auto& t = *rt.threads[target];
    asio::post(t.ctx, [&t, b = std::move(b)]() mutable {
      t.worker.deliver(std::move(b), clock::now());
      t.touched();
    });
  }
}

void thread_state::open(socket_type s, time_point now) {
  error_code ec;
  if (stopping) {
    s.close(ec);
    return rt.closed_one();
  }
  s.set_option(tcp::no_delay(true), ec);
  s.non_blocking(true, ec);
  const auto remote = s.remote_endpoint(ec);
  if (ec) {  // already gone
    s.close(ec);
    return rt.closed_one();
  }
  auto l = std::make_shared<tcp_link>(*this, std::move(s), remote.protocol());
  add_link(l);
  l->begin(now);
}

void thread_state::arm_tick(time_point now) {
  auto at = now + tick_period;
  if (auto t = worker.next_tick(); t && *t < at) at = std::max(*t, now);
  tick.expires_at(at);
  tick.async_wait([this](const error_code& ec) {
    if (ec || stopping) return;
    const auto now = clock::now();
    if (auto t = worker.next_tick(); t && *t <= now) {
      worker.tick(now);
      touched();
    }
    arm_tick(now);
  });
}

void thread_state::accept_next(listener& l) {
  l.peer_home = &rt.pick_thread();
  l.peer.emplace(l.peer_home->ctx);
  l.acceptor.async_accept(*l.peer, [this, &l](const error_code& ec) { on_accept(l, ec); });
}

void thread_state::on_accept(listener& l, const error_code& ec) {
  if (ec == asio::error::operation_aborted || stopping) return;
  if (ec) {
    rt.options.log.warn("accepting on {}: {}", l.name, ec.message());
    l.peer.reset();
    l.pause.expires_after(accept_pause);  // out of descriptors, most likely: not in a busy loop
    l.pause.async_wait([this, &l](const error_code& e) {
      if (!e && !stopping) accept_next(l);
    });
    return;
  }
  auto s = std::move(*l.peer);
  l.peer.reset();
  auto& target = *l.peer_home;
  const auto limit = rt.options.max_connections;
  if (limit != 0 && rt.live.load() >= limit) {
    error_code ignored;
    s.close(ignored);
  } else {
    rt.live.fetch_add(1);
    if (&target == this) {
      open(std::move(s), clock::now());
    } else {
      asio::post(target.ctx, [&target, s = std::move(s)]() mutable { target.open(std::move(s), clock::now()); });
    }
  }
  accept_next(l);
}

void thread_state::begin_stop() {
  stopping = true;
  error_code ec;
  for (auto& l : listeners) {
    l->acceptor.close(ec);
    l->pause.cancel();
  }
  tick.cancel();
  const auto now = clock::now();
  worker.shutdown(now);
  std::vector<std::shared_ptr<tcp_link>> all;
  for (const auto& [id, l] : links) all.push_back(l);
  for (const auto& l : all) l->stop(now);
  touched();
  grace.expires_after(rt.options.stop_grace);
  grace.async_wait([this](const error_code& e) {
    if (e) return;
    const auto now = clock::now();
    std::vector<std::shared_ptr<tcp_link>> left;
    for (const auto& [id, l] : links) left.push_back(l);
    for (const auto& l : left) l->finish(now);
  });
}

}  // namespace detail

// ---------------------------------------------------------------- broker_runtime

struct broker_runtime::impl : detail::host {
  using host::host;
};

broker_runtime::broker_runtime(broker::engine& e, runtime_options o)
    : impl_(std::make_unique<impl>(e, std::move(o))) {
  for (std::size_t i = 0; i < e.workers(); ++i)
    impl_->threads.push_back(std::make_unique<detail::thread_state>(*impl_, i));
}

broker_runtime::~broker_runtime() {
  stop();
  // Connections first (their sockets need their io_context), then the threads.
  for (auto& t : impl_->threads) {
    t->dirty.clear();
    t->spare.clear();
    t->links.clear();
  }
  impl_->threads.clear();
}

namespace {

// The endpoints a listener's address stands for.
std::vector<tcp::endpoint> resolve(asio::io_context& ctx, const listen_address& l, error_code& ec) {
  std::vector<tcp::endpoint> out;
  const auto a = asio::ip::make_address(l.address, ec);
  if (!ec) {
    out.emplace_back(a, l.port);
    return out;
  }
  tcp::resolver r(ctx);
  auto found = r.resolve(l.address, std::to_string(l.port),
                         tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return out;
  for (const auto& e : found)
    if (std::find(out.begin(), out.end(), e.endpoint()) == out.end()) out.push_back(e.endpoint());
  return out;
}

}  // namespace

std::error_code broker_runtime::start() {
  auto& rt = *impl_;
  if (rt.started) {
    rt.start_error = "start() was called before";
    return std::make_error_code(std::errc::operation_not_permitted);
  }
  rt.started = true;

  // Resolve everything first: an IPv6 wildcard shares its port with IPv4
  // listeners only when it is IPv6-only.
  std::vector<std::vector<tcp::endpoint>> endpoints;
  error_code ec;
  for (const auto& l : rt.options.listeners) {
    endpoints.push_back(resolve(rt.threads[0]->ctx, l, ec));
    if (ec) {
      rt.start_error = "resolve " + l.address + ": " + ec.message();
      return ec;
    }
  }
  auto fail = [&](const std::string& what, const tcp::endpoint& at) {
    rt.start_error = what + " " + to_text(at) + ": " + ec.message();
    for (auto& t : rt.threads) t->listeners.clear();
    std::lock_guard lock(rt.mutex);
    rt.bound.clear();
    return std::error_code(ec);
  };
  std::size_t n = 0;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    std::uint16_t port = rt.options.listeners[i].port;
    for (auto at : endpoints[i]) {
      at.port(port);
      auto& home = *rt.threads[n++ % rt.threads.size()];
      auto l = std::make_unique<detail::listener>(home.ctx);
      auto& a = l->acceptor;
      a.open(at.protocol(), ec);
      if (ec) return fail("open", at);
      if (at.address().is_v6()) {
        bool v4_on_port = false;
        for (const auto& eps : endpoints)
          for (const auto& other : eps) v4_on_port |= other.address().is_v4() && port != 0 && other.port() == port;
        a.set_option(asio::ip::v6_only(v4_on_port), ec);
      }
      a.set_option(tcp::acceptor::reuse_address(true), ec);
      a.bind(at, ec);
      if (ec) return fail("bind", at);
      a.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return fail("listen", at);
      const auto local = a.local_endpoint(ec);
      if (ec) return fail("listen", at);
      if (port == 0) port = local.port();
      l->name = to_text(local);
      {
        std::lock_guard lock(rt.mutex);
        rt.bound.push_back({local.address().to_string(), local.port()});
      }
      home.listeners.push_back(std::move(l));
    }
  }

  for (auto& t : rt.threads) {
    t->guard.emplace(t->ctx.get_executor());
    asio::post(t->ctx, [s = t.get()] {
      s->arm_tick(clock::now());
      for (auto& l : s->listeners) s->accept_next(*l);
    });
  }
  for (auto& t : rt.threads) {
    t->thread = std::thread([s = t.get()] { s->run(); });
    rt.thread_ids.push_back(t->thread.get_id());
  }
  rt.running = true;
  return {};
}

const std::string& broker_runtime::start_error() const { return impl_->start_error; }

void broker_runtime::stop() {
  auto& rt = *impl_;
  if (!rt.running.load()) return;
  const auto me = std::this_thread::get_id();
  if (std::find(rt.thread_ids.begin(), rt.thread_ids.end(), me) != rt.thread_ids.end())
    throw std::logic_error("tern::net::broker_runtime::stop() called on one of its io threads");
  rt.stopping = true;
  for (auto& t : rt.threads) asio::post(t->ctx, [s = t.get()] { s->begin_stop(); });
  {
    std::unique_lock lock(rt.mutex);
    rt.all_closed.wait_for(lock, rt.options.stop_grace + std::chrono::milliseconds(500),
                           [&] { return rt.live.load() == 0; });
  }
  for (auto& t : rt.threads) t->ctx.stop();
  for (auto& t : rt.threads) {
    t->thread.join();
    t->guard.reset();
  }
  // What the last turns changed (sessions of closed connections) is kept.
  for (auto& t : rt.threads)
    if (auto r = t->worker.commit(); !r) rt.options.log.error("storage: {}", r.error().message);
  rt.running = false;
}

bool broker_runtime::running() const { return impl_->running.load(); }

std::vector<bound_address> broker_runtime::bound() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->bound;
}

std::size_t broker_runtime::connections() const { return impl_->live.load(); }

void broker_runtime::adopt(int native_socket) {
  auto& rt = *impl_;
  owned_fd fd(native_socket);
  if (!rt.running.load() || rt.stopping.load()) return;  // closed by `fd`
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int type = 0;
  socklen_t type_len = sizeof type;
  if (::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) ||
      ::getsockopt(fd.fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM) {
    rt.options.log.warn("closing an adopted socket that is not a TCP connection");
    return;
  }
  const auto protocol = addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  rt.live.fetch_add(1);
  auto& t = rt.pick_thread();
  asio::post(t.ctx, [&t, protocol, fd = std::move(fd)]() mutable {
    socket_type s(t.ctx);
    error_code ec;
    s.assign(protocol, fd.fd, ec);
    if (ec) return t.rt.closed_one();  // `fd` closes it
    fd.release();
    t.open(std::move(s), clock::now());
  });
}

}  // namespace tern::net
