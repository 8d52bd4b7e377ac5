// tests/support/heap_counter.hpp: replaces the global operator new/delete
// with versions that count blocks and bytes, for tests that assert what a
// code path allocates or what an object holds. Include it in exactly one
// .cpp of a test executable of its own (the replacement is program-wide).
//
//   #include "support/heap_counter.hpp"
//   const auto before = tern::test::heap::allocations();
//   decode(...);
//   EXPECT_EQ(tern::test::heap::allocations() - before, 1);
//   EXPECT_EQ(tern::test::heap::live_bytes(), bytes_before);   // nothing kept
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace tern::test::heap {
namespace detail {
inline std::atomic<long> allocations{0};
inline std::atomic<long> frees{0};
inline std::atomic<long> live_bytes{0};
// Each block starts with its size, so that every delete knows what it frees.
constexpr std::size_t header = alignof(std::max_align_t);
}  // namespace detail

// Blocks allocated and freed since the program started.
inline long allocations() { return detail::allocations.load(); }
inline long frees() { return detail::frees.load(); }
// Blocks and requested bytes allocated and not yet freed.
inline long live_blocks() { return allocations() - frees(); }
inline long live_bytes() { return detail::live_bytes.load(); }

// Blocks allocated while `f` runs.
inline long count(auto&& f) {
  const long before = allocations();
  f();
  return allocations() - before;
}

}  // namespace tern::test::heap

// The replacements pair malloc with free and read the size before the
// block; GCC, which cannot see that new is replaced, would warn of both.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Warray-bounds"
void* operator new(std::size_t n) {
  namespace h = tern::test::heap::detail;
  auto* block = static_cast<char*>(std::malloc(n + h::header));
  if (!block) throw std::bad_alloc();
  *reinterpret_cast<std::size_t*>(block) = n;
  h::allocations.fetch_add(1, std::memory_order_relaxed);
  h::live_bytes.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
  return block + h::header;
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept {
  if (!p) return;
  namespace h = tern::test::heap::detail;
  auto* block = static_cast<char*>(p) - h::header;
  h::frees.fetch_add(1, std::memory_order_relaxed);
  h::live_bytes.fetch_sub(static_cast<long>(*reinterpret_cast<std::size_t*>(block)), std::memory_order_relaxed);
  std::free(block);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
void operator delete[](void* p, std::size_t) noexcept { operator delete(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { operator delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { operator delete(p); }
#pragma GCC diagnostic pop
