// tern/bench/proc.hpp: what Linux's /proc and getrusage say about a process:
// resident memory (VmRSS) and CPU time, for the broker under test and for
// the generator itself.
//
//   if (auto kib = tern::bench::resident_kib(pid)) ...
//   auto before = tern::bench::own_cpu();
#pragma once

#include <cstdint>
#include <optional>

namespace tern::bench {

// VmRSS of process `pid` in KiB, or nullopt if it cannot be read.
std::optional<std::uint64_t> resident_kib(int pid);
// User plus system CPU seconds of process `pid` (all its threads).
std::optional<double> cpu_seconds(int pid);

struct cpu_times {
  double user_s = 0;
  double system_s = 0;
};
// This process's CPU time so far (getrusage, all threads).
cpu_times own_cpu();

// CPU seconds every core of the machine has spent busy (not idle or waiting
// for I/O) since boot, from /proc/stat: what other programs used during a
// run is this difference minus the generator's and the broker's.
std::optional<double> machine_busy_seconds();

}  // namespace tern::bench
