// tern/bench/histogram.hpp: a latency histogram with bounded relative error
// (log-linear buckets, 64 per power of two: under 1.6 % error), fixed size,
// no allocation when recording. One per event loop; merged at the end.
//
//   tern::bench::histogram h;
//   h.record(latency_ns);
//   h.merge(other);
//   std::uint64_t p99 = h.percentile(99.0);   // nanoseconds
//
// Thread safety: none; one histogram per thread.
#pragma once

#include <array>
#include <cstdint>

namespace tern::bench {

class histogram {
 public:
  void record(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++count_;
    sum_ += v;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
  }
  void merge(const histogram& o) noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // The value at percentile `p` (0..100]: a value within the bucket holding
  // the ceil(p/100 * count)-th smallest sample; 0 when empty. Never above max().
  std::uint64_t percentile(double p) const noexcept;

  // Bucket of `v`, and the range a bucket covers (for tests).
  static std::size_t index(std::uint64_t v) noexcept;
  static std::uint64_t lowest(std::size_t index) noexcept;
  static std::uint64_t highest(std::size_t index) noexcept;

 private:
  static constexpr unsigned sub_bits = 6;                   // 64 buckets per octave
  static constexpr std::size_t buckets = (64 - sub_bits + 1) << sub_bits;

  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
};

}  // namespace tern::bench
