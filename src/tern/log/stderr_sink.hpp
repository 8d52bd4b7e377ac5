// tern/log/stderr_sink.hpp: the sink programs use, backed by spdlog: one line
// per record, UTC timestamp to the millisecond, level, channel, message:
//
//   2026-11-23T02:20:00.123Z info broker: listening on 127.0.0.1:1883
//
//   tern::log::logger log{tern::log::make_stderr_sink(), "ternd", tern::log::level::info};
//
// The level is coloured when stderr is a terminal. Only programs (apps/)
// create sinks; libraries receive a logger. Thread safety: write() may be
// called from any thread; lines never interleave.
#pragma once

#include <iosfwd>
#include <memory>

#include "tern/log/log.hpp"

namespace tern::log {

// Writes to stderr.
std::shared_ptr<sink> make_stderr_sink();
// Writes the same lines to `out` (never coloured), which must outlive the
// sink; flushed after every line.
std::shared_ptr<sink> make_ostream_sink(std::ostream& out);

}  // namespace tern::log
