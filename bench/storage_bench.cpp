// Storage benchmarks, to size the broker's group commit: appending 64 B QoS 1
// messages to a RocksDB store with durability fsync, one message per synced
// commit against many per commit; the batch and none policies beside them;
// and the time to open (recover) a store holding N retained and N queued
// messages. Run a release build (the store lives under $TMPDIR; its disk
// decides the fsync figures):
//
//   cmake --preset release && cmake --build --preset release --target storage_bench
//   build/release/bin/storage_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "tern/storage/rocksdb_store.hpp"

namespace {

using namespace tern;
using namespace tern::storage;
namespace fs = std::filesystem;

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "tern_storage_bench.XXXXXX").string();
    if (::mkdtemp(pattern.data())) path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path data() const { return path_ / "data"; }

 private:
  fs::path path_;
};

std::unique_ptr<store> open(const fs::path& dir, durability d) {
  rocksdb_options o;
  o.dir = dir;
  o.durability = d;
  auto s = make_rocksdb_store(o);
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

publish_packet message64() {
  return publish_packet("sensors/kitchen/temperature", shared_bytes::copy(std::string(64, 'x')), qos::at_least_once);
}

// range(0): messages per commit; range(1): durability.
void BM_Append(benchmark::State& state) {
  const auto per_commit = static_cast<std::uint64_t>(state.range(0));
  const auto d = static_cast<durability>(state.range(1));
  temp_dir dir;
  auto s = open(dir.data(), d);
  const auto m = message64();
  write_batch b;
  std::uint64_t seq = 0;
  const auto before = s->stats();
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < per_commit; ++i) b.append("subscriber-0001", ++seq, m, time_point{});
    if (!s->commit(b)) state.SkipWithError("commit failed");
    b.clear();
  }
  const auto after = s->stats();
  state.SetItemsProcessed(static_cast<std::int64_t>(seq));
  state.counters["syncs"] = static_cast<double>(after.disk_syncs - before.disk_syncs);
  state.counters["msgs_per_sync"] =
      after.disk_syncs > before.disk_syncs
          ? static_cast<double>(seq) / static_cast<double>(after.disk_syncs - before.disk_syncs)
          : 0;
}
BENCHMARK(BM_Append)
    ->ArgNames({"per_commit", "durability"})
    ->Args({1, static_cast<int>(durability::fsync)})
    ->Args({10, static_cast<int>(durability::fsync)})
    ->Args({100, static_cast<int>(durability::fsync)})
    ->Args({1000, static_cast<int>(durability::fsync)})
    ->Args({1, static_cast<int>(durability::batch)})
    ->Args({100, static_cast<int>(durability::batch)})
    ->Args({1, static_cast<int>(durability::none)})
    ->Args({100, static_cast<int>(durability::none)})
    ->UseRealTime();

// range(0): retained and queued messages (N of each) in the store.
void BM_Recover(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  temp_dir dir;
  {
    auto s = open(dir.data(), durability::none);  // flushed to table files at close
    const auto m = message64();
    write_batch b;
    for (std::uint64_t i = 0; i < n; ++i) {
      publish_packet r = m;
      r.retain = true;
      r.set_topic("sensors/" + std::to_string(i % 1000) + "/" + std::to_string(i));
      b.put_retained(r, time_point{});
      b.append("client-" + std::to_string(i % 1000), i, m, time_point{});
      if (b.size() >= 2000) {
        (void)s->commit(b);
        b.clear();
      }
    }
    (void)s->commit(b);
  }
  for (auto _ : state) {
    auto s = open(dir.data(), durability::fsync);
    benchmark::DoNotOptimize(s->retained().size());
  }
  state.counters["messages"] = static_cast<double>(2 * n);
}
BENCHMARK(BM_Recover)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

}  // namespace
