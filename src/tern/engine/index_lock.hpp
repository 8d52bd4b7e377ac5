// tern/engine/index_lock.hpp: the lock of the engine's subscription index,
// a reader lock per worker ("big reader lock"). Every published message
// reads the index, on its worker's thread; changes ((un)subscribe, a
// session's end) are rare. A std::shared_mutex made every reader write the
// same cache line (its reader count), which moved between the cores of all
// workers on every message. Here a reader locks only its own worker's lock,
// on a cache line that no other thread touches until a writer comes; a
// writer locks every worker's lock.
//
//   tern::engine::index_lock l(workers);
//   { auto r = l.reader(i); /* read the index */ }   // on worker i's thread
//   { auto w = l.writer(); /* change the index */ }  // on any thread
//
// Thread safety: any thread may take any lock. Worker i's thread takes
// reader(i): that is what keeps reading cheap; another thread taking it is
// still correct, only slower. Not recursive: a thread that holds a reader
// lock must neither take it again nor take the writer lock (it would wait
// for itself).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

namespace tern::engine {

class index_lock {
  // A plain std::mutex: only its worker locks it to read, so it is almost
  // never contended. (Uncontended, in a multi-threaded process, a lock and
  // unlock took 11 ns; an inline futex lock 10 ns: not worth writing one.)
  using mutex = std::mutex;
  // One lock per 128 bytes: two 64-byte cache lines, since x86's
  // adjacent-line prefetcher fetches lines in pairs and some ARM cores have
  // 128-byte lines. (Not std::hardware_destructive_interference_size: GCC
  // warns that it may differ between compilations.)
  struct alignas(128) slot {
    mutex m;
  };

 public:
  // `readers`: the number of workers (at least 1).
  explicit index_lock(std::size_t readers)
      : n_(readers ? readers : 1), slots_(std::make_unique<slot[]>(n_)) {}
  index_lock(const index_lock&) = delete;
  index_lock& operator=(const index_lock&) = delete;

  class [[nodiscard]] reader_guard {
   public:
    ~reader_guard() { m_.unlock(); }
    reader_guard(const reader_guard&) = delete;
    reader_guard& operator=(const reader_guard&) = delete;

   private:
    friend class index_lock;
    explicit reader_guard(mutex& m) : m_(m) { m_.lock(); }
    mutex& m_;
  };

  class [[nodiscard]] writer_guard {
   public:
    ~writer_guard() {
      for (std::size_t i = l_.n_; i-- > 0;) l_.slots_[i].m.unlock();
    }
    writer_guard(const writer_guard&) = delete;
    writer_guard& operator=(const writer_guard&) = delete;

   private:
    friend class index_lock;
    explicit writer_guard(index_lock& l) : l_(l) {
      // Always in index order: two writers never each hold a lock the other waits for.
      for (std::size_t i = 0; i < l_.n_; ++i) l_.slots_[i].m.lock();
    }
    index_lock& l_;
  };

  // Reader `i` (worker i): excludes writers, not the other readers, until
  // the guard goes.
  reader_guard reader(std::size_t i) { return reader_guard(slots_[i].m); }
  // Excludes every reader and every other writer until the guard goes.
  writer_guard writer() { return writer_guard(*this); }

 private:
  std::size_t n_;
  std::unique_ptr<slot[]> slots_;
};

}  // namespace tern::engine
