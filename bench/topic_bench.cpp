// Micro-benchmarks of tern::topic: matching one Topic Name against a
// subscription_trie of 100,000 filters, building that trie, and matches() and
// the validators on single strings.
//
//   build/release/bin/topic_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tern/topic/topic.hpp"
#include "tern/topic/trie.hpp"

namespace {

using namespace tern::topic;
using trie = subscription_trie<std::uint32_t, std::uint8_t>;

constexpr const char* metrics[] = {"temperature", "humidity", "power", "voltage", "status",
                                   "pressure",    "co2",      "rssi",  "battery", "uptime"};
constexpr int sites = 1000, devices = 100, n_metrics = 10;

std::string exact(int site, int device, int metric) {
  return "site/" + std::to_string(site) + "/device/" + std::to_string(device) + "/" + metrics[metric];
}

// A realistic mix: 90% exact "site/N/device/M/metric", 7% with '+', 3% with '#'.
std::vector<std::string> make_filters(std::size_t n) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> site(0, sites - 1), device(0, devices - 1), metric(0, n_metrics - 1),
      kind(0, 99);
  std::vector<std::string> out;
  out.reserve(n);
  while (out.size() < n) {
    const int k = kind(rng), s = site(rng), d = device(rng), m = metric(rng);
    if (k < 90)
      out.push_back(exact(s, d, m));
    else if (k < 94)
      out.push_back("site/" + std::to_string(s) + "/device/+/" + metrics[m]);
    else if (k < 97)
      out.push_back("site/+/device/" + std::to_string(d) + "/" + metrics[m]);
    else if (k < 99)
      out.push_back("site/" + std::to_string(s) + "/device/" + std::to_string(d) + "/#");
    else
      out.push_back("site/" + std::to_string(s) + "/#");
  }
  return out;
}

std::vector<std::string> make_names(std::size_t n) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> site(0, sites - 1), device(0, devices - 1), metric(0, n_metrics - 1);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(exact(site(rng), device(rng), metric(rng)));
  return out;
}

const std::vector<std::string>& filters_100k() {
  static const std::vector<std::string> f = make_filters(100'000);
  return f;
}

const trie& trie_100k() {
  static const trie t = [] {
    trie t;
    std::uint32_t key = 0;
    for (const auto& f : filters_100k()) t.insert(f, key++, 1);
    return t;
  }();
  return t;
}

// Match published names against 100,000 filters.
void BM_TrieMatch(benchmark::State& state) {
  const trie& t = trie_100k();
  const auto names = make_names(4096);
  std::size_t i = 0, matched = 0;
  for (auto _ : state) {
    std::size_t hits = 0;
    t.match(names[i++ & 4095], [&](std::uint32_t, std::uint8_t, std::string_view) { ++hits; });
    benchmark::DoNotOptimize(hits);
    matched += hits;
  }
  state.counters["filters"] = static_cast<double>(t.size());
  state.counters["matches/name"] = static_cast<double>(matched) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrieMatch);

// A name in another branch: the cost of finding nothing.
void BM_TrieMatchMiss(benchmark::State& state) {
  const trie& t = trie_100k();
  std::size_t hits = 0;
  for (auto _ : state) {
    t.match("factory/7/line/3/speed", [&](std::uint32_t, std::uint8_t, std::string_view) { ++hits; });
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrieMatchMiss);

// Build a trie of N filters; the filter strings exist beforehand and freeing
// the trie is not timed.
void BM_TrieInsert(benchmark::State& state) {
  const auto& all = filters_100k();
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto t = std::make_unique<trie>();
    std::uint32_t key = 0;
    for (std::size_t i = 0; i < n; ++i) t->insert(all[i], key++, 1);
    benchmark::DoNotOptimize(t->size());
    state.PauseTiming();
    t.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TrieInsert)->Arg(100'000)->Unit(benchmark::kMillisecond);

// matches() on one filter and one name.
void BM_MatchesWildcards(benchmark::State& state) {
  std::string_view filter = "site/+/device/+/temperature", name = "site/417/device/23/temperature";
  for (auto _ : state) {
    benchmark::DoNotOptimize(filter);
    benchmark::DoNotOptimize(name);
    benchmark::DoNotOptimize(matches(filter, name));
  }
}
BENCHMARK(BM_MatchesWildcards);

void BM_MatchesHash(benchmark::State& state) {
  std::string_view filter = "site/417/#", name = "site/417/device/23/temperature";
  for (auto _ : state) {
    benchmark::DoNotOptimize(filter);
    benchmark::DoNotOptimize(name);
    benchmark::DoNotOptimize(matches(filter, name));
  }
}
BENCHMARK(BM_MatchesHash);

void BM_ValidateName(benchmark::State& state) {
  std::string_view name = "site/417/device/23/temperature";
  for (auto _ : state) {
    benchmark::DoNotOptimize(name);
    benchmark::DoNotOptimize(validate_name(name));
  }
}
BENCHMARK(BM_ValidateName);

void BM_ValidateFilter(benchmark::State& state) {
  std::string_view filter = "$share/g1/site/+/device/+/temperature";
  for (auto _ : state) {
    benchmark::DoNotOptimize(filter);
    benchmark::DoNotOptimize(validate_filter(filter));
  }
}
BENCHMARK(BM_ValidateFilter);

}  // namespace
