#include "tern/bench/sequence.hpp"

#include <algorithm>
#include <bit>

namespace tern::bench {

sequence_tracker::arrival sequence_tracker::record(std::uint64_t seq) {
  const auto word = static_cast<std::size_t>(seq >> 6);
  if (word >= bits_.size()) bits_.resize(std::max(word + 1, bits_.size() * 2), 0);
  const std::uint64_t bit = std::uint64_t{1} << (seq & 63u);
  ++received_;
  if (bits_[word] & bit) {
    ++duplicates_;
    return arrival::duplicate;
  }
  bits_[word] |= bit;
  if (seq < highest_plus_one_) {
    ++reordered_;
    return arrival::reordered;
  }
  highest_plus_one_ = seq + 1;
  return arrival::in_order;
}

merged_sequence merge(std::span<const sequence_tracker* const> members) {
  merged_sequence m;
  std::size_t words = 0;
  for (const auto* t : members) {
    m.received += t->received();
    m.reordered += t->reordered();
    words = std::max(words, t->bits().size());
  }
  for (std::size_t w = 0; w < words; ++w) {
    std::uint64_t any = 0;
    for (const auto* t : members)
      if (w < t->bits().size()) any |= t->bits()[w];
    m.distinct += static_cast<std::uint64_t>(std::popcount(any));
  }
  m.duplicates = m.received - m.distinct;
  return m;
}

}  // namespace tern::bench
