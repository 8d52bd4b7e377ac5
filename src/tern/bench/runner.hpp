// tern/bench/runner.hpp: runs one benchmark scenario against a broker over
// TCP and measures it. The load generator works on the codec directly: each
// publisher encodes its PUBLISH once with tern::encode and patches the packet
// id and the payload stamp for every message; acknowledgements (PUBACK,
// PUBREC/PUBREL/PUBCOMP) are encoded and decoded with the codec too. Many
// connections share few threads (one net::reactor each); each loop turn ends
// with one write per connection that has something to send, so PUBLISHes
// and acknowledgements go out many per system call.
//
//   tern::bench::options o;   // options.hpp
//   o.scenario = tern::bench::scenario::fan_in;
//   auto r = tern::bench::run(o, [](const tern::bench::progress& p) { show(p); });
//   std::cout << tern::bench::to_json(r) << '\n';
//
// Thread safety: run() starts options.threads threads and joins them before
// it returns; the progress callback is called on the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "tern/bench/options.hpp"
#include "tern/bench/report.hpp"

namespace tern::bench {

struct progress {
  std::string_view phase;  // "connecting", "running", "draining", "holding"
  double elapsed_s = 0;    // since the phase began
  std::uint32_t connected = 0;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
};
using progress_callback = std::function<void(const progress&)>;

// Runs the scenario of `o` (which must pass o.check()); about once a
// second calls `on_progress` when it is set. Never throws for network or
// broker trouble: the report says what went wrong.
report run(const options& o, const progress_callback& on_progress = {});

}  // namespace tern::bench
