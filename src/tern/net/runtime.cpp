// tern::net::runtime (tern/net/runtime.hpp): the io threads' start and stop,
// the sockets handed in from outside. The rooms it is built from:
// - reactor.hpp: one event loop per io thread (epoll, posted work, deadlines);
// - io_thread.hpp: an io thread's connections, its turn's flush, the
//   hand-over of batches between threads;
// - link.hpp: one connection (the engine's endpoint with its socket);
// - byte_filter.hpp: the byte layers under a link (TCP today);
// - listener.hpp: binding and accepting.
// A connection is a descriptor and a small object, and nothing else: no Asio
// socket with its reactor state, no pending operation, no timer, no read or
// write buffer while it is idle (with an Asio socket per connection those
// came to ~500 bytes per idle connection, more than everything the MQTT
// session needs). Asio resolves and binds the listeners at start, nothing more.
#include "tern/net/runtime.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>

#include "tern/net/io_thread.hpp"

namespace tern::net {

struct runtime::impl : detail::host {
  using host::host;
};

runtime::runtime(engine::engine& e, runtime_options o) : impl_(std::make_unique<impl>(e, std::move(o))) {
  for (std::size_t i = 0; i < e.workers(); ++i)
    impl_->threads.push_back(std::make_unique<detail::io_thread>(*impl_, i));
}

runtime::~runtime() {
  stop();
  impl_->threads.clear();  // each closes its connections, then its reactor goes
}

std::error_code runtime::start() {
  auto& rt = *impl_;
  if (rt.started) {
    rt.start_error = "start() was called before";
    return std::make_error_code(std::errc::operation_not_permitted);
  }
  rt.started = true;

  for (auto& l : rt.options.listeners) {
    if (!l.gate) continue;
    if (rt.gates.size() == 255) {
      rt.start_error = "more than 255 listeners with a connection limit or CONNECT check";
      return std::make_error_code(std::errc::invalid_argument);
    }
    rt.gates.push_back(l.gate.get());
    l.gate->slot = static_cast<std::uint8_t>(rt.gates.size());
  }
  std::error_code ec;
  auto listeners = detail::open_listeners(rt.options.listeners, ec, rt.start_error);
  if (ec) return ec;
  {
    std::lock_guard lock(rt.mutex);
    for (const auto& l : listeners) rt.bound.push_back(l->at);
  }
  // Spread over the threads, in turn.
  for (std::size_t i = 0; i < listeners.size(); ++i)
    rt.threads[i % rt.threads.size()]->add_listener(std::move(listeners[i]));

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
  for (auto& t : rt.threads) t->loop.post(task([s = t.get()] { s->begin_stop(); }));
  {
    std::unique_lock lock(rt.mutex);
    rt.all_closed.wait_for(lock, rt.options.stop_grace + std::chrono::milliseconds(500),
                           [&] { return rt.live.load() == 0; });
  }
  for (auto& t : rt.threads) t->loop.quit();
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
  detail::owned_fd fd(native_socket);
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
    rt.options.log.warn("closing an adopted socket: {}", std::error_code(errno, std::system_category()).message());
    return;
  }
  rt.live.fetch_add(1);
  auto& t = rt.pick_thread();
  t.loop.post(task([&t, fd = std::move(fd)]() mutable { t.open(fd.release(), clock::now()); }));
}

}  // namespace tern::net
