// The epoll backend of tern::net::reactor. A turn is one epoll_wait (its
// timeout is the handler's next deadline), the events it returned, the
// posted work, then the handler's end_turn. No Asio here: Asio's io_context
// around the epoll set cost two more system calls and a dispatch per turn,
// on the path of every message.
#include "tern/net/reactor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>

namespace tern::net {

namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

std::uint32_t epoll_bits(watch_mode m) {
  switch (m) {
    case watch_mode::stream:
      return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    case watch_mode::readable:
      return EPOLLIN;
    case watch_mode::readable_writable:
      return EPOLLIN | EPOLLOUT;
    case watch_mode::paused:
      break;
  }
  return 0;
}

std::uint32_t ready_bits(std::uint32_t e) {
  std::uint32_t r = 0;
  if (e & EPOLLIN) r |= ready::readable;
  if (e & EPOLLOUT) r |= ready::writable;
  if (e & EPOLLRDHUP) r |= ready::hung_up;
  if (e & (EPOLLERR | EPOLLHUP)) r |= ready::failed;
  return r;
}

// Until `next`, in whole milliseconds rounded up (waking before the deadline
// would only turn again); -1: no deadline.
int timeout_ms(time_point next) {
  if (next == time_point::max()) return -1;
  const auto now = clock::now();
  if (next <= now) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
}

}  // namespace

struct reactor::events {
  std::vector<epoll_event> list;
};

reactor::reactor(std::size_t events_per_wait)
    : events_(std::make_unique<events>(events{std::vector<epoll_event>(std::clamp<std::size_t>(events_per_wait, 1, 4096))})) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(last_error(), "epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    const auto ec = last_error();
    ::close(epoll_fd_);
    throw std::system_error(ec, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = reserved_token;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    const auto ec = last_error();
    ::close(wake_fd_);
    ::close(epoll_fd_);
    throw std::system_error(ec, "epoll_ctl");
  }
}

reactor::~reactor() {
  drop_posts();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

bool reactor::watch(int fd, std::uint64_t token, watch_mode m) {
  epoll_event ev{};
  ev.events = epoll_bits(m);
  ev.data.u64 = token;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool reactor::rewatch(int fd, std::uint64_t token, watch_mode m) {
  epoll_event ev{};
  ev.events = epoll_bits(m);
  ev.data.u64 = token;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void reactor::unwatch(int fd) { ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void reactor::turn(handler& h) {
  std::unique_lock turn(turn_mutex_);
  const int timeout = timeout_ms(h.next_deadline());
  turn.unlock();
  auto& list = events_->list;
  const int n = ::epoll_wait(epoll_fd_, list.data(), static_cast<int>(list.size()), timeout);
  if (n < 0 && errno != EINTR) throw std::system_error(last_error(), "epoll_wait");
  turn.lock();
  const auto now = clock::now();
  for (int i = 0; i < n; ++i) {
    const auto& e = list[static_cast<std::size_t>(i)];
    if (e.data.u64 == reserved_token)
      run_posts();
    else
      h.on_ready(e.data.u64, ready_bits(e.events), now);
  }
  h.end_turn(now);
}

void reactor::post(task t) {
  bool first = false;
  {
    std::lock_guard lock(posts_mutex_);
    first = posts_.empty();
    posts_.push_back(std::move(t));
  }
  // Once per batch: the loop takes the whole queue when it wakes.
  if (first) wake();
}

void reactor::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void reactor::quit() {
  quit_.store(true, std::memory_order_release);
  post(task([] {}));  // wakes it
}

std::unique_lock<std::mutex> reactor::borrow_if_idle() {
  std::unique_lock turn(turn_mutex_, std::try_to_lock);
  if (!turn.owns_lock()) return turn;
  // Work queued earlier goes first: it is the loop's to run.
  std::lock_guard lock(posts_mutex_);
  if (!posts_.empty()) turn.unlock();
  return turn;
}

void reactor::drop_posts() {
  running_posts_.clear();
  std::lock_guard lock(posts_mutex_);
  posts_.clear();
}

void reactor::run_posts() {
  // Read first: a post after the read writes again, so none is missed.
  std::uint64_t count = 0;
  [[maybe_unused]] const auto r = ::read(wake_fd_, &count, sizeof count);
  {
    std::lock_guard lock(posts_mutex_);
    std::swap(posts_, running_posts_);
  }
  for (auto& t : running_posts_) t();
  running_posts_.clear();
}

}  // namespace tern::net
