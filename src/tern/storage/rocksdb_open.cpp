// The RocksDB backend, opening: the database and its column families, the
// format marker, reading every record once at start, what a damaged store
// becomes (moved aside or refused), and closing. See rocksdb_store.hpp for
// the layout, the durability policies and the damage policy.
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <system_error>

#include "tern/storage/rocksdb_backend.hpp"

namespace tern::storage {
namespace detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view format_key = "tern.storage.format";
constexpr std::string_view format_version = "1";

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

}  // namespace detail

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
    std::filesystem::create_directories(opts.dir, ec);
    if (ec)
      return storage_error{make_error_code(errc::io_error),
                           "storage: creating " + opts.dir.string() + ": " + ec.message()};
    return std::nullopt;
  };
  if (auto e = create_dir()) return *e;

  auto s = std::make_unique<detail::rocksdb_store>(opts);
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
  const auto target = detail::damaged_name(opts.dir, opts.clock.unix_ms);
  std::error_code ec;
  std::filesystem::rename(opts.dir, target, ec);
  if (ec)
    return storage_error{make_error_code(errc::io_error), "storage: " + opts.dir.string() + " is damaged (" + why +
                                                              ") and cannot be moved aside: " + ec.message()};
  log(log_level::error, "storage: " + opts.dir.string() + " is damaged (" + why + "); moved it to " + target.string() +
                            " and started with an empty store");
  if (auto e = create_dir()) return *e;
  s = std::make_unique<detail::rocksdb_store>(opts);
  if (auto again = s->open()) {
    again->error.message =
        "storage: creating an empty store after moving the damaged one aside: " + again->error.message;
    return again->error;
  }
  return std::unique_ptr<store>(std::move(s));
}

}  // namespace tern::storage
