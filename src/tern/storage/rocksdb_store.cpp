// The RocksDB backend. See rocksdb_store.hpp for the layout, the durability
// policies and what happens to a damaged store.
#include "tern/storage/rocksdb_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <mutex>
#include <system_error>

#include "tern/storage/facades.hpp"
#include "tern/storage/records.hpp"
#include "tern/storage/retained_index.hpp"

namespace tern::storage {
namespace {

namespace fs = std::filesystem;
using detail::time_base;

constexpr std::string_view format_key = "tern.storage.format";
constexpr std::string_view format_version = "1";

enum cf : std::size_t { cf_default, cf_retained, cf_sessions, cf_messages, cf_wills, cf_count };
constexpr const char* cf_names[cf_count] = {"default", "retained", "sessions", "messages", "wills"};

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

std::string_view name(durability d) {
  switch (d) {
    case durability::fsync:
      return "fsync";
    case durability::batch:
      return "batch";
    case durability::none:
      return "none";
  }
  return "?";
}

bool mentions_lock(const std::string& s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("lock") != std::string::npos;
}

// Why opening failed: damage (moved aside or refused by policy) or anything else.
struct open_failure {
  bool damaged = false;
  storage_error error;
};

open_failure damaged(std::string why) { return {true, {make_error_code(errc::corruption), std::move(why)}}; }

// A RocksDB status as an error; damage when it says the data is damaged.
open_failure classify(const rocksdb::Status& s, std::string_view doing) {
  std::string why = std::string(doing) + ": " + s.ToString();
  if (s.IsCorruption()) return damaged(std::move(why));
  if (s.IsIOError() && s.subcode() == rocksdb::Status::kPathNotFound) return damaged(std::move(why));
  if (s.IsIOError() && mentions_lock(why))
    return {false, {make_error_code(errc::locked), std::move(why) + " (is another ternd using it?)"}};
  return {false, {make_error_code(errc::io_error), std::move(why)}};
}

storage_error to_error(const rocksdb::Status& s, std::string_view doing) {
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
  detail::retained_index retained_;

  std::atomic<std::uint64_t> commits_{0}, operations_{0}, synced_commits_{0};

  detail::retained_facade<rocksdb_store> retained_facade_{*this};
  detail::session_facade<rocksdb_store> session_facade_{*this};
  detail::message_facade<rocksdb_store> message_facade_{*this};
  detail::will_facade<rocksdb_store> will_facade_{*this};
};

rocksdb::DBOptions rocksdb_store::db_options() const {
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.paranoid_checks = true;
  // A log cut short (the write torn by a crash, or truncation: RocksDB cannot
  // tell them apart) is recovered up to the cut; a record that does not match
  // its checksum is damage. (RocksDB's default, point-in-time recovery,
  // silently drops everything after such a record.)
  dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  dbo.keep_log_file_num = 2;
  dbo.max_log_file_size = 1 << 20;
  dbo.max_background_jobs = 2;
  dbo.max_file_opening_threads = 1;  // (16 threads started per column family at every open otherwise)
  dbo.wal_bytes_per_sync = 1 << 20;
  // Memtables of all column families together: RocksDB flushes past this, so
  // a broker's memory does not grow with what it stores (offline queues).
  dbo.db_write_buffer_size = 32 << 20;
  dbo.statistics = statistics_;
  return dbo;
}

rocksdb::Status rocksdb_store::open_db(bool read_only) {
  const auto dbo = db_options();
  const auto name = options_.dir.string();
  std::vector<std::size_t> wanted;  // cf indexes to open
  if (read_only) {
    std::vector<std::string> existing;
    auto s = rocksdb::DB::ListColumnFamilies(dbo, name, &existing);
    if (!s.ok()) return s;
    for (std::size_t c = 0; c < cf_count; ++c)
      if (std::find(existing.begin(), existing.end(), cf_names[c]) != existing.end()) wanted.push_back(c);
  } else {
    for (std::size_t c = 0; c < cf_count; ++c) wanted.push_back(c);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (auto c : wanted) families.emplace_back(cf_names[c], rocksdb::ColumnFamilyOptions{});
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto s = read_only ? rocksdb::DB::OpenForReadOnly(dbo, name, families, &handles, &raw)
                     : rocksdb::DB::Open(dbo, name, families, &handles, &raw);
  if (!s.ok()) return s;
  db_.reset(raw);
  handles_.assign(cf_count, nullptr);
  for (std::size_t i = 0; i < wanted.size(); ++i) handles_[wanted[i]] = handles[i];
  return s;
}

void rocksdb_store::close_db() {
  if (!db_) return;
  for (auto* h : handles_)
    if (h) (void)db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  (void)db_->Close();
  db_.reset();
}

// An existing store is first opened read-only, under RocksDB's lock (so that
// a store another process is using is never judged), and read through: a
// read-write open would rewrite the MANIFEST and delete the files a damaged
// one no longer names, before the damage could be seen. Only a store that
// reads well is opened for writing.
std::optional<open_failure> rocksdb_store::open() {
  statistics_ = rocksdb::CreateDBStatistics();
  auto* env = rocksdb::Env::Default();
  rocksdb::FileLock* lock = nullptr;
  if (auto s = env->LockFile((options_.dir / "LOCK").string(), &lock); !s.ok()) {
    auto f = classify(s, "locking " + options_.dir.string());
    f.damaged = false;
    return f;
  }
  std::error_code ec;
  const bool existed = fs::exists(options_.dir / "CURRENT", ec);
  std::optional<open_failure> failure;
  if (existed) {
    if (auto s = open_db(true); !s.ok()) {
      failure = classify(s, "opening " + options_.dir.string());
    } else {
      failure = check_marker();
      if (!failure) failure = recover();
      close_db();
    }
  }
  (void)env->UnlockFile(lock);
  if (failure) return failure;

  if (auto s = open_db(false); !s.ok()) return classify(s, "opening " + options_.dir.string());
  if (!existed) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Put(wo, handle(cf_default), slice(format_key), slice(format_version));
    if (!s.ok()) return classify(s, "writing the format marker");
  }
  if (!expired_.empty()) {
    rocksdb::WriteBatch wb;
    for (const auto& t : expired_) (void)wb.Delete(handle(cf_retained), slice(t));
    if (auto s = db_->Write(unsynced(), &wb); !s.ok()) return classify(s, "forgetting expired retained messages");
  }
  opened_ = true;
  log(log_level::info, "storage: opened " + options_.dir.string() + " (durability " +
                           std::string(name(options_.durability)) +
                           "): " + (existed ? summary_ : std::string("a new store")));
  return std::nullopt;
}

std::optional<open_failure> rocksdb_store::check_marker() {
  std::string marker;
  auto s = handle(cf_default) ? db_->Get(rocksdb::ReadOptions{}, handle(cf_default), slice(format_key), &marker)
                              : rocksdb::Status::NotFound();
  if (s.IsNotFound()) {
    // Written (synced) when the store was created: RocksDB lost its records
    // (a damaged MANIFEST reads as an older, shorter history), or the store
    // was never finished (a crash in its first open: it held nothing).
    return damaged("the store's records are gone (its format marker is missing)");
  }
  if (!s.ok()) return classify(s, "reading the format marker");
  if (marker == format_version) return std::nullopt;
  int v = 0;
  for (char ch : marker)
    v = std::isdigit(static_cast<unsigned char>(ch)) && v >= 0 && v < 1000 ? v * 10 + (ch - '0') : -1;
  if (v > 1)
    return open_failure{false,
                        {make_error_code(errc::unsupported_format), options_.dir.string() + ": store format " + marker +
                                                                        " is newer than this tern's (" +
                                                                        std::string(format_version) + ")"}};
  return damaged("the format marker reads \"" + marker + "\"");
}

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

std::optional<open_failure> rocksdb_store::recover() {
  const auto now_ms = options_.clock.unix_ms;
  std::size_t retained = 0, sessions = 0, queued = 0, inflight = 0, incoming = 0, wills = 0, skipped = 0;
  std::optional<std::string> read_error;
  auto skip = [&](std::string_view what, std::string_view key, const error& e) {
    ++skipped;
    log(log_level::warning, "storage: skipping an unreadable " + std::string(what) + " record (key of " +
                                std::to_string(key.size()) + " bytes): " + e.message());
  };
  // Reads `c` to its end; records a read error (damage).
  auto read_all = [&](cf c, auto&& f) {
    if (!handle(c)) return;  // not created yet
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(c)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) f(view(it->key()), view(it->value()));
    if (!it->status().ok() && !read_error)
      read_error = "reading " + std::string(cf_names[c]) + ": " + it->status().ToString();
  };

  read_all(cf_retained, [&](std::string_view key, std::string_view value) {
    auto r = detail::decode_retained(value);
    if (!r || r->message.topic() != key)
      return skip("retained", key, r ? error{reason::malformed_packet, "topic differs from key"} : r.error());
    if (r->expires_ms && *r->expires_ms <= now_ms) {
      expired_.emplace_back(key);  // expired while the broker was down
      return;
    }
    retained_.put(r->message, time_.from_unix_ms(r->stored_ms));
    ++retained;
  });
  if (options_.verify_on_open) {
    read_all(cf_sessions, [&](std::string_view key, std::string_view value) {
      if (auto r = detail::decode_session(key, value, time_); r)
        ++sessions;
      else
        skip("session", key, r.error());
    });
    read_all(cf_messages, [&](std::string_view key, std::string_view value) {
      auto k = detail::parse_message_key(key);
      if (!k) return skip("message", key, error{reason::malformed_packet, "bad key"});
      auto r = detail::decode_message(*k, value, time_);
      if (!r) return skip("message", key, r.error());
      if (r->kind == record_kind::queued)
        ++queued;
      else if (r->kind == record_kind::outgoing)
        ++inflight;
      else
        ++incoming;
    });
    read_all(cf_wills, [&](std::string_view key, std::string_view value) {
      if (auto r = detail::decode_will(key, value, time_); r)
        ++wills;
      else
        skip("will", key, r.error());
    });
  }
  if (read_error) return damaged(*read_error);
  summary_ = std::to_string(retained) + " retained messages";
  if (!expired_.empty()) summary_ += " (" + std::to_string(expired_.size()) + " expired while stopped)";
  if (options_.verify_on_open)
    summary_ += ", " + std::to_string(sessions) + " sessions, " + std::to_string(queued) + " queued, " +
                std::to_string(inflight) + " in-flight and " + std::to_string(incoming) + " incoming QoS 2 messages, " +
                std::to_string(wills) + " delayed wills";
  if (skipped > 0) summary_ += "; " + std::to_string(skipped) + " unreadable records skipped";
  return std::nullopt;
}

void rocksdb_store::close() {
  if (!db_) return;
  if (opened_ && options_.durability == durability::none) {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    if (auto s = db_->Flush(fo, handles_); !s.ok())
      log(log_level::error, "storage: flushing at close: " + s.ToString());
  } else if (opened_) {
    // Commits made with wait_for::written (and all of them under batch).
    if (auto s = db_->SyncWAL(); !s.ok()) log(log_level::error, "storage: syncing at close: " + s.ToString());
  }
  close_db();
}

storage_result<void> rocksdb_store::commit(const write_batch& b, wait_for w) {
  if (b.empty()) {
    // Nothing to write; with fsync, durable still covers earlier written commits.
    if (w != wait_for::durable || options_.durability != durability::fsync) return {};
    if (auto s = db_->SyncWAL(); !s.ok()) return to_error(s, "storage: commit");
    synced_commits_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  rocksdb::WriteBatch wb;
  rocksdb::Status s;
  bool has_retained = false;
  auto keep = [&](rocksdb::Status st) {
    if (s.ok() && !st.ok()) s = std::move(st);
  };
  for (const auto& op : b.ops()) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, write_batch::put_retained_op>) {
            has_retained = true;
            if (o.message.payload().empty()) {
              keep(wb.Delete(handle(cf_retained), slice(o.message.topic())));
            } else {
              std::optional<std::int64_t> expires;
              if (auto e = detail::expiry_of(o.message, o.now)) expires = time_.to_unix_ms(*e);
              keep(wb.Put(handle(cf_retained), slice(o.message.topic()),
                          detail::encode_retained(o.message, time_.to_unix_ms(o.now), expires)));
            }
          } else if constexpr (std::is_same_v<T, write_batch::save_session_op>) {
            keep(wb.Put(handle(cf_sessions), slice(o.session.client_id), detail::encode_session(o.session, time_)));
          } else if constexpr (std::is_same_v<T, write_batch::erase_session_op>) {
            keep(wb.Delete(handle(cf_sessions), slice(o.client_id)));
          } else if constexpr (std::is_same_v<T, write_batch::append_op>) {
            keep(wb.Put(handle(cf_messages), detail::queued_key(o.client_id, o.seq),
                        detail::encode_queued(o.message, time_.to_unix_ms(o.now))));
          } else if constexpr (std::is_same_v<T, write_batch::erase_queued_op>) {
            keep(wb.Delete(handle(cf_messages), detail::queued_key(o.client_id, o.seq)));
          } else if constexpr (std::is_same_v<T, write_batch::set_inflight_op>) {
            keep(wb.Put(handle(cf_messages), detail::outgoing_key(o.client_id, o.packet_id),
                        detail::encode_outgoing(o.seq, o.phase, o.message)));
          } else if constexpr (std::is_same_v<T, write_batch::erase_inflight_op>) {
            keep(wb.Delete(handle(cf_messages), detail::outgoing_key(o.client_id, o.packet_id)));
          } else if constexpr (std::is_same_v<T, write_batch::add_incoming_op>) {
            keep(
                wb.Put(handle(cf_messages), detail::incoming_key(o.client_id, o.packet_id), detail::encode_incoming()));
          } else if constexpr (std::is_same_v<T, write_batch::erase_incoming_op>) {
            keep(wb.Delete(handle(cf_messages), detail::incoming_key(o.client_id, o.packet_id)));
          } else if constexpr (std::is_same_v<T, write_batch::erase_messages_op>) {
            auto from = detail::client_prefix(o.client_id);
            auto to = from + '\xff';  // every kind byte sorts below
            keep(wb.DeleteRange(handle(cf_messages), from, to));
          } else if constexpr (std::is_same_v<T, write_batch::put_will_op>) {
            keep(wb.Put(handle(cf_wills), slice(o.client_id),
                        detail::encode_will(o.client_id, o.will, time_.to_unix_ms(o.due))));
          } else if constexpr (std::is_same_v<T, write_batch::erase_will_op>) {
            keep(wb.Delete(handle(cf_wills), slice(o.client_id)));
          }
        },
        op);
  }
  if (!s.ok())
    return storage_error{make_error_code(errc::invalid_argument), "storage: building a batch: " + s.ToString()};

  auto wo = unsynced();
  wo.sync = options_.durability == durability::fsync && w == wait_for::durable;
  if (has_retained) {
    std::lock_guard lock(retained_mutex_);
    s = db_->Write(wo, &wb);
    if (s.ok())
      for (const auto& op : b.ops())
        if (const auto* r = std::get_if<write_batch::put_retained_op>(&op)) retained_.put(r->message, r->now);
  } else {
    s = db_->Write(wo, &wb);
  }
  if (!s.ok()) return to_error(s, "storage: commit");
  commits_.fetch_add(1, std::memory_order_relaxed);
  operations_.fetch_add(b.size(), std::memory_order_relaxed);
  if (wo.sync) synced_commits_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

storage_result<void> rocksdb_store::sync() {
  rocksdb::Status s;
  if (options_.durability == durability::none) {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    s = db_->Flush(fo, handles_);
  } else {
    s = db_->SyncWAL();
  }
  if (!s.ok()) return to_error(s, "storage: sync");
  return {};
}

void rocksdb_store::match_retained(std::string_view filter, time_point now,
                                   const std::function<void(const publish_packet&)>& f) {
  std::vector<publish_packet> found;
  {
    std::lock_guard lock(retained_mutex_);
    std::vector<std::string> expired;
    found = retained_.match(filter, now, expired);
    if (!expired.empty()) {
      // Not synced: if the deletion is lost, the next open finds them expired.
      rocksdb::WriteBatch wb;
      for (const auto& t : expired) (void)wb.Delete(handle(cf_retained), slice(t));
      if (auto s = db_->Write(unsynced(), &wb); !s.ok())
        log(log_level::error, "storage: forgetting expired retained messages: " + s.ToString());
    }
  }
  for (const auto& m : found) f(m);  // outside the lock: f may publish
}

std::optional<session_record> rocksdb_store::load_session(std::string_view client_id) {
  rocksdb::PinnableSlice value;
  auto s = db_->Get(rocksdb::ReadOptions{}, handle(cf_sessions), slice(client_id), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) {
    log(log_level::error, "storage: loading a session: " + s.ToString());
    return std::nullopt;
  }
  auto r = detail::decode_session(client_id, view(value), time_);
  if (!r) {
    log(log_level::warning, "storage: an unreadable session record: " + r.error().message());
    return std::nullopt;
  }
  return std::move(*r);
}

void rocksdb_store::for_each_session(const std::function<void(const session_record&)>& f) {
  scan(cf_sessions, {}, {}, [&](std::string_view key, std::string_view value) {
    if (auto r = detail::decode_session(key, value, time_)) f(*r);
    return true;
  });
}

void rocksdb_store::for_each_message(std::string_view client_id, const std::function<void(const message_record&)>& f) {
  const auto prefix = detail::client_prefix(client_id);
  std::vector<message_record> outgoing, incoming;
  auto decode = [&](std::string_view key, std::string_view value) -> std::optional<message_record> {
    auto k = detail::parse_message_key(key);
    if (!k) return std::nullopt;
    auto r = detail::decode_message(*k, value, time_);
    if (!r) return std::nullopt;
    return std::move(*r);
  };
  // Keys sort 'i' < 'o' < 'q': the small incoming and outgoing sets first.
  scan(cf_messages, prefix + detail::kind_incoming, prefix + static_cast<char>(detail::kind_outgoing + 1),
       [&](std::string_view key, std::string_view value) {
         if (auto r = decode(key, value))
           (r->kind == record_kind::outgoing ? outgoing : incoming).push_back(std::move(*r));
         return true;
       });
  std::stable_sort(outgoing.begin(), outgoing.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  for (const auto& r : outgoing) f(r);
  scan(cf_messages, prefix + detail::kind_queued, prefix + static_cast<char>(detail::kind_queued + 1),
       [&](std::string_view key, std::string_view value) {
         if (auto r = decode(key, value)) f(*r);
         return true;
       });
  for (const auto& r : incoming) f(r);
}

void rocksdb_store::for_each_queued(std::string_view client_id, std::uint64_t from_seq, std::size_t max,
                                    const std::function<void(const message_record&)>& f) {
  const auto prefix = detail::client_prefix(client_id);
  std::size_t n = 0;
  scan(cf_messages, detail::queued_key(client_id, from_seq), prefix + static_cast<char>(detail::kind_queued + 1),
       [&](std::string_view key, std::string_view value) {
         auto k = detail::parse_message_key(key);
         if (!k) return true;
         if (auto r = detail::decode_message(*k, value, time_)) {
           f(*r);
           ++n;
         }
         return n < max;
       });
}

std::optional<std::uint64_t> rocksdb_store::last_seq(std::string_view client_id) {
  const auto prefix = detail::client_prefix(client_id);
  std::optional<std::uint64_t> last;
  // The last queued key.
  {
    const auto lower = prefix + detail::kind_queued;
    const auto upper = prefix + static_cast<char>(detail::kind_queued + 1);
    rocksdb::ReadOptions ro;
    rocksdb::Slice lo = slice(lower), up = slice(upper);
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &up;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(cf_messages)));
    it->SeekToLast();
    if (it->Valid())
      if (auto k = detail::parse_message_key(view(it->key()))) last = k->id;
  }
  scan(cf_messages, prefix + detail::kind_outgoing, prefix + static_cast<char>(detail::kind_outgoing + 1),
       [&](std::string_view key, std::string_view value) {
         auto k = detail::parse_message_key(key);
         if (!k) return true;
         if (auto r = detail::decode_message(*k, value, time_); r && (!last || r->seq > *last)) last = r->seq;
         return true;
       });
  return last;
}

void rocksdb_store::for_each_will(const std::function<void(const will_record&)>& f) {
  scan(cf_wills, {}, {}, [&](std::string_view key, std::string_view value) {
    if (auto r = detail::decode_will(key, value, time_)) f(*r);
    return true;
  });
}

// "<dir>.damaged-<UTC time>", not yet taken.
fs::path damaged_name(const fs::path& dir, std::int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  fs::path base = dir;
  base += std::string(".damaged-") + stamp;
  fs::path candidate = base;
  std::error_code ec;
  for (int i = 2; fs::exists(candidate, ec); ++i) {
    candidate = base;
    candidate += "-" + std::to_string(i);
  }
  return candidate;
}

}  // namespace

storage_result<std::unique_ptr<store>> make_rocksdb_store(const rocksdb_options& o) {
  if (o.dir.empty()) return storage_error{make_error_code(errc::invalid_argument), "storage: no data directory"};
  rocksdb_options opts = o;
  opts.dir = o.dir.lexically_normal();
  if (!opts.dir.has_filename()) opts.dir = opts.dir.parent_path();  // "data/" -> "data"
  auto log = [&](log_level l, const std::string& m) {
    if (opts.log) opts.log(l, m);
  };
  auto create_dir = [&]() -> std::optional<storage_error> {
    std::error_code ec;
    fs::create_directories(opts.dir, ec);
    if (ec)
      return storage_error{make_error_code(errc::io_error),
                           "storage: creating " + opts.dir.string() + ": " + ec.message()};
    return std::nullopt;
  };
  if (auto e = create_dir()) return *e;

  auto s = std::make_unique<rocksdb_store>(opts);
  auto failure = s->open();
  if (!failure) return std::unique_ptr<store>(std::move(s));
  s.reset();  // closes what was opened
  if (!failure->damaged) {
    failure->error.message = "storage: " + failure->error.message;
    return failure->error;
  }

  const auto why = failure->error.message;
  if (opts.on_corruption == corruption_policy::refuse)
    return storage_error{make_error_code(errc::damaged),
                         "storage: " + opts.dir.string() + " is damaged (" + why +
                             "); not starting (on_corruption = refuse): move it aside or remove it to start empty"};
  const auto target = damaged_name(opts.dir, opts.clock.unix_ms);
  std::error_code ec;
  fs::rename(opts.dir, target, ec);
  if (ec)
    return storage_error{make_error_code(errc::io_error), "storage: " + opts.dir.string() + " is damaged (" + why +
                                                              ") and cannot be moved aside: " + ec.message()};
  log(log_level::error, "storage: " + opts.dir.string() + " is damaged (" + why + "); moved it to " + target.string() +
                            " and started with an empty store");
  if (auto e = create_dir()) return *e;
  s = std::make_unique<rocksdb_store>(opts);
  if (auto again = s->open()) {
    again->error.message =
        "storage: creating an empty store after moving the damaged one aside: " + again->error.message;
    return again->error;
  }
  return std::unique_ptr<store>(std::move(s));
}

}  // namespace tern::storage
