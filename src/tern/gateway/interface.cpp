#include "tern/gateway/interface.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace tern::gateway {

bool message_queue::push(message m) {
  std::function<void()> notify;
  {
    std::unique_lock lock(mutex_);
    if (capacity_ > 0 && policy_ == when_full::wait && items_.size() >= capacity_) {
      ++pushers_waiting_;
      room_.wait(lock, [&] { return items_.size() <= capacity_ - capacity_ / 4 - 1 || closed_; });
      --pushers_waiting_;
    }
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

// Unlocks; wakes the push()es waiting for room once there is (when_full::wait).
void message_queue::wake_pushers(std::unique_lock<std::mutex>& lock) {
  const bool wake = pushers_waiting_ > 0 && items_.size() <= capacity_ - capacity_ / 4 - 1;
  lock.unlock();
  if (wake) room_.notify_all();
}

// The oldest message, if any.
std::optional<message> message_queue::take(std::unique_lock<std::mutex>& lock) {
  if (items_.empty()) return std::nullopt;
  message m = std::move(items_.front());
  items_.pop_front();
  wake_pushers(lock);
  return m;
}

bool message_queue::pop_some(std::vector<message>& out, std::size_t max) {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return !items_.empty() || closed_; });
  if (items_.empty()) return false;
  const std::size_t n = std::min(max, items_.size());
  std::move(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(n), std::back_inserter(out));
  items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(n));
  wake_pushers(lock);
  return true;
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
