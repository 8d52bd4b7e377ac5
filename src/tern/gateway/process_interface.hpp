// tern/gateway/process_interface.hpp: the built-in "process" interface: the
// gateway starts a program and exchanges one JSON object per line with it
// (tern/gateway/json_line.hpp), so that a device driver in any language is
// an interface. Commands go to the program's stdin; statuses (or commands)
// come from its stdout; each line of its stderr is logged (info). A line
// that is not a message is logged (warn) and counted, and the rest go on.
//
//   # [interface]
//   # name = "process"
//   # command = ["/usr/bin/python3", "driver.py"]   # the program and its arguments (PATH searched)
//
//   tern::gateway::process_interface p;
//   tern::gateway::interface_context io{settings, commands, statuses, log};
//   std::thread t([&] { auto r = p.run(io); });     // returns when the program ends: an error
//   ...
//   p.stop(); t.join();   // closes the program's stdin, then SIGTERM after 1 s, SIGKILL after 2 s
//
// POSIX only (glibc 2.34 or later). The program inherits stdin, stdout and
// stderr only, whatever else the gateway has open. run() blocks SIGPIPE on its own thread (a program that closed
// its stdin must not kill the gateway).
#pragma once

#include <atomic>
#include <cstddef>

#include "tern/gateway/interface.hpp"

namespace tern::gateway {

class process_interface final : public interface {
 public:
  process_interface();
  ~process_interface() override;
  process_interface(const process_interface&) = delete;
  process_interface& operator=(const process_interface&) = delete;

  // Starts the program named by io.settings["command"] and relays until
  // stop(), io.commands closed (both: success), or the program's end or
  // failure to start (an error; the exit status is logged).
  result<void> run(interface_context& io) override;
  void stop() override;

  // Lines from the program's stdout that were not messages, since construction.
  [[nodiscard]] std::size_t bad_lines() const noexcept { return bad_lines_.load(); }

 private:
  void wake() noexcept;

  int wake_read_ = -1;
  int wake_write_ = -1;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::size_t> bad_lines_{0};
};

}  // namespace tern::gateway
