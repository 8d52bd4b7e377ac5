#include "tern/client/offline_queue.hpp"

#include <utility>

namespace tern {

offline_queue::push_result offline_queue::push(entry e) {
  push_result r;
  const auto size = cost(e.message);
  if (options_.max_messages == 0 || size > options_.max_bytes) return r;
  auto fits = [&] { return entries_.size() < options_.max_messages && bytes_ + size <= options_.max_bytes; };
  if (!fits()) {
    if (options_.on_full == offline_queue_options::overflow::refuse) return r;
    while (!fits()) r.dropped.push_back(pop_front().tag);
  }
  bytes_ += size;
  entries_.push_back(std::move(e));
  r.accepted = true;
  return r;
}

void offline_queue::push_front(entry e) {
  bytes_ += cost(e.message);
  entries_.push_front(std::move(e));
}

offline_queue::entry offline_queue::pop_front() {
  auto e = std::move(entries_.front());
  entries_.pop_front();
  bytes_ -= cost(e.message);
  return e;
}

std::deque<offline_queue::entry> offline_queue::take_all() {
  bytes_ = 0;
  return std::exchange(entries_, {});
}

}  // namespace tern
