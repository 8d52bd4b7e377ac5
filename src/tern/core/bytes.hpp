// tern/core/bytes.hpp: shared_bytes, an immutable, reference-counted byte
// range. A decoded PUBLISH keeps its topic, properties and payload in one
// shared_bytes; an outgoing PUBLISH shares its payload with every subscriber.
//
//   auto body = tern::shared_bytes::copy("hello");
//   auto tail = body.slice(1, 3);             // "ell", same block, no copy
//   std::string_view s = tail.view();
//
// Copies are cheap (one atomic increment); the bytes never change once shared.
// Thread safety: like std::shared_ptr: distinct objects may be used from
// distinct threads, even when they share a block.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace tern {

using bytes_view = std::span<const std::byte>;

// Views text as bytes, and bytes as text, without copying.
inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view as_chars(bytes_view b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

class shared_bytes {
 public:
  shared_bytes() = default;

  // A new block holding a copy of `b`.
  static shared_bytes copy(bytes_view b) {
    if (b.empty()) return {};
    std::byte* out = nullptr;
    auto s = allocate(b.size(), out);
    std::memcpy(out, b.data(), b.size());
    return s;
  }
  static shared_bytes copy(std::string_view s) { return copy(as_bytes(s)); }

  // A new uninitialised block of `n` bytes; `out` receives a pointer the
  // caller fills before the block is shared with anyone.
  static shared_bytes allocate(std::size_t n, std::byte*& out) {
    shared_bytes s;
    if (n == 0) {
      out = nullptr;
      return s;
    }
    auto block = std::make_shared_for_overwrite<std::byte[]>(n);
    out = block.get();
    s.data_ = block.get();
    s.size_ = n;
    s.owner_ = std::move(block);
    return s;
  }

  // Bytes [offset, offset + count) of this range, sharing its block.
  shared_bytes slice(std::size_t offset, std::size_t count) const noexcept {
    shared_bytes s;
    if (count == 0) return s;
    s.owner_ = owner_;
    s.data_ = data_ + offset;
    s.size_ = count;
    return s;
  }
  // A range that shares this block but views `part`, which must lie inside it.
  shared_bytes share(bytes_view part) const noexcept {
    shared_bytes s;
    if (part.empty()) return s;
    s.owner_ = owner_;
    s.data_ = part.data();
    s.size_ = part.size();
    return s;
  }

  // Narrows this range to `part`, which must lie inside it, keeping the
  // block: share() without the reference count traffic.
  void narrow(bytes_view part) noexcept {
    if (part.empty()) {
      *this = {};
      return;
    }
    data_ = part.data();
    size_ = part.size();
  }

  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bytes_view span() const noexcept { return {data_, size_}; }
  std::string_view view() const noexcept { return as_chars(span()); }
  // How many shared_bytes share this block (for tests and metrics).
  long use_count() const noexcept { return owner_.use_count(); }

  friend bool operator==(const shared_bytes& a, const shared_bytes& b) noexcept {
    return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.data_, b.data_, a.size_) == 0);
  }

 private:
  std::shared_ptr<const std::byte[]> owner_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace tern
