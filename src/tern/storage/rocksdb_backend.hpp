// tern/storage/rocksdb_backend.hpp (internal to the RocksDB backend): the
// store class that rocksdb_open.cpp opens, checks and recovers and
// rocksdb_store.cpp reads and writes, and what both use. The public face is
// rocksdb_store.hpp.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/storage/facades.hpp"
#include "tern/storage/records.hpp"
#include "tern/storage/retained_index.hpp"
#include "tern/storage/rocksdb_store.hpp"

namespace tern::storage::detail {

enum cf : std::size_t { cf_default, cf_retained, cf_sessions, cf_messages, cf_wills, cf_count };
inline constexpr const char* cf_names[cf_count] = {"default", "retained", "sessions", "messages", "wills"};

inline rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// Why opening failed: damage (moved aside or refused by policy) or anything else.
struct open_failure {
  bool damaged = false;
  storage_error error;
};

inline storage_error to_error(const rocksdb::Status& s, std::string_view doing) {
  return {make_error_code(s.IsCorruption() ? errc::corruption : errc::io_error),
          std::string(doing) + ": " + s.ToString()};
}

class rocksdb_store final : public store {
 public:
  explicit rocksdb_store(const rocksdb_options& o) : options_(o), time_(o.clock) {}
  rocksdb_store(const rocksdb_store&) = delete;
  rocksdb_store& operator=(const rocksdb_store&) = delete;
  ~rocksdb_store() override { close(); }

  // Opens the database and reads it; nullopt on success.
  std::optional<open_failure> open();

  retain_store& retained() override { return retained_facade_; }
  session_store& sessions() override { return session_facade_; }
  message_store& messages() override { return message_facade_; }
  will_store& wills() override { return will_facade_; }

  storage_result<void> commit(const write_batch& b, wait_for w) override;
  storage_result<void> sync() override;
  store_stats stats() const override {
    store_stats s;
    s.commits = commits_.load(std::memory_order_relaxed);
    s.operations = operations_.load(std::memory_order_relaxed);
    s.synced_commits = synced_commits_.load(std::memory_order_relaxed);
    if (statistics_) s.disk_syncs = statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED);
    return s;
  }

  // ---- for the facades ----
  void write_one(const write_batch& b) {
    if (auto r = commit(b, wait_for::durable); !r) log(log_level::error, r.error().message);
  }
  void match_retained(std::string_view filter, time_point now, const std::function<void(const publish_packet&)>& f);
  std::size_t retained_size() const {
    std::lock_guard lock(retained_mutex_);
    return retained_.size();
  }
  std::optional<session_record> load_session(std::string_view client_id);
  void for_each_session(const std::function<void(const session_record&)>& f);
  void for_each_message(std::string_view client_id, const std::function<void(const message_record&)>& f);
  void for_each_queued(std::string_view client_id, std::uint64_t from_seq, std::size_t max,
                       const std::function<void(const message_record&)>& f);
  std::optional<std::uint64_t> last_seq(std::string_view client_id);
  void for_each_will(const std::function<void(const will_record&)>& f);

 private:
  void close();
  void log(log_level l, std::string_view m) const {
    if (options_.log) options_.log(l, m);
  }
  rocksdb::ColumnFamilyHandle* handle(cf c) const { return handles_[c]; }
  rocksdb::WriteOptions unsynced() const {
    rocksdb::WriteOptions wo;
    wo.disableWAL = options_.durability == durability::none;
    return wo;
  }
  rocksdb::DBOptions db_options() const;
  // Opens the database: read-only, with the column families it has, or
  // read-write, creating what is missing.
  rocksdb::Status open_db(bool read_only);
  // Closes the database without flushing or syncing anything.
  void close_db();
  // Checks the format marker of an existing store.
  std::optional<open_failure> check_marker();
  // Reads every record once: loads the retained messages (noting in
  // `expired_` those that expired while stopped), checks the rest.
  std::optional<open_failure> recover();
  // Calls f(key, value) for each record of `c` in [lower, upper); false on
  // a read error (logged).
  template <class F>
  bool scan(cf c, std::string_view lower, std::string_view upper, F&& f) const;

  rocksdb_options options_;
  time_base time_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // by cf; null for one a read-only open lacks
  bool opened_ = false;                                // open() succeeded: close() flushes or syncs
  std::vector<std::string> expired_;                   // retained topics that expired while stopped
  std::string summary_;                                // what recover() found

  // Held across the write of a batch holding retained messages, so that the
  // index changes in the order of the writes.
  mutable std::mutex retained_mutex_;
  retained_index retained_;

  std::atomic<std::uint64_t> commits_{0}, operations_{0}, synced_commits_{0};

  retained_facade<rocksdb_store> retained_facade_{*this};
  session_facade<rocksdb_store> session_facade_{*this};
  message_facade<rocksdb_store> message_facade_{*this};
  will_facade<rocksdb_store> will_facade_{*this};
};

template <class F>
bool rocksdb_store::scan(cf c, std::string_view lower, std::string_view upper, F&& f) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  rocksdb::Slice up = slice(upper);
  if (!upper.empty()) ro.iterate_upper_bound = &up;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(c)));
  for (lower.empty() ? it->SeekToFirst() : it->Seek(slice(lower)); it->Valid(); it->Next()) {
    if (!f(view(it->key()), view(it->value()))) return true;  // f stops the scan
  }
  if (!it->status().ok()) {
    log(log_level::error, "storage: reading " + std::string(cf_names[c]) + ": " + it->status().ToString());
    return false;
  }
  return true;
}

}  // namespace tern::storage::detail
