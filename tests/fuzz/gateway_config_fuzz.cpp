// libFuzzer target for the gateway's configuration loader,
// tern::gateway::parse_config, fed any text as a TOML document.
//
// Invariants: it returns a configuration or a refusal and throws nothing; a
// refusal is one or more lines, each naming the file and a line of the text
// (file_refusal.hpp); an accepted configuration's paths are absolute.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "file_refusal.hpp"
#include "tern/gateway/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using tern::fuzz::check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tern::gateway::config_result<tern::gateway::config> r = tern::gateway::config_error{};
  try {
    r = tern::gateway::parse_config(text, "fuzz.toml", "/etc/tern");
  } catch (...) {
    std::abort();  // documented to return its failures, never to throw them
  }
  if (!r) {
    tern::fuzz::check_refusal(r.error().message, "fuzz.toml", tern::fuzz::line_count(text) + 1);
    return 0;
  }
  check(r->map.file.empty() || r->map.file.is_absolute());
  check(r->mqtt.persistence_dir.empty() || r->mqtt.persistence_dir.is_absolute());
  check(r->interface.library.empty() || r->interface.library.is_absolute());
  return 0;
}
