// tern/bench/stamp.hpp: the 20 bytes at the front of every benchmark
// payload: which publisher sent it, its sequence number in that publisher's
// stream, and when it was sent (steady_clock nanoseconds). The rest of the
// payload is zeros.
//
//   std::byte payload[64]{};
//   tern::bench::write_stamp(payload, {.stream = 3, .seq = 41, .sent_ns = now});
//   auto s = tern::bench::read_stamp(payload_view);   // nullopt when too short
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "tern/core/bytes.hpp"

namespace tern::bench {

struct stamp {
  std::uint32_t stream = 0;
  std::uint64_t seq = 0;
  std::uint64_t sent_ns = 0;
};

// Bytes of the stamp: stream (4), seq (8), sent_ns (8), little-endian.
inline constexpr std::size_t stamp_size = 20;

namespace detail {
template <class T>
inline void put_le(std::byte* at, T v) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i) at[i] = static_cast<std::byte>((v >> (8 * i)) & 0xFFu);
}
template <class T>
inline T get_le(const std::byte* at) noexcept {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<T>(at[i]) << (8 * i));
  return v;
}
}  // namespace detail

// Writes `s` at `at`, which has room for stamp_size bytes.
inline void write_stamp(std::byte* at, const stamp& s) noexcept {
  detail::put_le<std::uint32_t>(at, s.stream);
  detail::put_le<std::uint64_t>(at + 4, s.seq);
  detail::put_le<std::uint64_t>(at + 12, s.sent_ns);
}

// The stamp at the front of `payload`, or nullopt if it is too short.
inline std::optional<stamp> read_stamp(bytes_view payload) noexcept {
  if (payload.size() < stamp_size) return std::nullopt;
  const std::byte* p = payload.data();
  return stamp{detail::get_le<std::uint32_t>(p), detail::get_le<std::uint64_t>(p + 4),
               detail::get_le<std::uint64_t>(p + 12)};
}

}  // namespace tern::bench
