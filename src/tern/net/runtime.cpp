// The I/O side of tern::net::runtime: io threads, listeners and the
// per-connection driver of broker::endpoint. The only file of tern's broker
// that includes Asio's I/O objects (asio.cpp compiles Asio itself, once).
//
// Each io thread runs a loop of its own around one epoll set holding its
// connections' sockets, its listeners and an eventfd that other threads
// write when they post it work. A turn is one epoll_wait (its timeout is
// the thread's next deadline), the events it returned, the posted work, the
// deadlines due, then one flush. A connection is then a descriptor and a
// small object, and nothing else: no Asio socket with its reactor state, no
// pending operation, no timer, no read or write buffer while it is idle.
// (With an Asio socket per connection those came to ~500 bytes per idle
// connection, more than everything the MQTT session needs; and Asio's
// io_context around the epoll set cost two more system calls and a dispatch
// per turn, on the path of every message.) Asio resolves and binds the
// listeners at start, nothing more.
//
// How a connection runs, all on its io thread:
// - Sockets are registered once, edge-triggered, for input and output. On
//   input it reads into the thread's one 64 KiB buffer (reads never overlap
//   on a thread, so every connection of the thread shares it) until a short
//   read, at most a few full buffers before the thread's other connections
//   get a turn, feeding each piece to the endpoint.
// - Anything that may have produced output (input, endpoint::wake) marks the
//   connection dirty; one flush at the end of the turn first commits the
//   worker's changes to the store (one disk sync for the turn: group
//   commit, so acknowledgements leave only after their messages are
//   durable), then writes each dirty connection's output with gathered
//   sendmsg calls straight from the endpoint's write_buffer (a connection
//   written again within a tick keeps that buffer's memory, emptied, until
//   the tick, so one in use writes without allocating). What the socket
//   does not take moves to a pooled pending-write state and goes out when
//   the socket reports it can take more. The worker's outbox goes to the
//   other threads (before this thread's own writes), one post per target
//   thread; or, when the target thread is asleep with nothing queued, this
//   thread runs the target's delivery and flush itself under the target's
//   turn lock (run_for): at low load a message for a client of another
//   thread then costs no thread wakeup more than one for a client of this
//   thread. Only a thread's own turn deletes its closed connections.
// - Listeners are level-triggered: a turn accepts a few connections from
//   each, the next turn takes more.
// - Deadlines (connect timeout, keep alive, the linger of a closing
//   connection) are kept per thread as one 32-bit millisecond count per
//   connection beside the table of connections, swept by the thread's
//   100 ms tick: a deadline is honoured within ~100 ms, and costs 4 bytes.
// - Its CONNECT makes a connection move to the thread that owns its client
//   id: its socket leaves this thread's epoll set and joins the target's,
//   where worker::admit runs.
#include "tern/net/runtime.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

namespace tern::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

namespace {

// One per io thread, shared by its connections.
constexpr std::size_t read_buffer_size = 64 * 1024;
// Full buffers read from one connection before the others get a turn.
constexpr int full_reads_per_turn = 4;
// Events taken from the thread's epoll set at once.
constexpr int events_per_wait = 256;
// Connections accepted per readiness of a listener before others run.
constexpr int accepts_per_turn = 64;
// Pending-write states kept for reuse per thread.
constexpr std::size_t kept_write_states = 64;
// How often each thread sweeps its connections' deadlines and looks whether
// its worker has periodic work due.
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

std::error_code last_error() { return {errno, std::system_category()}; }

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

// Work posted to an io thread: a callable that may own what it carries
// (a descriptor, a connection), destroyed unrun if the runtime stops first.
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

// Tags of the epoll set's entries that are not connections (a connection's
// entry is its pointer, whose low bit is 0): the eventfd, and listener i.
constexpr std::uint64_t wake_tag = 1;
constexpr std::uint64_t listener_tag(std::size_t i) { return (static_cast<std::uint64_t>(i + 1) << 1) | 1u; }

// Writes iov[first, end) with as few system calls as the socket allows.
// Returns false when the socket would block (the rest waits), true when all
// was written; an error in `ec`.
bool write_iov(int fd, std::vector<iovec>& iov, std::size_t& first, std::error_code& ec) {
  while (first < iov.size()) {
    msghdr m{};
    m.msg_iov = iov.data() + first;
    m.msg_iovlen = std::min<std::size_t>(iov.size() - first, IOV_MAX);
    const ssize_t n = ::sendmsg(fd, &m, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      ec = last_error();
      return false;
    }
    auto left = static_cast<std::size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

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

// A listening socket, in its thread's epoll set (level-triggered).
struct listener {
  explicit listener(int f, std::string n) : fd(f), name(std::move(n)) {}
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener() { close(); }
  void close() {
    if (fd >= 0) ::close(std::exchange(fd, -1));  // leaves the epoll set
  }
  int fd;
  std::string name;
  // After a failed accept (out of descriptors, most likely) it leaves the
  // set until then, rather than keep the loop busy.
  time_point paused_until = time_point::max();
};

// Output the socket did not take at once: the bytes (the endpoint's
// write_buffer, moved out; the endpoint appends to a new one meanwhile),
// what is left of them, and until when a closing connection waits for them.
struct pending_write {
  write_buffer bytes;
  std::vector<iovec> iov;
  std::size_t first = 0;  // iov[first, end) is still to write
  time_point linger_until = time_point::max();
};

// One io thread: its loop, its engine worker, its connections.
struct thread_state {
  thread_state(host& h, std::size_t i);
  ~thread_state();

  host& rt;
  std::size_t index;
  broker::worker& worker;
  // The thread's sockets, listeners and wake_fd.
  int epoll_fd = -1;
  // Written by a thread that posts work here while the queue was empty.
  int wake_fd = -1;
  // Held while the thread's state is in use: by the thread for a turn
  // (not while it waits for events), or by another thread handing it a
  // batch (run_for).
  std::mutex turn_mutex;
  std::mutex posts_mutex;
  std::vector<task> posts;  // guarded by posts_mutex
  std::vector<task> running_posts;
  std::atomic<bool> quit{false};
  // Deadlines of the loop (time_point::max(): none).
  time_point tick_at = time_point::max();
  time_point grace_at = time_point::max();
  time_point paused_until = time_point::max();  // the earliest of the listeners'
  std::vector<std::unique_ptr<listener>> listeners;
  std::array<epoll_event, events_per_wait> events{};
  std::unique_ptr<std::byte[]> read_buffer = std::make_unique_for_overwrite<std::byte[]>(read_buffer_size);
  std::vector<iovec> iov;  // a write's gathered buffers, reused
  // Its connections, and beside each its next deadline in milliseconds
  // since `epoch` (0: none), swept by the tick.
  std::vector<tcp_link*> links;
  std::vector<std::uint32_t> dues;
  time_point epoch = clock::now();
  std::vector<tcp_link*> dirty;  // to service at the end of this turn
  std::vector<tcp_link*> spare;
  std::vector<tcp_link*> again;  // have more to read (read a few buffers, then let others run)
  std::vector<tcp_link*> again_spare;
  std::vector<tcp_link*> finished;  // closed this turn, deleted at its end
  // Written since the last tick (their outputs may keep memory until it).
  std::vector<tcp_link*> warm;
  bool warm_closed = false;  // one of them is finished: to take out before deleting
  // Pending writes of the connections that have one (few: a socket takes
  // most writes whole), and spare ones for reuse.
  boost::unordered_flat_map<const tcp_link*, std::unique_ptr<pending_write>> pending;
  std::vector<std::unique_ptr<pending_write>> spare_writes;
  bool flush_due = false;
  bool stopping = false;
  std::thread thread;

  // From any thread: runs `t` on this one (its next turn).
  void post(task t);
  void wake();
  void run();
  void turn();
  int wait_timeout() const;
  void run_posts();
  void on_deadlines(time_point now);
  std::uint32_t millis(time_point t) const {
    if (t <= epoch) return 1;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - epoch).count() + 1;
    return ms >= 0xFFFFFFFF ? 0xFFFFFFFE : static_cast<std::uint32_t>(ms);
  }
  std::unique_ptr<pending_write> take_write_state() {
    if (spare_writes.empty()) return std::make_unique<pending_write>();
    auto w = std::move(spare_writes.back());
    spare_writes.pop_back();
    return w;
  }
  void give_write_state(std::unique_ptr<pending_write> w) {
    w->bytes = write_buffer{};  // written: nothing to keep (the next write moves its own in)
    w->iov.clear();
    w->first = 0;
    w->linger_until = time_point::max();
    if (w->iov.capacity() > 1024) w->iov = {};
    if (spare_writes.size() < kept_write_states) spare_writes.push_back(std::move(w));
  }
  bool join_epoll(tcp_link& l);  // false (errno set) when the set refuses it
  void add_link(tcp_link& l);
  void remove_link(tcp_link& l);
  void sweep(time_point now);
  void touched();
  void mark(tcp_link& l);
  void flush(bool own);
  void hand_over_outbox(bool may_run);
  bool run_for(broker::batch& b);
  void open(int fd, time_point now);
  void arrive(tcp_link& l);
  void arm_tick(time_point now);
  void release_idle_outputs();
  void listen(std::size_t i, std::uint32_t events);
  void on_acceptable(std::size_t i, time_point now);
  void begin_stop();
};

// One TCP connection: a broker::endpoint with its descriptor. Owned by its
// thread (`links`); deleted at the end of the turn it closed in, so that
// pointers to it held during the turn stay valid.
class tcp_link final : public broker::endpoint {
 public:
  tcp_link(thread_state& home, int fd, time_point now) : endpoint(home.worker, now), home_(&home), fd_(fd) {}
  ~tcp_link() override {
    if (fd_ >= 0) ::close(fd_);
  }

  void wake() override { home_->mark(*this); }

  std::string peer_address() const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return {};
    tcp::endpoint e;
    if (len > e.capacity()) return {};
    std::memcpy(e.data(), &a, len);
    e.resize(len);
    return to_text(e);
  }

  // Waits for the CONNECT.
  void begin() {
    home_->mark(*this);  // arms the connect timeout
  }

  // The socket reported events (edge-triggered).
  void on_ready(std::uint32_t events, time_point now) {
    if (!open_) return;
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && writing_) continue_write(now);
    // The peer's FIN (or an error) may come in the same segment as its last
    // bytes: then no later edge reports it, and the read must go on past a
    // short read until recv() says so.
    if (open_ && (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))) peer_done_ = true;
    if (open_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) read(now);
  }

  // Reads until the socket is drained (a short read; until end of stream
  // when the peer has closed), at most a few full buffers before letting
  // the thread's other connections run.
  void read(time_point now) {
    auto& here = *home_;
    if (!open_ || move_to_ != 0) return;
    if (draining_) return drain(now);
    if (closing()) return;  // the endpoint reads no more; service() drains the socket
    std::byte* buffer = here.read_buffer.get();
    for (int i = 0; i < full_reads_per_turn; ++i) {
      const ssize_t n = ::recv(fd_, buffer, read_buffer_size, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return lost({last_error(), "reading failed"}, now);
      }
      if (n == 0) return ended(now);
      receive(bytes_view(buffer, static_cast<std::size_t>(n)), now);
      here.mark(*this);
      if (connect_pending()) {
        admit_or_move(now);
        if (move_to_ != 0) return;  // reads resume on the owning thread (arrive)
      }
      if (closing()) return;  // nothing more to read; service() drains the socket
      if (static_cast<std::size_t>(n) < read_buffer_size && !peer_done_) return;
    }
    if (!again_) {
      again_ = true;
      here.again.push_back(this);
    }
  }

  // End of a loop turn: move, write, keep the deadline, close when done.
  void service(time_point now) {
    if (!open_) return;
    auto& out = output();
    if (move_to_ != 0 && !writing_) return move_to(*home_->rt.threads[move_to_ - 1u]);
    if (writing_) {
      if (out.size() > max_pending_output)
        return lost({reason::quota_exceeded, "the peer does not read what it is sent"}, now);
    } else if (!out.empty()) {
      if (!write(now)) return;  // lost
    }
    if (closing()) {
      if (!writing_ && output().empty()) return begin_drain(now);
      if (auto* p = pending(); p && p->linger_until == time_point::max()) p->linger_until = now + close_linger;
    }
    keep_deadline();
  }

  // The endpoint closed and its last bytes (a DISCONNECT, an error CONNACK)
  // are written: the write side shuts (the peer reads them, then end of
  // stream), and what the peer still sends is read and discarded until it
  // closes too, or for close_linger at most. Closing at once would make the
  // kernel answer the peer's next bytes with a reset, which destroys our
  // last bytes before the peer reads them.
  void begin_drain(time_point now) {
    if (draining_) return;
    if (peer_done_ && !writing_) return finish(now);  // nothing more can come
    draining_ = true;
    ::shutdown(fd_, SHUT_WR);
    home_->dues[index_] = home_->millis(std::min(now + close_linger, home_->grace_at));
    drain(now);
  }

  // Reads and discards until the socket would block (a few full buffers at
  // most: a peer that keeps sending is closed by the deadline); closes at
  // the end of the stream.
  void drain(time_point now) {
    std::byte* buffer = home_->read_buffer.get();
    for (int i = 0; i < full_reads_per_turn;) {
      const ssize_t n = ::recv(fd_, buffer, read_buffer_size, 0);
      if (n > 0) {
        i += static_cast<std::size_t>(n) == read_buffer_size;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return finish(now);  // end of stream, or an error
    }
  }

  // The broker is stopping: a connection the engine did not disconnect (its
  // CONNECT not yet admitted) closes too.
  void stop(time_point now) {
    if (!open_) return;
    if (!closing()) transport_closed({reason::server_shutting_down, "the broker is stopping"}, now);
    home_->mark(*this);
  }

  // Its deadline passed (thread_state::sweep).
  void on_due(time_point now) {
    if (!open_) return;
    if (draining_) return finish(now);
    if (auto* p = pending(); p && now >= p->linger_until) return finish(now);
    if (auto t = next_timeout(); t && *t <= now) {
      on_timeout(now);
      home_->mark(*this);  // service keeps the next deadline
    } else {
      keep_deadline();
    }
  }

  // Closes the socket, written or not. The endpoint learns first, while the
  // socket is open (hooks may ask for the peer).
  void finish(time_point now) {
    if (!open_) return;
    auto& here = *home_;
    if (!closing()) transport_closed({reason::unspecified_error, "the connection was dropped"}, now);
    ::shutdown(fd_, SHUT_WR);
    // What the peer sent and nobody read would make close() send RST, which
    // may destroy our last bytes (a DISCONNECT) before the peer reads them.
    for (int i = 0; i < 4 && ::recv(fd_, here.read_buffer.get(), read_buffer_size, 0) > 0; ++i) {
    }
    ::close(std::exchange(fd_, -1));  // leaves the epoll set
    here.remove_link(*this);
    if (dirty_) std::erase(here.dirty, this);
    if (again_) std::erase(here.again, this);
    dirty_ = again_ = open_ = false;
    here.warm_closed = here.warm_closed || warm_;  // leaves `warm` before it is deleted
    if (writing_) here.give_write_state(take_pending());
    output() = write_buffer{};
    here.finished.push_back(this);
    here.rt.closed_one();
    here.touched();  // closing may have published a will
  }

 private:
  friend struct thread_state;

  // Its CONNECT arrived: admit it here when this thread owns the client id,
  // else move there at the end of the turn.
  void admit_or_move(time_point now) {
    const auto owner = home_->rt.engine.owner_of(*this);
    if (owner == home_->index) return home_->worker.admit(*this, now);
    move_to_ = static_cast<std::uint16_t>(owner + 1);
  }

  void move_to(thread_state& to) {
    auto& from = *home_;
    move_to_ = 0;
    ::epoll_ctl(from.epoll_fd, EPOLL_CTL_DEL, fd_, nullptr);
    from.remove_link(*this);
    if (std::exchange(warm_, false)) std::erase(from.warm, this);
    home_ = &to;
    // Carries the link; the runtime may stop before it runs.
    struct carried {
      tcp_link* l;
      explicit carried(tcp_link* x) : l(x) {}
      carried(carried&& o) noexcept : l(std::exchange(o.l, nullptr)) {}
      carried& operator=(carried&&) = delete;
      ~carried() {
        if (!l) return;
        auto& rt = l->home_->rt;
        delete l;
        rt.closed_one();
      }
    };
    to.post(task([&to, c = carried(this)]() mutable { to.arrive(*std::exchange(c.l, nullptr)); }));
  }

  // Writes the endpoint's output; what the socket does not take waits in a
  // pending write. False when the connection was lost.
  bool write(time_point now) {
    auto& here = *home_;
    auto& out = output();
    auto& iov = here.iov;
    iov.clear();
    for (auto b : out.buffers())
      iov.push_back({const_cast<std::byte*>(b.data()), b.size()});  // sendmsg does not write through it
    std::size_t first = 0;
    std::error_code ec;
    if (write_iov(fd_, iov, first, ec)) {
      // All written. The first write since the tick gives the memory back
      // (an idle connection keeps none); a second one keeps it, emptied,
      // for the next: a connection in use writes without allocating, and
      // the tick gives back what it kept (release_idle_outputs).
      if (warm_) {
        out.clear();
      } else {
        out = write_buffer{};
        warm_ = true;
        here.warm.push_back(this);
      }
      return true;
    }
    if (ec) {
      lost({ec, "writing failed"}, now);
      return false;
    }
    // The bytes keep their addresses when the buffer moves (they are on the heap).
    auto w = here.take_write_state();
    w->bytes = std::move(out);
    out = write_buffer{};
    w->iov.assign(iov.begin() + static_cast<std::ptrdiff_t>(first), iov.end());
    here.pending.emplace(this, std::move(w));
    writing_ = true;
    return true;
  }

  // The socket can take more of a pending write.
  void continue_write(time_point now) {
    std::error_code ec;
    auto& p = *pending();
    if (!write_iov(fd_, p.iov, p.first, ec)) {
      if (ec) lost({ec, "writing failed"}, now);
      return;
    }
    home_->give_write_state(take_pending());
    // What the endpoint added since (if anything) goes after the next commit.
    home_->mark(*this);
  }

  // Keeps this connection's deadline in the thread's table.
  void keep_deadline() {
    if (draining_) return;  // begin_drain set it
    auto t = next_timeout();
    if (auto* p = pending(); p && p->linger_until != time_point::max() && (!t || p->linger_until < *t))
      t = p->linger_until;
    home_->dues[index_] = t ? home_->millis(*t) : 0;
  }

  // The peer closed its side. It may still read (a half-close): what the
  // endpoint has to say (the CONNACK of a CONNECT that came with the end of
  // the stream) is written at the end of the turn, then the socket closes.
  void ended(time_point now) {
    peer_done_ = true;
    transport_closed({error_code(asio::error::eof), "the peer closed the connection"}, now);
    home_->mark(*this);
  }

  // The transport failed: nothing more can be written.
  void lost(const error& why, time_point now) {
    if (!open_) return;
    transport_closed(why, now);
    output().clear();
    finish(now);
  }

  // Output the socket did not take yet (kept by the thread: most
  // connections never have any).
  pending_write* pending() const { return writing_ ? home_->pending.find(this)->second.get() : nullptr; }
  std::unique_ptr<pending_write> take_pending() {
    auto it = home_->pending.find(this);
    auto w = std::move(it->second);
    home_->pending.erase(it);
    writing_ = false;
    return w;
  }

  // 24 bytes after the endpoint's (index_ first: it fits in the endpoint's tail padding).
  std::uint32_t index_ = 0;  // in home_->links
  thread_state* home_;
  int fd_;
  std::uint16_t move_to_ = 0;  // 1 + the thread to move to after this turn; 0: none
  bool dirty_ = false;         // in home_->dirty
  bool again_ = false;         // in home_->again
  bool writing_ = false;       // has a pending write (home_->pending)
  bool open_ = true;           // not finished
  bool warm_ = false;          // in home_->warm: written since the last tick
  bool peer_done_ = false;     // the peer closed (or the socket failed): read to the end
  bool draining_ = false;      // closing: written, write side shut, discarding input (begin_drain)
};

// An idle connection is this object and 12 bytes in its thread's tables.
static_assert(sizeof(tcp_link) <= sizeof(broker::endpoint) + 24);

thread_state::thread_state(host& h, std::size_t i) : rt(h), index(i), worker(h.engine.worker_at(i)) {
  epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) throw std::system_error(last_error(), "epoll_create1");
  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const auto ec = last_error();
    ::close(epoll_fd);
    throw std::system_error(ec, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
    const auto ec = last_error();
    ::close(wake_fd);
    ::close(epoll_fd);
    throw std::system_error(ec, "epoll_ctl");
  }
}

thread_state::~thread_state() {
  for (auto* l : finished) delete l;
  for (auto* l : links) delete l;
  listeners.clear();
  running_posts.clear();
  posts.clear();  // what carried a connection or a descriptor closes it
  ::close(wake_fd);
  ::close(epoll_fd);
}

void thread_state::post(task t) {
  bool first = false;
  {
    std::lock_guard lock(posts_mutex);
    first = posts.empty();
    posts.push_back(std::move(t));
  }
  // Once per batch: the thread takes the whole queue when it wakes.
  if (first) wake();
}

void thread_state::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd, &one, sizeof one);
}

void thread_state::run() {
  while (!quit.load(std::memory_order_acquire)) {
    try {
      turn();
    } catch (const std::exception& e) {
      rt.options.log.error("io thread {}: {}", index, e.what());
    }
  }
}

// One turn: wait for the first event or deadline, handle what is ready,
// then flush once.
void thread_state::turn() {
  std::unique_lock turn(turn_mutex);
  const int timeout = wait_timeout();
  turn.unlock();
  const int n = ::epoll_wait(epoll_fd, events.data(), events_per_wait, timeout);
  if (n < 0 && errno != EINTR) throw std::system_error(last_error(), "epoll_wait");
  turn.lock();
  const auto now = clock::now();
  for (int i = 0; i < n; ++i) {
    const auto& e = events[static_cast<std::size_t>(i)];
    if ((e.data.u64 & 1u) == 0) {
      static_cast<tcp_link*>(e.data.ptr)->on_ready(e.events, now);
      flush_due = true;
    } else if (e.data.u64 == wake_tag) {
      run_posts();
    } else {
      on_acceptable(static_cast<std::size_t>(e.data.u64 >> 1) - 1, now);
    }
  }
  on_deadlines(now);
  if (flush_due) flush(true);
}

// Until the next deadline; 0 when this turn left work for the next.
int thread_state::wait_timeout() const {
  if (flush_due) return 0;
  const auto next = std::min({tick_at, grace_at, paused_until});
  if (next == time_point::max()) return -1;
  const auto now = clock::now();
  if (next <= now) return 0;
  // Rounded up: waking before the deadline would only turn again.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
}

void thread_state::run_posts() {
  // Read first: a post after the read writes again, so none is missed.
  std::uint64_t count = 0;
  [[maybe_unused]] const auto r = ::read(wake_fd, &count, sizeof count);
  {
    std::lock_guard lock(posts_mutex);
    std::swap(posts, running_posts);
  }
  for (auto& t : running_posts) t();
  running_posts.clear();
}

void thread_state::on_deadlines(time_point now) {
  if (now >= tick_at) {
    if (auto t = worker.next_tick(); t && *t <= now) {
      worker.tick(now);
      touched();
    }
    sweep(now);
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
        listen(i, EPOLLIN);
      } else {
        paused_until = std::min(paused_until, l.paused_until);
      }
    }
  }
  if (now >= grace_at) {
    grace_at = time_point::max();
    for (auto* l : std::vector<tcp_link*>(links)) l->finish(now);
    touched();
  }
}

// Registered once, edge-triggered, for input and output: never modified.
bool thread_state::join_epoll(tcp_link& l) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &l;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, l.fd_, &ev) == 0;
}

void thread_state::add_link(tcp_link& l) {
  l.index_ = static_cast<std::uint32_t>(links.size());
  links.push_back(&l);
  dues.push_back(0);
}

void thread_state::remove_link(tcp_link& l) {
  const auto i = l.index_;
  links[i] = links.back();
  dues[i] = dues.back();
  links[i]->index_ = i;
  links.pop_back();
  dues.pop_back();
  if (links.empty() && links.capacity() > 1024) {
    links = {};
    dues = {};
  }
}

void thread_state::sweep(time_point now) {
  std::uint32_t at = millis(now);
  // Every ~24 days the deadlines are counted from a later epoch, so that
  // 32 bits always suffice (deadlines are hours ahead at most).
  if (at > 0x80000000u) {
    const std::uint32_t shift = at - 1;
    epoch += std::chrono::milliseconds(shift);
    for (auto& d : dues)
      if (d != 0) d = d > shift ? d - shift : 1;
    at = millis(now);
  }
  // on_due may close a connection, which moves the last one into its place.
  for (std::size_t i = 0; i < links.size();) {
    const auto due = dues[i];
    auto* l = links[i];
    if (due != 0 && due <= at) {
      dues[i] = 0;
      l->on_due(now);
    }
    if (i < links.size() && links[i] == l) ++i;
  }
}

// The outputs kept since the last tick go back to the heap when empty: a
// connection that stopped writing holds no write memory after one tick.
void thread_state::release_idle_outputs() {
  for (auto* l : warm) {
    l->warm_ = false;
    if (l->open_ && !l->writing_ && l->output().empty()) l->output() = write_buffer{};
  }
  warm.clear();
}

void thread_state::touched() { flush_due = true; }

void thread_state::mark(tcp_link& l) {
  if (!l.dirty_) {
    l.dirty_ = true;
    dirty.push_back(&l);
  }
  touched();
}

// `own`: on this thread's own turn (false: another thread runs it, see
// hand_over).
void thread_state::flush(bool own) {
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
  // they have a thread to wake (or to run, see hand_over) on their way.
  hand_over_outbox(own);
  now = clock::now();
  std::swap(dirty, spare);
  for (auto* l : spare) {
    l->dirty_ = false;
    l->service(now);
  }
  spare.clear();
  hand_over_outbox(own);  // a will published by a connection that closed above
  // Only the thread's own turn deletes: an epoll_wait of this thread that
  // runs meanwhile may return an event for a connection closed by another.
  if (own) {
    if (std::exchange(warm_closed, false)) std::erase_if(warm, [](const tcp_link* l) { return !l->open_; });
    for (auto* l : finished) delete l;
    finished.clear();
  }
  if (!again.empty()) touched();
}

void thread_state::hand_over_outbox(bool may_run) {
  worker.hand_over_outbox([&](std::size_t target, broker::batch& b) {
    auto& t = *rt.threads[target];
    if (may_run && t.run_for(b)) return;
    t.post(task([&t, b = std::move(b)]() mutable {
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
bool thread_state::run_for(broker::batch& b) {
  std::unique_lock turn(turn_mutex, std::try_to_lock);
  if (!turn.owns_lock()) return false;
  {
    // Batches queued earlier go first: they are this thread's to run.
    std::lock_guard lock(posts_mutex);
    if (!posts.empty()) return false;
  }
  worker.deliver(std::move(b), clock::now());
  flush(false);
  // What the flush left (more to read, a close's will) is this thread's.
  if (flush_due) wake();
  return true;
}

void thread_state::open(int fd, time_point now) {
  owned_fd owned(fd);
  if (stopping) return rt.closed_one();
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto l = std::make_unique<tcp_link>(*this, owned.release(), now);
  if (!join_epoll(*l)) {
    rt.options.log.warn("adding a connection to the epoll set: {}", last_error().message());
    return rt.closed_one();  // `l` closes it
  }
  auto& link = *l.release();
  add_link(link);
  link.begin();
}

// On the new thread: the socket joins this thread's set, the endpoint is
// admitted by its worker.
void thread_state::arrive(tcp_link& l) {
  const auto now = clock::now();
  add_link(l);
  if (!join_epoll(l))
    return l.lost({last_error(), "the socket could not be moved to another thread"}, now);
  worker.admit(l, now);
  if (stopping) worker.shutdown(now);
  mark(l);
  l.read(now);  // the client may have sent more already
}

void thread_state::arm_tick(time_point now) {
  tick_at = now + tick_period;
  if (auto t = worker.next_tick(); t && *t < tick_at) tick_at = std::max(*t, now);
}

// Listener i's entry in the epoll set: EPOLLIN, or 0 while it pauses.
void thread_state::listen(std::size_t i, std::uint32_t events) {
  auto& l = *listeners[i];
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = listener_tag(i);
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, l.fd, &ev) != 0 && ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, l.fd, &ev) != 0)
    rt.options.log.error("listening on {}: {}", l.name, last_error().message());
}

// Takes what the listener has (a few at most: it is level-triggered, the
// next turn takes more), each to the next thread in turn.
void thread_state::on_acceptable(std::size_t listener_index, time_point now) {
  auto& l = *listeners[listener_index];
  if (stopping || l.fd < 0) return;
  for (int i = 0; i < accepts_per_turn; ++i) {
    const int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      rt.options.log.warn("accepting on {}: {}", l.name, last_error().message());
      // Out of descriptors, most likely: not in a busy loop.
      l.paused_until = now + accept_pause;
      paused_until = std::min(paused_until, l.paused_until);
      listen(listener_index, 0);
      return;
    }
    owned_fd owned(fd);
    const auto limit = rt.options.max_connections;
    if (limit != 0 && rt.live.load() >= limit) continue;  // closed by `owned`
    rt.live.fetch_add(1);
    auto& target = rt.pick_thread();
    if (&target == this) {
      open(owned.release(), now);
    } else {
      target.post(task([&target, f = std::move(owned)]() mutable { target.open(f.release(), clock::now()); }));
    }
  }
}

void thread_state::begin_stop() {
  stopping = true;
  for (auto& l : listeners) l->close();
  tick_at = paused_until = time_point::max();
  const auto now = clock::now();
  worker.shutdown(now);
  for (auto* l : std::vector<tcp_link*>(links)) l->stop(now);
  touched();
  grace_at = now + rt.options.stop_grace;
}

}  // namespace detail

// ---------------------------------------------------------------- runtime

struct runtime::impl : detail::host {
  using host::host;
};

runtime::runtime(broker::engine& e, runtime_options o)
    : impl_(std::make_unique<impl>(e, std::move(o))) {
  for (std::size_t i = 0; i < e.workers(); ++i)
    impl_->threads.push_back(std::make_unique<detail::thread_state>(*impl_, i));
}

runtime::~runtime() {
  stop();
  impl_->threads.clear();  // each closes its connections, then its io_context goes
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

std::error_code runtime::start() {
  auto& rt = *impl_;
  if (rt.started) {
    rt.start_error = "start() was called before";
    return std::make_error_code(std::errc::operation_not_permitted);
  }
  rt.started = true;

  // Resolve everything first: an IPv6 wildcard shares its port with IPv4
  // listeners only when it is IPv6-only.
  asio::io_context setup;  // for resolving and binding only
  std::vector<std::vector<tcp::endpoint>> endpoints;
  error_code ec;
  for (const auto& l : rt.options.listeners) {
    endpoints.push_back(resolve(setup, l, ec));
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
      tcp::acceptor a(setup);
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
      a.non_blocking(true, ec);  // accepted in batches until it would block
      if (ec) return fail("listen", at);
      const auto local = a.local_endpoint(ec);
      if (ec) return fail("listen", at);
      if (port == 0) port = local.port();
      {
        std::lock_guard lock(rt.mutex);
        rt.bound.push_back({local.address().to_string(), local.port()});
      }
      home.listeners.push_back(std::make_unique<detail::listener>(a.release(), to_text(local)));
      home.listen(home.listeners.size() - 1, EPOLLIN);
    }
  }

  for (auto& t : rt.threads) {
    t->arm_tick(clock::now());
    t->thread = std::thread([s = t.get()] { s->run(); });
    rt.thread_ids.push_back(t->thread.get_id());
  }
  rt.running = true;
  return {};
}

const std::string& runtime::start_error() const { return impl_->start_error; }

void runtime::stop() {
  auto& rt = *impl_;
  if (!rt.running.load()) return;
  const auto me = std::this_thread::get_id();
  if (std::find(rt.thread_ids.begin(), rt.thread_ids.end(), me) != rt.thread_ids.end())
    throw std::logic_error("tern::net::runtime::stop() called on one of its io threads");
  rt.stopping = true;
  for (auto& t : rt.threads) t->post(task([s = t.get()] { s->begin_stop(); }));
  {
    std::unique_lock lock(rt.mutex);
    rt.all_closed.wait_for(lock, rt.options.stop_grace + std::chrono::milliseconds(500),
                           [&] { return rt.live.load() == 0; });
  }
  for (auto& t : rt.threads) {
    t->quit.store(true, std::memory_order_release);
    t->post(task([] {}));  // wakes it
  }
  for (auto& t : rt.threads) t->thread.join();
  // What the last turns changed (sessions of closed connections) is kept.
  for (auto& t : rt.threads)
    if (auto r = t->worker.commit(); !r) rt.options.log.error("storage: {}", r.error().message);
  rt.running = false;
}

bool runtime::running() const { return impl_->running.load(); }

std::vector<bound_address> runtime::bound() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->bound;
}

std::size_t runtime::connections() const { return impl_->live.load(); }

void runtime::adopt(int native_socket) {
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
  const int flags = ::fcntl(fd.fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd.fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    rt.options.log.warn("closing an adopted socket: {}", last_error().message());
    return;
  }
  rt.live.fetch_add(1);
  auto& t = rt.pick_thread();
  t.post(task([&t, fd = std::move(fd)]() mutable { t.open(fd.release(), clock::now()); }));
}

}  // namespace tern::net
