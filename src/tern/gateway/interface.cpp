#include "tern/gateway/interface.hpp"

#include <utility>

namespace tern::gateway {

bool message_queue::push(message m) {
  std::function<void()> notify;
  {
    std::unique_lock lock(mutex_);
    if (capacity_ > 0 && policy_ == when_full::wait)
      room_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    if (closed_) return false;
    if (capacity_ > 0 && items_.size() >= capacity_) {
      items_.pop_front();
      ++dropped_;
    }
    items_.push_back(std::move(m));
    notify = on_push_;
  }
  ready_.notify_one();
  if (notify) notify();
  return true;
}

// The oldest message, if any; wakes a push() waiting for room.
std::optional<message> message_queue::take(std::unique_lock<std::mutex>& lock) {
  if (items_.empty()) return std::nullopt;
  message m = std::move(items_.front());
  items_.pop_front();
  lock.unlock();
  if (policy_ == when_full::wait) room_.notify_one();
  return m;
}

std::optional<message> message_queue::pop() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return !items_.empty() || closed_; });
  return take(lock);
}

std::optional<message> message_queue::pop_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
  return take(lock);
}

std::optional<message> message_queue::try_pop() {
  std::unique_lock lock(mutex_);
  return take(lock);
}

void message_queue::close() {
  std::function<void()> notify;
  {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    notify = on_push_;
  }
  ready_.notify_all();
  room_.notify_all();
  if (notify) notify();
}

void message_queue::reopen() {
  const std::lock_guard lock(mutex_);
  closed_ = false;
}

bool message_queue::closed() const {
  const std::lock_guard lock(mutex_);
  return closed_;
}

std::size_t message_queue::size() const {
  const std::lock_guard lock(mutex_);
  return items_.size();
}

std::size_t message_queue::dropped() const {
  const std::lock_guard lock(mutex_);
  return dropped_;
}

void message_queue::set_on_push(std::function<void()> f) {
  const std::lock_guard lock(mutex_);
  on_push_ = std::move(f);
}

}  // namespace tern::gateway
