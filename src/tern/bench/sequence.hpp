// tern/bench/sequence.hpp: what one receiver saw of one publisher's stream of
// numbered messages: how many arrived, which numbers (a bitmap, one bit per
// message), duplicates and messages that arrived after a higher number.
//
//   tern::bench::sequence_tracker t;
//   switch (t.record(seq)) { ... }         // in_order, reordered or duplicate
//   auto lost = sent - t.distinct();
//   auto group = tern::bench::merge({&a, &b});  // members of a $share group
//
// Thread safety: none; one tracker per connection and stream.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tern::bench {

class sequence_tracker {
 public:
  enum class arrival : std::uint8_t { in_order, reordered, duplicate };

  arrival record(std::uint64_t seq);

  std::uint64_t received() const noexcept { return received_; }  // duplicates included
  std::uint64_t distinct() const noexcept { return received_ - duplicates_; }
  std::uint64_t duplicates() const noexcept { return duplicates_; }
  std::uint64_t reordered() const noexcept { return reordered_; }
  // One more than the highest number seen; 0 before any.
  std::uint64_t highest_plus_one() const noexcept { return highest_plus_one_; }
  const std::vector<std::uint64_t>& bits() const noexcept { return bits_; }

 private:
  std::vector<std::uint64_t> bits_;
  std::uint64_t received_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t reordered_ = 0;
  std::uint64_t highest_plus_one_ = 0;
};

// The numbers seen by several receivers that stand for one (the members of a
// shared subscription): distinct numbers seen by any, and every copy beyond
// the first counted as a duplicate; reordering is counted per member.
struct merged_sequence {
  std::uint64_t received = 0;
  std::uint64_t distinct = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t reordered = 0;
};
merged_sequence merge(std::span<const sequence_tracker* const> members);

}  // namespace tern::bench
