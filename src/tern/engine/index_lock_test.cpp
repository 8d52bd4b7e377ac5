// index_lock: readers share, a writer excludes them all, writers never
// deadlock. Threads race on purpose here; the checks hold only if the lock
// works (no sleeps: every thread runs a fixed number of rounds).
#include "tern/engine/index_lock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tern::engine {
namespace {

// A writer changes two values one after the other; a reader that holds
// its lock must never see one changed without the other.
TEST(IndexLock, ReadersNeverSeeAHalfDoneWrite) {
  constexpr std::size_t readers = 3;
  constexpr int rounds = 20'000;
  index_lock lock(readers);
  std::atomic<long> a{0}, b{0};  // (atomic: a broken lock shows as a torn pair, not undefined behaviour)
  std::atomic<int> torn{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < readers; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < rounds; ++k) {
        const auto r = lock.reader(i);
        const long x = a.load(std::memory_order_relaxed);
        std::this_thread::yield();  // (widens the window a broken lock would leave open)
        const long y = b.load(std::memory_order_relaxed);
        if (x != y) torn.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // Two writers at once: they take the readers' locks in the same order, so
  // neither waits for the other forever.
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&] {
      for (int k = 0; k < rounds / 4; ++k) {
        const auto g = lock.writer();
        const long next = a.load(std::memory_order_relaxed) + 1;
        a.store(next, std::memory_order_relaxed);
        std::this_thread::yield();
        b.store(next, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(a.load(), 2 * (rounds / 4));  // no write lost: writers excluded each other
}

// Any thread may take any reader lock (a worker's, from the thread that
// recovers the engine before the io threads start, or that destroys
// connections after they stop): a reader lock is a lock, whoever holds it.
TEST(IndexLock, AReaderLockTakenFromAnotherThreadStillExcludesWriters) {
  index_lock lock(2);
  std::atomic<long> a{0}, b{0};
  std::atomic<int> torn{0};
  std::thread reader_elsewhere([&] {
    for (int k = 0; k < 20'000; ++k) {
      const auto r = lock.reader(static_cast<std::size_t>(k % 2));  // both workers' locks, from one thread
      const long x = a.load(std::memory_order_relaxed);
      std::this_thread::yield();
      if (x != b.load(std::memory_order_relaxed)) torn.fetch_add(1);
    }
  });
  for (int k = 0; k < 5'000; ++k) {
    const auto g = lock.writer();
    a.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::yield();
    b.fetch_add(1, std::memory_order_relaxed);
  }
  reader_elsewhere.join();
  EXPECT_EQ(torn.load(), 0);
}

TEST(IndexLock, NoWorkersMeansOneReader) {
  index_lock lock(0);
  { const auto r = lock.reader(0); }
  { const auto w = lock.writer(); }
  SUCCEED();
}

}  // namespace
}  // namespace tern::engine
