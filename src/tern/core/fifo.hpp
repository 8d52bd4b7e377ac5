// tern/core/fifo.hpp: a first-in first-out list of small values that holds
// no memory while empty (a std::deque allocates ~600 bytes even then): a
// vector and the index of its front, compacted once the taken part is the
// larger half, so that a list fed and drained at the same pace stays small.
//
//   tern::fifo<std::uint16_t> ids;
//   ids.push_back(7); ids.push_back(9);
//   ids.front();      // 7
//   ids.pop_front();  // frees its memory once empty
//   ids.add(8);       // in order (ascending lists): 8, 9
//
// Thread safety: none.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tern {

template <class T>
class fifo {
 public:
  bool empty() const noexcept { return head_ == v_.size(); }
  std::size_t size() const noexcept { return v_.size() - head_; }
  const T& front() const noexcept { return v_[head_]; }
  void pop_front() noexcept {
    if (++head_ == v_.size()) {
      clear();
    } else if (head_ >= 64 && head_ * 2 >= v_.size()) {
      v_.erase(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void push_back(const T& x) { v_.push_back(x); }
  // Adds `x` in order, for a list kept ascending.
  void add(const T& x) {
    if (empty() || v_.back() < x) return v_.push_back(x);
    v_.insert(std::lower_bound(v_.begin() + static_cast<std::ptrdiff_t>(head_), v_.end(), x), x);
  }
  // Removes the first `x`, if any.
  void erase(const T& x) noexcept {
    auto it = std::find(v_.begin() + static_cast<std::ptrdiff_t>(head_), v_.end(), x);
    if (it != v_.end()) v_.erase(it);
    if (empty()) clear();
  }
  void clear() noexcept {
    std::vector<T>().swap(v_);
    head_ = 0;
  }

 private:
  std::vector<T> v_;
  std::size_t head_ = 0;
};

}  // namespace tern
