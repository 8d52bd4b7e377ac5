// tern/bench/report.hpp: the figures of one `tern bench` run, and their
// rendering as one JSON object (one line) with the scenario's parameters.
//
//   tern::bench::report r = tern::bench::run(o);
//   std::cout << tern::bench::to_json(r) << '\n';
//   if (!r.ok()) return 1;
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tern/bench/histogram.hpp"
#include "tern/bench/options.hpp"

namespace tern::bench {

struct report {
  bench::options options;
  std::string error;  // why the run failed; empty when it ran

  // Connections
  std::uint32_t connections = 0;   // ready at the start of the run
  double connect_s = 0;            // from the first connect to the last CONNACK/SUBACK
  std::uint32_t receive_maximum = 0;  // the smallest the broker announced (5.0); 0: none announced
  std::uint64_t disconnects = 0;   // connections the broker closed, or lost, during the run
  std::string disconnect_reason;   // the first one's
  std::uint64_t pings = 0;         // PINGREQs sent

  // Messages (all streams, all receivers)
  std::uint64_t sent = 0;        // PUBLISHes written
  std::uint64_t expected = 0;    // sent times the receivers each message should reach
  std::uint64_t received = 0;    // arrivals, duplicates included, drain included
  std::uint64_t received_in_run = 0;  // arrivals before publishing stopped
  std::uint64_t lost = 0;        // expected and never received, after the drain
  std::uint64_t duplicated = 0;  // received more than once by the same receiver
  std::uint64_t reordered = 0;   // arrived after a higher number of its stream
  std::uint64_t unexpected = 0;  // PUBLISHes without a stamp of this run
  std::uint64_t refused = 0;     // PUBACK/PUBREC with a failure reason (5.0)
  double duration_s = 0;         // of publishing (idle: of holding)
  double drain_s = 0;            // waited after publishing stopped
  histogram latency;             // nanoseconds, send to receive, every arrival

  // The generator itself, during the run phase
  double cpu_user_s = 0;
  double cpu_system_s = 0;
  std::uint64_t write_calls = 0;
  std::uint64_t read_calls = 0;

  // The whole machine during the run phase: busy CPU seconds of every core,
  // and how many cores it has (other programs used busy minus ours minus the broker's).
  std::optional<double> machine_busy_s;
  unsigned machine_cores = 0;

  // The broker (with options.broker_pid)
  std::optional<std::uint64_t> broker_rss_before_kib;  // before connecting
  std::optional<std::uint64_t> broker_rss_after_kib;   // idle: after holding; others: at the end of the run
  std::optional<double> broker_cpu_s;                   // during the run phase

  bool ok() const noexcept { return error.empty(); }
  // Arrivals per second during the run (before publishing stopped).
  double received_per_s() const noexcept;
  double sent_per_s() const noexcept;
  // Cores the generator used during the run (1.0 = one core saturated).
  double generator_cores() const noexcept;
  // Cores used during the run by programs other than the generator and the
  // broker (needs broker_pid): a busy machine makes figures unreliable.
  std::optional<double> other_cores() const noexcept;
};

// One line of JSON, without a newline.
std::string to_json(const report& r);

}  // namespace tern::bench
