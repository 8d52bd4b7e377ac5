// libFuzzer target for the broker's configuration loader,
// tern::server::parse_config, fed any text as a TOML document.
//
// Invariants: it returns a configuration or a refusal and throws nothing (it
// catches toml++'s parse_error itself); a refusal is one or more lines, each
// naming the file and a line of the text ("<file>:<line>: ..." or, for TOML
// syntax, "<file>:<line>:<column>: ..."; see strict_refusal_lines); a
// configuration it accepts is written back by to_toml() as a document it
// reads to an equal value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "file_refusal.hpp"
#include "tern/server/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using tern::fuzz::check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tern::server::config_result<tern::server::config> r = tern::server::config_error{};
  try {
    r = tern::server::parse_config(text, "fuzz.toml");
  } catch (...) {
    std::abort();  // documented to return its failures, never to throw them
  }
  if (!r) {
    // Every line: a control character of a key or of toml++'s description
    // once split a problem's line; the refusal escapes them now (printable()).
    tern::fuzz::check_refusal(r.error().message, "fuzz.toml", tern::fuzz::line_count(text) + 1);
    return 0;
  }
  const std::string again = tern::server::to_toml(*r);
  auto back = tern::server::parse_config(again, "again.toml");
  check(back.has_value());
  check(*back == *r);
  return 0;
}
