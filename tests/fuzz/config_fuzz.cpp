// libFuzzer target for the broker's configuration loader,
// tern::server::parse_config, fed any text as a TOML document.
//
// Invariants: it returns a configuration or a refusal and throws nothing (it
// catches toml++'s parse_error itself); a refusal is one or more lines, each
// naming the file and a line of the text ("<file>:<line>: ..." or, for TOML
// syntax, "<file>:<line>:<column>: ..."; see strict_refusal_lines); a
// configuration it accepts is written back by to_toml() as a document it
// reads to an equal value.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tern/server/config.hpp"

namespace {

// Aborts (what libFuzzer reports), naming the invariant's line.
void check(bool ok, unsigned line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "config_fuzz: invariant at line %u failed\n", line);
  std::abort();
}

constexpr std::string_view file = "fuzz.toml";

// Every line of a refusal is checked (false: the first only). A control
// character of a key or of toml++'s description once split a problem's
// line; the refusal escapes them now (config.cpp, printable()).
constexpr bool strict_refusal_lines = true;

// "<file>:<line>:" with a line number between 1 and `lines` (a TOML syntax
// error may point just past the end).
void check_refusal_line(std::string_view line, std::size_t lines) {
  check(line.starts_with(file) && line.size() > file.size() && line[file.size()] == ':');
  line.remove_prefix(file.size() + 1);
  std::size_t n = 0, digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9' && digits < 12)
    n = n * 10 + static_cast<std::size_t>(line[digits++] - '0');
  check(digits > 0 && digits < line.size() && line[digits] == ':');
  check(n >= 1 && n <= lines + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;

  tern::server::config_result<tern::server::config> r = tern::server::config_error{};
  try {
    r = tern::server::parse_config(text, file);
  } catch (...) {
    std::abort();  // documented to return its failures, never to throw them
  }
  if (!r) {
    const std::string& m = r.error().message;
    check(!m.empty());
    std::size_t start = 0;
    while (start <= m.size()) {
      const std::size_t end = std::min(m.find('\n', start), m.size());
      check_refusal_line(std::string_view(m).substr(start, end - start), lines);
      if (!strict_refusal_lines) break;
      start = end + 1;
    }
    return 0;
  }
  const std::string again = tern::server::to_toml(*r);
  auto back = tern::server::parse_config(again, "again.toml");
  check(back.has_value());
  check(*back == *r);
  return 0;
}
