// tern/core/wire.hpp: MQTT's data representations (MQTT 5.0 section 1.5):
// two- and four-byte integers, variable byte integers, UTF-8 strings,
// binary data and UTF-8 string pairs, read from and written to bytes.
//
//   tern::wire::reader r(body);
//   auto topic = r.utf8();          // validated, views into body
//   if (!topic) return topic.error();
//
//   tern::wire::writer w(out);      // out has room for what is written
//   w.u16(packet_id);
//   w.utf8(topic);
//
// The reader bounds-checks every read and refuses a field that runs past the
// end as Malformed Packet. The writer does not check: the codec computes
// sizes first and writes into a buffer of exactly that size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "tern/core/bytes.hpp"
#include "tern/core/result.hpp"
#include "tern/core/utf8.hpp"
#include "tern/core/varint.hpp"

namespace tern::wire {

inline constexpr std::string_view truncated = "MQTT-1.5: a field runs past the end of the packet";

struct string_pair {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const string_pair&, const string_pair&) = default;
};

class reader {
 public:
  explicit reader(bytes_view in) noexcept : p_(in.data()), end_(in.data() + in.size()) {}

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  bool empty() const noexcept { return p_ == end_; }
  const std::byte* position() const noexcept { return p_; }

  result<std::uint8_t> u8() noexcept {
    if (remaining() < 1) return error{reason::malformed_packet, truncated};
    return static_cast<std::uint8_t>(*p_++);
  }
  result<std::uint16_t> u16() noexcept {
    if (remaining() < 2) return error{reason::malformed_packet, truncated};
    auto v = static_cast<std::uint16_t>((static_cast<unsigned>(p_[0]) << 8) | static_cast<unsigned>(p_[1]));
    p_ += 2;
    return v;
  }
  result<std::uint32_t> u32() noexcept {
    if (remaining() < 4) return error{reason::malformed_packet, truncated};
    std::uint32_t v = (static_cast<std::uint32_t>(p_[0]) << 24) | (static_cast<std::uint32_t>(p_[1]) << 16) |
                      (static_cast<std::uint32_t>(p_[2]) << 8) | static_cast<std::uint32_t>(p_[3]);
    p_ += 4;
    return v;
  }
  result<std::uint32_t> varint() noexcept {
    auto r = varint::decode({p_, remaining()});
    if (!r) return r.error();
    if (!*r) return error{reason::malformed_packet, truncated};
    p_ += (*r)->size;
    return (*r)->value;
  }
  // `n` raw bytes.
  result<bytes_view> bytes(std::size_t n) noexcept {
    if (remaining() < n) return error{reason::malformed_packet, truncated};
    bytes_view v{p_, n};
    p_ += n;
    return v;
  }
  // Binary Data: a two-byte length, then that many bytes.
  result<bytes_view> binary() noexcept {
    auto n = u16();
    if (!n) return n.error();
    return bytes(*n);
  }
  // UTF-8 Encoded String: a two-byte length, then validated UTF-8.
  result<std::string_view> utf8() noexcept {
    auto b = binary();
    if (!b) return b.error();
    auto s = as_chars(*b);
    if (auto e = utf8::validate(s)) return *e;
    return s;
  }
  // UTF-8 String Pair: two UTF-8 strings, name then value.
  result<string_pair> utf8_pair() noexcept {
    auto n = utf8();
    if (!n) return n.error();
    auto v = utf8();
    if (!v) return v.error();
    return string_pair{*n, *v};
  }

 private:
  const std::byte* p_;
  const std::byte* end_;
};

class writer {
 public:
  explicit writer(std::byte* out) noexcept : p_(out) {}

  std::byte* position() const noexcept { return p_; }

  void u8(std::uint8_t v) noexcept { *p_++ = std::byte{v}; }
  void u16(std::uint16_t v) noexcept {
    p_[0] = std::byte{static_cast<std::uint8_t>(v >> 8)};
    p_[1] = std::byte{static_cast<std::uint8_t>(v)};
    p_ += 2;
  }
  void u32(std::uint32_t v) noexcept {
    p_[0] = std::byte{static_cast<std::uint8_t>(v >> 24)};
    p_[1] = std::byte{static_cast<std::uint8_t>(v >> 16)};
    p_[2] = std::byte{static_cast<std::uint8_t>(v >> 8)};
    p_[3] = std::byte{static_cast<std::uint8_t>(v)};
    p_ += 4;
  }
  void varint(std::uint32_t v) noexcept { p_ += varint::encode(v, p_); }
  void bytes(bytes_view b) noexcept {
    if (!b.empty()) std::memcpy(p_, b.data(), b.size());
    p_ += b.size();
  }
  void binary(bytes_view b) noexcept {
    u16(static_cast<std::uint16_t>(b.size()));
    bytes(b);
  }
  void utf8(std::string_view s) noexcept { binary(as_bytes(s)); }
  void utf8_pair(const string_pair& p) noexcept {
    utf8(p.name);
    utf8(p.value);
  }

 private:
  std::byte* p_;
};

// Sizes on the wire.
constexpr std::size_t binary_size(std::size_t n) noexcept { return 2 + n; }
constexpr std::size_t utf8_size(std::string_view s) noexcept { return 2 + s.size(); }
constexpr std::size_t utf8_pair_size(const string_pair& p) noexcept { return 4 + p.name.size() + p.value.size(); }

}  // namespace tern::wire
