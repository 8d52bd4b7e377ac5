// tern/client/seq_ring.hpp (internal to the client): values kept under
// keys handed out in increasing order (publish tags, cookies), each taken
// once, mostly in the same order: a deque indexed by key - base, whose
// front goes as soon as it is taken. No allocation per value (the deque's
// blocks are reused as it slides) and no hashing, where a hash map of
// 100,000 publishes in flight costs a cache miss per lookup.
//
//   seq_ring<std::uint64_t> r;    // T{} means "nothing there"
//   r.put(7, cookie);             // keys never below an earlier put's
//   if (auto c = r.take(7)) ...;  // once; an unknown key: nullopt
//
// A key below the base (never, with keys from one counter) still works,
// kept apart in a small map. Thread safety: none.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>

namespace tern::client_detail {

template <class T>
class seq_ring {
 public:
  void put(std::uint64_t key, T v) {
    if (ring_.empty()) base_ = key;
    if (key < base_) {
      apart_[key] = std::move(v);
      return;
    }
    const auto at = key - base_;
    if (at >= ring_.size()) ring_.resize(at + 1);
    ring_[at] = std::move(v);
  }

  std::optional<T> take(std::uint64_t key) {
    if (key < base_ || key - base_ >= ring_.size()) {
      auto it = apart_.find(key);
      if (it == apart_.end()) return std::nullopt;
      auto v = std::move(it->second);
      apart_.erase(it);
      return v;
    }
    auto& slot = ring_[key - base_];
    if (slot == T{}) return std::nullopt;
    std::optional<T> v(std::exchange(slot, T{}));
    while (!ring_.empty() && ring_.front() == T{}) {
      ring_.pop_front();
      ++base_;
    }
    return v;
  }

  // Every value still kept (the ring's in key order, then the others).
  template <class F>
  void for_each(F f) {
    for (auto& v : ring_)
      if (v != T{}) f(v);
    for (auto& [k, v] : apart_) f(v);
  }
  void clear() {
    ring_.clear();
    apart_.clear();
  }

 private:
  std::deque<T> ring_;
  std::uint64_t base_ = 0;
  std::map<std::uint64_t, T> apart_;
};

}  // namespace tern::client_detail
