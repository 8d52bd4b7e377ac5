// tern/auth/text_file.hpp: what the password and ACL file readers share: the
// refusal of a file (every problem, one line each, naming file and line),
// reading a file whole, and cutting text into numbered lines.
//
//   auth::file_result<auth::acl> a = auth::acl::load("/etc/ternd/acl");
//   if (!a) log(a.error().message);   // "acl:7: unknown keyword \"topik\"\nacl:9: ..."
//
//   for (auth::text_line l : auth::text_lines(text)) use(l.number, l.text);   // no '\n', no '\r'
//
// Files are read with the caller's thread; nothing here keeps state.
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "tern/conf/text.hpp"

namespace tern::auth {

// A refused file (tern/conf/error.hpp, as for configuration files): one
// line per problem, in file order, each "<file>:<line>: <what is wrong>" (or
// "<file>: <what>" when the file cannot be read). It never holds a password
// or a password hash. No trailing newline.
using file_error = conf::config_error;
template <class T>
using file_result = conf::config_result<T>;

// Collects the problems of one file and gives them back as a file_error.
class problems {
 public:
  explicit problems(std::string_view file) : file_(file) {}
  // Adds "<file>:<line>: <what>"; control characters of `what` are escaped.
  void add(std::size_t line, std::string_view what);
  bool empty() const noexcept { return message_.empty(); }
  file_error error() const { return file_error{message_}; }

 private:
  std::string file_;
  std::string message_;
};

// `s` with control characters escaped, so that a problem stays on its line
// of the refusal.
using conf::printable;

// The whole file at `path`, or "<path>: <why it cannot be read>".
file_result<std::string> read_text(const std::filesystem::path& path);

// Writes `text` to `path` through a temporary file in the same folder and a
// rename, so a reader sees the old file or the new one, never half of one.
// The new file keeps the mode of the one it replaces, or gets `mode` when
// there was none. "<path>: <why>" on failure.
file_result<void> write_text(const std::filesystem::path& path, std::string_view text, unsigned mode = 0600);

// One line of a text: its number (from 1) and its text without the line end
// ("\n", "\r\n").
struct text_line {
  std::size_t number;
  std::string_view text;
};

// Iterates the lines of a text (a last line without '\n' counts; an empty
// text has none).
class text_lines {
 public:
  explicit text_lines(std::string_view text) noexcept : text_(text) {}
  class iterator {
   public:
    iterator(std::string_view rest, std::size_t number) noexcept : rest_(rest), number_(number) { cut(); }
    text_line operator*() const noexcept { return {number_, line_}; }
    iterator& operator++() noexcept {
      rest_.remove_prefix(std::min(rest_.size(), next_));
      ++number_;
      cut();
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return done_ == o.done_ && (done_ || number_ == o.number_); }

   private:
    void cut() noexcept;
    std::string_view rest_;
    std::string_view line_;
    std::size_t next_ = 0;
    std::size_t number_;
    bool done_ = false;
  };
  iterator begin() const noexcept { return {text_, 1}; }
  iterator end() const noexcept { return {std::string_view{}, 0}; }

 private:
  std::string_view text_;
};

// `s` without spaces and tabs at either end.
std::string_view trim(std::string_view s) noexcept;

}  // namespace tern::auth
