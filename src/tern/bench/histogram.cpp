#include "tern/bench/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tern::bench {

// Values below 2^(sub_bits+1) have a bucket each; above, each power of two
// is split into 2^sub_bits buckets.
std::size_t histogram::index(std::uint64_t v) noexcept {
  constexpr std::uint64_t exact = std::uint64_t{2} << sub_bits;
  if (v < exact) return static_cast<std::size_t>(v);
  const auto msb = static_cast<unsigned>(std::bit_width(v) - 1);
  const unsigned e = msb - sub_bits;
  const std::uint64_t m = v >> e;  // in [2^sub_bits, 2^(sub_bits+1))
  return static_cast<std::size_t>(exact + ((e - 1u) << sub_bits) + (m - (std::uint64_t{1} << sub_bits)));
}

std::uint64_t histogram::lowest(std::size_t i) noexcept {
  constexpr std::size_t exact = std::size_t{2} << sub_bits;
  if (i < exact) return i;
  const std::size_t j = i - exact;
  const auto e = static_cast<unsigned>((j >> sub_bits) + 1);
  const std::uint64_t m = (j & ((std::size_t{1} << sub_bits) - 1)) + (std::uint64_t{1} << sub_bits);
  return m << e;
}

std::uint64_t histogram::highest(std::size_t i) noexcept {
  constexpr std::size_t exact = std::size_t{2} << sub_bits;
  if (i < exact) return i;
  const auto e = static_cast<unsigned>(((i - exact) >> sub_bits) + 1);
  return lowest(i) + ((std::uint64_t{1} << e) - 1);
}

void histogram::merge(const histogram& o) noexcept {
  for (std::size_t i = 0; i < buckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  max_ = std::max(max_, o.max_);
  min_ = std::min(min_, o.min_);
}

std::uint64_t histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  const double exact_rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(count_));
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(exact_rank));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t mid = lowest(i) + (highest(i) - lowest(i)) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace tern::bench
