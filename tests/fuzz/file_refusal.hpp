// tests/fuzz/file_refusal.hpp: the invariants of a refused file, shared by
// the fuzzers of the files users write (password_file_fuzz, acl_fuzz: a
// tern::auth::file_error; config_fuzz, gateway_config_fuzz: a
// tern::conf::config_error): one or more lines, each "<file>:<line>:..."
// with a line number of the text.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace tern::fuzz {

// Aborts (what libFuzzer reports), naming the invariant's line.
inline void check(bool ok, unsigned line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz: invariant at line %u of file_refusal.hpp or the fuzzer failed\n", line);
  std::abort();
}

// The number of lines of `text` as tern::auth::text_lines counts them (at least 1).
inline std::size_t line_count(std::string_view text) {
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  return lines;
}

// Every line of `message` is "<file>:<n>:..." with 1 <= n <= max_line (a
// TOML syntax error may point just past the last line: its callers pass
// line_count(text) + 1).
inline void check_refusal(std::string_view message, std::string_view file, std::size_t max_line) {
  check(!message.empty());
  while (true) {
    const auto end = message.find('\n');
    std::string_view line = message.substr(0, end);
    check(line.starts_with(file) && line.size() > file.size() && line[file.size()] == ':');
    line.remove_prefix(file.size() + 1);
    std::size_t n = 0, digits = 0;
    while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9' && digits < 12)
      n = n * 10 + static_cast<std::size_t>(line[digits++] - '0');
    check(digits > 0 && digits < line.size() && line[digits] == ':');
    check(n >= 1 && n <= max_line);
    if (end == std::string_view::npos) return;
    message.remove_prefix(end + 1);
  }
}

}  // namespace tern::fuzz
