// tern/storage/rocksdb_store.hpp: the durable backend, RocksDB in a data
// directory (Debian's librocksdb-dev). ternd's default store.
//
//   tern::storage::rocksdb_options o;
//   o.dir = "/var/lib/ternd";
//   o.clock = {std::chrono::steady_clock::now(), unix_ms_now};   // read by the caller
//   o.log = [&](tern::storage::log_level l, std::string_view m) { logger.log(l, m); };
//   auto store = tern::storage::make_rocksdb_store(o);
//   if (!store) return fail(store.error().message);   // damaged + refuse, locked, I/O
//
// Layout: column families "retained" (key: topic), "sessions" (key: client
// id), "messages" (key: client id length and bytes, then 'q' + seq, 'o' +
// packet id or 'i' + packet id), "wills" (key: client id), and a format
// marker in "default". Messages are PUBLISH packets encoded by the codec for
// MQTT 5.0 (wills: a CONNECT carrying the will), after a small header.
//
// Durability (`durability`), for commits with wait_for::durable:
//  - fsync: commit() returns after the batch is in the write-ahead log and
//    the log is fsync'd (fdatasync): it survives a crash of the process, of
//    the kernel, and a power cut. One sync covers the whole batch (group
//    commit: put one loop turn's messages in one batch), and RocksDB merges
//    the synced commits of concurrent threads into one write and one sync.
//    wait_for::written skips the sync for that commit; the next synced
//    commit (or sync()) covers it, since the log is written in order.
//  - batch: every commit is written to the log (write(2), no sync): it
//    survives a crash or SIGKILL of the process, but a kernel crash or power
//    cut loses commits since the last sync(). Call sync() periodically (the
//    store starts no thread; RocksDB also syncs files it flushes).
//  - none: no write-ahead log. Commits live in RocksDB's memtables until
//    RocksDB flushes them to table files (memtable full, sync(), or closing
//    the store, which flushes): a crash of the process loses everything
//    since the last flush; a clean close loses nothing.
// Whatever the policy, a batch is atomic: after a crash all of it or none.
//
// Start-up: opening reads every record once (retained messages stay in
// memory for match(); the rest stay on disk), drops retained messages that
// expired while the broker was down, and checks RocksDB's checksums. A
// damaged store (RocksDB reports Corruption: a file it needs is garbage,
// truncated or missing, a log record fails its checksum; or an existing
// store has lost its format marker) is, with on_corruption = move_aside,
// renamed to "<dir>.damaged-<UTC time of clock.unix_ms>" (kept for
// inspection), logged at error level, and an empty store is created in its
// place; with refuse, make_rocksdb_store returns errc::damaged and leaves
// the directory as it is. A log cut short is not damage: it is what a crash
// during a write leaves (the torn record was never acknowledged), and
// RocksDB cannot tell it from a truncated file, so it recovers up to the
// cut. A store in use by another process (errc::locked), written by a newer
// tern (errc::unsupported_format), or that cannot be read for another
// reason (errc::io_error: permissions, disk) is never moved aside. A single
// record that RocksDB returns intact but the codec cannot decode is skipped
// with a warning. Errors returned are not also logged.
//
// Time: the caller reads the clocks; the store never does. clock_anchor is
// one instant on two clocks: `now` on the steady clock of every time_point
// argument, `unix_ms` the same instant in milliseconds since 1970-01-01 UTC.
// Instants that must outlive the process (when a retained message was
// stored and when it expires, when a message was queued, when a will is due,
// when a session expires) are stored as Unix milliseconds and mapped back
// through the anchor of the next open, so time spent while the broker was
// down counts.
//
// Thread safety: as every store: any method from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "tern/storage/storage.hpp"

namespace tern::storage {

// `durability` of the configuration (see above).
enum class durability : std::uint8_t { fsync, batch, none };
// `on_corruption` of the configuration: what a damaged store does at start.
enum class corruption_policy : std::uint8_t { move_aside, refuse };

enum class log_level : std::uint8_t { info, warning, error };
using log_function = std::function<void(log_level, std::string_view message)>;

// One instant on the caller's steady clock and on the Unix clock.
struct clock_anchor {
  time_point now{};
  std::int64_t unix_ms = 0;
};

struct rocksdb_options {
  std::filesystem::path dir;  // created if missing (with its parents)
  storage::durability durability = durability::fsync;
  corruption_policy on_corruption = corruption_policy::move_aside;
  clock_anchor clock;
  // Decode every session, message and will at open, not only the retained
  // messages (the open then also finds damage RocksDB sees only on read).
  bool verify_on_open = true;
  log_function log;  // open summary (info), damaged store moved aside (error), failed direct writes
};

// Opens (or creates) the store in o.dir, recovering what it holds.
[[nodiscard]] storage_result<std::unique_ptr<store>> make_rocksdb_store(const rocksdb_options& o);

}  // namespace tern::storage
