// Tests of what only the RocksDB backend does: time across restarts, group
// commit and the durability policies, and damaged stores.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "tern/storage/rocksdb_store.hpp"
#include "tern/storage/test_dir.hpp"

namespace tern::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::int64_t unix_t0 = 1'800'000'000'000;  // 2027-01-15 08:00:00 UTC

publish_packet message(std::string_view topic, std::string_view payload, qos q = qos::at_least_once) {
  return publish_packet(topic, shared_bytes::copy(payload), q);
}

struct captured_log {
  std::vector<std::pair<log_level, std::string>> lines;
  log_function sink() {
    return [this](log_level l, std::string_view m) { lines.emplace_back(l, std::string(m)); };
  }
  std::vector<std::string> at(log_level l) const {
    std::vector<std::string> out;
    for (const auto& [level, line] : lines)
      if (level == l) out.push_back(line);
    return out;
  }
};

class Rocks : public ::testing::Test {
 protected:
  rocksdb_options options(durability d = durability::fsync, clock_anchor a = {time_point{}, unix_t0}) {
    rocksdb_options o;
    o.dir = dir_.data();
    o.durability = d;
    o.clock = a;
    o.log = log_.sink();
    return o;
  }
  std::unique_ptr<store> open(const rocksdb_options& o) {
    auto s = make_rocksdb_store(o);
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
  std::size_t queued(store& s, std::string_view client) {
    std::size_t n = 0;
    s.messages().for_each(client, [&](const message_record& r) { n += r.kind == record_kind::queued; });
    return n;
  }

  testing::temp_dir dir_;
  captured_log log_;
};

TEST_F(Rocks, TimeWhileTheBrokerWasDownCounts) {
  {
    auto s = open(options());
    publish_packet r("status", shared_bytes::copy("on"), qos::at_most_once, true);
    r.set_props(properties::builder{}.add<property_id::message_expiry_interval>(10).build());
    s->retained().put(r, time_point{} + 1s);
    s->messages().append("c", 1, message("t", "x"), time_point{} + 2s);
    s->wills().put("c", will_message{"w", shared_bytes::copy("bye"), qos::at_most_once, false, {}}, time_point{} + 30s);
    s->sessions().save(session_record{"c", protocol_version::v5, 60, {}, time_point{} + 60s});
  }
  // A new process: its steady clock has nothing to do with the old one's;
  // 5 s of Unix time have passed since the first open.
  const time_point t1 = time_point{} + 1000h;
  {
    auto s = open(options(durability::fsync, {t1, unix_t0 + 5000}));
    std::optional<std::uint32_t> left;
    s->retained().match("status", t1,
                        [&](const publish_packet& p) { left = p.props().get<property_id::message_expiry_interval>(); });
    EXPECT_EQ(left, 6u);  // stored at +1 s, now +5 s
    s->messages().for_each("c", [&](const message_record& m) { EXPECT_EQ(m.queued_at, t1 - 3s); });
    int wills = 0;
    s->wills().for_each([&](const will_record& w) {
      EXPECT_EQ(w.due, t1 + 25s);
      ++wills;
    });
    EXPECT_EQ(wills, 1);
    EXPECT_EQ(s->sessions().load("c")->expires_at, t1 + 55s);
  }
  {
    auto s = open(options(durability::fsync, {time_point{}, unix_t0 + 11'000}));
    EXPECT_EQ(s->retained().size(), 0u);  // expired while stopped
  }
  auto info = log_.at(log_level::info);
  ASSERT_EQ(info.size(), 3u);
  EXPECT_NE(info[2].find("0 retained messages (1 expired while stopped)"), std::string::npos) << info[2];
  EXPECT_NE(info[2].find("1 sessions, 1 queued"), std::string::npos) << info[2];
  EXPECT_TRUE(log_.at(log_level::warning).empty());
}

TEST_F(Rocks, GroupCommitSyncsOnceForABatch) {
  auto s = open(options(durability::fsync));
  const std::string payload(64, 'p');
  const auto base = s->stats();

  write_batch b;
  for (std::uint64_t seq = 1; seq <= 100; ++seq) b.append("sub", seq, message("t", payload), time_point{});
  ASSERT_TRUE(s->commit(b));
  auto after = s->stats();
  EXPECT_EQ(after.commits - base.commits, 1u);
  EXPECT_EQ(after.operations - base.operations, 100u);
  EXPECT_EQ(after.synced_commits - base.synced_commits, 1u);
  EXPECT_EQ(after.disk_syncs - base.disk_syncs, 1u);  // 100 messages, one sync

  for (std::uint64_t seq = 101; seq <= 120; ++seq)
    s->messages().append("sub", seq, message("t", payload), time_point{});
  auto direct = s->stats();
  EXPECT_EQ(direct.disk_syncs - after.disk_syncs, 20u);  // one each

  b.clear();
  b.append("sub", 121, message("t", payload), time_point{});
  ASSERT_TRUE(s->commit(b, wait_for::written));
  EXPECT_EQ(s->stats().disk_syncs, direct.disk_syncs);  // not synced...
  ASSERT_TRUE(s->sync());
  EXPECT_EQ(s->stats().disk_syncs, direct.disk_syncs + 1);  // ...until asked

  s.reset();
  s = open(options(durability::fsync));
  EXPECT_EQ(queued(*s, "sub"), 121u);
}

TEST_F(Rocks, ConcurrentCommitsAllLand) {
  auto s = open(options(durability::fsync));
  auto work = [&](std::string client) {
    write_batch b;
    for (std::uint64_t turn = 0; turn < 20; ++turn) {
      for (std::uint64_t i = 0; i < 10; ++i) b.append(client, turn * 10 + i, message("t", "m"), time_point{});
      ASSERT_TRUE(s->commit(b));
      b.clear();
    }
  };
  // RocksDB counts its own log syncs too (at open, on a log switch): compare
  // what happened during the commits only.
  const auto before = s->stats();
  std::thread a(work, "a"), c(work, "c");
  a.join();
  c.join();
  const auto st = s->stats();
  EXPECT_EQ(st.synced_commits - before.synced_commits, 40u);
  // RocksDB may merge the two threads' syncs, never need more than one each.
  EXPECT_LE(st.disk_syncs - before.disk_syncs, st.synced_commits - before.synced_commits);
  s.reset();
  s = open(options(durability::fsync));
  EXPECT_EQ(queued(*s, "a"), 200u);
  EXPECT_EQ(queued(*s, "c"), 200u);
}

TEST_F(Rocks, BatchAndNoneDurabilityNeverSyncACommitButKeepACleanClose) {
  for (auto d : {durability::batch, durability::none}) {
    auto s = open(options(d));
    const auto base = s->stats();  // the first open syncs the format marker
    write_batch b;
    for (std::uint64_t seq = 1; seq <= 10; ++seq) b.append("c", seq, message("t", "m"), time_point{});
    ASSERT_TRUE(s->commit(b));
    s->retained().put(publish_packet("r", shared_bytes::copy("v"), qos::at_most_once, true), time_point{});
    EXPECT_EQ(s->stats().synced_commits, 0u);
    EXPECT_EQ(s->stats().disk_syncs, base.disk_syncs);
    s.reset();  // batch: syncs the log; none: flushes the memtables
    s = open(options(d));
    EXPECT_EQ(queued(*s, "c"), 10u);
    EXPECT_EQ(s->retained().size(), 1u);
    s->messages().erase_session("c");
    s->retained().put(publish_packet("r", shared_bytes{}, qos::at_most_once, true), time_point{});
  }
}

// ---- damaged stores ----

// Fills the store: table files (written under durability none, flushed at
// close), then more in the write-ahead log.
void populate(const rocksdb_options& base) {
  auto o = base;
  o.durability = durability::none;
  {
    auto s = make_rocksdb_store(o);
    ASSERT_TRUE(s) << s.error().message;
    for (std::uint64_t seq = 1; seq <= 50; ++seq)
      (*s)->messages().append("c", seq, message("t", std::string(64, 'x')), time_point{});
    (*s)->sessions().save(session_record{"c", protocol_version::v5, 60, {{"t", {qos::at_least_once}, 0}}});
    (*s)->retained().put(publish_packet("r", shared_bytes::copy("v"), qos::at_most_once, true), time_point{});
  }
  o.durability = durability::fsync;
  auto s = make_rocksdb_store(o);
  ASSERT_TRUE(s) << s.error().message;
  for (std::uint64_t seq = 51; seq <= 60; ++seq)
    (*s)->messages().append("c", seq, message("t", std::string(64, 'y')), time_point{});
}

// The files of the store whose name contains `part` ("" for all), but not
// RocksDB's LOCK and LOG.
std::vector<fs::path> files(const fs::path& dir, std::string_view part) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto n = e.path().filename().string();
    if (n == "LOCK" || n.starts_with("LOG")) continue;
    if (n.find(part) != std::string::npos) out.push_back(e.path());
  }
  return out;
}

void truncate_half(const fs::path& f) { fs::resize_file(f, fs::file_size(f) / 2); }

void garbage(const fs::path& f) {
  std::mt19937 rng(42);
  std::error_code ec;
  const auto size = std::max<std::uintmax_t>(fs::exists(f, ec) ? fs::file_size(f) : 0, 64);
  std::ofstream out(f, std::ios::binary | std::ios::trunc);
  for (std::uintmax_t i = 0; i < size; ++i) out.put(static_cast<char>(rng()));
}

// One bit flipped inside the first record of a log that is not empty (past
// its 7-byte header): the record no longer matches its checksum. (Garbage
// over a record's header reads to RocksDB as a log cut short when the length
// it finds runs past the end: that cannot be told from a torn write.)
void flip_bit(const fs::path& f) {
  if (fs::file_size(f) < 32) return;
  std::fstream io(f, std::ios::binary | std::ios::in | std::ios::out);
  io.seekg(20);
  char c = 0;
  io.get(c);
  io.seekp(20);
  io.put(static_cast<char>(c ^ 0x10));
}

// The files of a directory and their sizes, but for RocksDB's own LOG, which
// rotates at every attempt to open.
std::map<std::string, std::uintmax_t> listing(const fs::path& dir) {
  std::map<std::string, std::uintmax_t> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && !e.path().filename().string().starts_with("LOG"))
      out[e.path().filename().string()] = e.file_size();
  return out;
}

struct damage {
  const char* name;
  const char* files;  // part of the names of the files damaged
  void (*harm)(const fs::path&);
};

class Damaged : public Rocks, public ::testing::WithParamInterface<damage> {
 protected:
  void SetUp() override {
    populate(options());
    auto victims = files(dir_.data(), GetParam().files);
    ASSERT_FALSE(victims.empty());
    for (const auto& f : victims) GetParam().harm(f);
    log_.lines.clear();
  }
};

TEST_P(Damaged, IsMovedAsideAndAnEmptyStoreStarts) {
  const auto before = listing(dir_.data());
  auto s = open(options());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->retained().size(), 0u);
  EXPECT_FALSE(s->sessions().load("c"));
  EXPECT_EQ(queued(*s, "c"), 0u);

  const auto aside = dir_.root() / "data.damaged-20270115T080000Z";
  ASSERT_TRUE(fs::is_directory(aside));
  EXPECT_EQ(listing(aside), before);  // kept as it was, for inspection
  auto errors = log_.at(log_level::error);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(dir_.data().string() + " is damaged ("), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("Corruption"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("moved it to " + aside.string() + " and started with an empty store"), std::string::npos)
      << errors[0];

  // The new store works and persists.
  s->messages().append("c", 1, message("t", "new"), time_point{});
  s.reset();
  s = open(options());
  EXPECT_EQ(queued(*s, "c"), 1u);
}

TEST_P(Damaged, IsRefusedAndLeftAloneWhenAsked) {
  const auto before = listing(dir_.data());
  auto o = options();
  o.on_corruption = corruption_policy::refuse;
  auto s = make_rocksdb_store(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, make_error_code(errc::damaged));
  EXPECT_NE(s.error().message.find(dir_.data().string() + " is damaged ("), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("on_corruption = refuse"), std::string::npos) << s.error().message;
  EXPECT_EQ(listing(dir_.data()), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.root()), fs::directory_iterator()), 1);  // nothing moved
}

INSTANTIATE_TEST_SUITE_P(Files, Damaged,
                         ::testing::Values(damage{"AllTruncated", "", truncate_half}, damage{"AllGarbage", "", garbage},
                                           damage{"TablesTruncated", ".sst", truncate_half},
                                           damage{"TablesGarbage", ".sst", garbage},
                                           damage{"ManifestTruncated", "MANIFEST", truncate_half},
                                           damage{"ManifestGarbage", "MANIFEST", garbage},
                                           damage{"CurrentGarbage", "CURRENT", garbage},
                                           damage{"LogBitFlipped", ".log", flip_bit}),
                         [](const auto& info) { return std::string(info.param.name); });

// A MANIFEST cut short reads to RocksDB as an older history that names none
// of the table files; opened for writing, RocksDB would delete them. The
// read-only first look keeps every file, for refuse and for move_aside.
TEST_F(Rocks, ADamagedManifestLosesNoFiles) {
  {
    auto o = options(durability::none);
    auto s = open(o);
    for (std::uint64_t seq = 1; seq <= 50; ++seq) s->messages().append("c", seq, message("t", "x"), time_point{});
  }
  for (const auto& f : files(dir_.data(), "MANIFEST")) truncate_half(f);
  const auto before = listing(dir_.data());
  ASSERT_TRUE(std::any_of(before.begin(), before.end(), [](const auto& e) { return e.first.ends_with(".sst"); }));
  auto o = options();
  o.on_corruption = corruption_policy::refuse;
  auto refused = make_rocksdb_store(o);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("format marker is missing"), std::string::npos) << refused.error().message;
  EXPECT_EQ(listing(dir_.data()), before);
  ASSERT_TRUE(open(options()));
  EXPECT_EQ(listing(dir_.root() / "data.damaged-20270115T080000Z"), before);
}

TEST_F(Rocks, ALogCutShortIsACrashNotDamage) {
  populate(options());
  auto logs = files(dir_.data(), ".log");
  std::erase_if(logs, [](const fs::path& f) { return fs::file_size(f) == 0; });
  ASSERT_EQ(logs.size(), 1u);
  fs::resize_file(logs[0], fs::file_size(logs[0]) - 10);  // the last write, torn
  auto s = open(options());
  EXPECT_EQ(queued(*s, "c"), 59u);  // all but the torn one
  EXPECT_TRUE(log_.at(log_level::error).empty());
}

TEST_F(Rocks, StrayFilesAreNotDamage) {
  populate(options());
  garbage(dir_.data() / "notes.txt");
  auto s = open(options());
  EXPECT_EQ(queued(*s, "c"), 60u);
  EXPECT_TRUE(log_.at(log_level::error).empty());
}

TEST_F(Rocks, AStoreInUseIsNotMovedAside) {
  auto first = open(options());
  first->messages().append("c", 1, message("t", "x"), time_point{});
  auto second = make_rocksdb_store(options());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, make_error_code(errc::locked)) << second.error().message;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.root()), fs::directory_iterator()), 1);
  EXPECT_EQ(queued(*first, "c"), 1u);
}

TEST_F(Rocks, ADamagedStoreMovedAsideTwiceGetsTwoNames) {
  for (int round = 0; round < 2; ++round) {
    populate(options());
    for (const auto& f : files(dir_.data(), "CURRENT")) garbage(f);
    ASSERT_TRUE(open(options()));
  }
  EXPECT_TRUE(fs::is_directory(dir_.root() / "data.damaged-20270115T080000Z"));
  EXPECT_TRUE(fs::is_directory(dir_.root() / "data.damaged-20270115T080000Z-2"));
}

// Writes to the store's column families directly, as a damaged or newer
// store could hold them.
void raw_put(const fs::path& dir, const std::string& family, const std::string& key, const std::string& value) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* n : {"default", "retained", "sessions", "messages", "wills"})
    families.emplace_back(n, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions{}, dir.string(), families, &handles, &db).ok());
  for (std::size_t i = 0; i < families.size(); ++i)
    if (families[i].name == family) {
      EXPECT_TRUE(db->Put(rocksdb::WriteOptions{}, handles[i], key, value).ok());
    }
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  delete db;
}

TEST_F(Rocks, ANewerFormatIsRefusedNotMovedAside) {
  open(options()).reset();
  raw_put(dir_.data(), "default", "tern.storage.format", "2");
  auto s = make_rocksdb_store(options());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, make_error_code(errc::unsupported_format)) << s.error().message;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.root()), fs::directory_iterator()), 1);
}

TEST_F(Rocks, AnUndecodableRecordIsSkippedWithAWarning) {
  {
    auto s = open(options());
    s->sessions().save(session_record{"good", protocol_version::v5, 60, {}});
  }
  raw_put(dir_.data(), "sessions", "bad", std::string("\x01\x05garbage", 9));
  auto s = open(options());
  EXPECT_TRUE(s->sessions().load("good"));
  EXPECT_FALSE(s->sessions().load("bad"));
  int n = 0;
  s->sessions().for_each([&](const session_record&) { ++n; });
  EXPECT_EQ(n, 1);
  auto warnings = log_.at(log_level::warning);
  ASSERT_GE(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("skipping an unreadable session record"), std::string::npos) << warnings[0];
  EXPECT_TRUE(log_.at(log_level::error).empty());
}

TEST_F(Rocks, ANewDirectoryIsCreatedWithItsParents) {
  auto o = options();
  o.dir = dir_.root() / "a" / "b" / "data/";
  auto s = open(o);
  ASSERT_TRUE(s);
  EXPECT_TRUE(fs::exists(dir_.root() / "a" / "b" / "data" / "CURRENT"));
  auto bad = options();
  bad.dir.clear();
  auto r = make_rocksdb_store(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(errc::invalid_argument));
}

}  // namespace
}  // namespace tern::storage
