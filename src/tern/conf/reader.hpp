// tern/conf/reader.hpp: reading a TOML configuration (toml++) key by key,
// refusing with every problem at once. Used by ternd's configuration
// (server/config.cpp) and the gateway's (gateway/config.cpp): each walks its
// own schema with a reader, which keeps the problems (with the line toml++
// recorded), words the usual refusals ("expected an integer between 1 and
// 65535, got \"ten\""), suggests the key meant for an unknown one, and lists
// the problems in file order.
//
//   auto doc = tern::conf::read_toml(text, "ternd.toml");   // or load_toml(path)
//   if (!doc) return doc.error();
//   tern::conf::reader r("ternd.toml");
//   r.for_each_key(*doc, "", "", known, [&](auto name, const toml::node& n, const std::string& key) {
//     if (name == "port") r.integer(n, key, 0, 65535, port);
//   });
//   if (r.problem_count() > 0) return tern::conf::config_error{r.message()};
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "tern/conf/error.hpp"
#include "tern/conf/text.hpp"

namespace tern::conf {

// The names a string value may take, and what each stands for.
template <class E>
using name_table = std::span<const std::pair<std::string_view, E>>;

template <class E>
std::string_view name_of(name_table<E> names, E value) noexcept {
  for (const auto& [name, v] : names)
    if (v == value) return name;
  return "?";
}

// A table of the schema and its keys, for suggesting a key written in the
// wrong table ("" names the top level).
struct section {
  std::string_view name;
  std::span<const std::string_view> keys;
};

inline constexpr std::int64_t u16_max = std::numeric_limits<std::uint16_t>::max();
inline constexpr std::int64_t u32_max = std::numeric_limits<std::uint32_t>::max();
inline constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();

// ---- text for refusals

// A value as a refusal quotes it: "ten", 70000, 1.5, true, an array...
std::string describe(const toml::node& n);
// "a" or "b"; "a", "b" or "c".
template <class E>
std::string alternatives(name_table<E> names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += quote(names[i].first);
  }
  return out;
}
// The known key closest to `key` written in table `table`, if one is close
// enough: one of `own_keys` first, else a key of another of `sections`,
// named with its table ("limits.max_inflight").
std::optional<std::string> suggestion(std::string_view key, std::string_view table,
                                      std::span<const std::string_view> own_keys, std::span<const section> sections);

// ---- the document

// `text` parsed, or a refusal "name:line:column: what toml++ says".
[[nodiscard]] config_result<toml::table> read_toml(std::string_view text, std::string_view name);
// The file at `path` (named as written): a directory, an unreadable file or
// one larger than `max_size` is refused with what is wrong.
[[nodiscard]] config_result<std::string> read_file(const std::filesystem::path& path,
                                                   std::size_t max_size = 4 << 20);

// ---- the walk

class reader {
 public:
  // `file` starts each refusal; `sections` is the schema, for suggestions.
  explicit reader(std::string_view file, std::span<const section> sections = {})
      : file_(file), sections_(sections) {}

  // A problem at `at`: "file:line: key: what".
  void refuse(const toml::source_region& at, std::string_view key, std::string_view what);
  void refuse(const toml::node& at, std::string_view key, std::string_view what) { refuse(at.source(), key, what); }

  std::size_t problem_count() const noexcept { return problems_.size(); }
  // All problems, in file order, one a line.
  std::string message();

  // Calls `read(name, node, full_key)` for every key of `t` listed in
  // `known`; refuses the others ("unknown key", with a suggestion). `table`
  // names `t` for suggestions ("" at the top), `prefix` how its keys are
  // named in refusals ("limits", "listeners[0]").
  void for_each_key(const toml::table& t, std::string_view table, std::string_view prefix,
                    std::span<const std::string_view> known,
                    const std::function<void(std::string_view, const toml::node&, const std::string&)>& read);

  // ---- one value each: true when read, else refused and `out` unchanged

  template <class T>
  bool integer(const toml::node& n, std::string_view key, std::int64_t lo, std::int64_t hi, T& out) {
    if (const auto* v = n.as_integer(); v && v->get() >= lo && v->get() <= hi) {
      out = static_cast<T>(v->get());
      return true;
    }
    refuse(n, key, fmt::format("expected an integer between {} and {}, got {}", lo, hi, describe(n)));
    return false;
  }
  bool boolean(const toml::node& n, std::string_view key, bool& out);
  bool string(const toml::node& n, std::string_view key, std::string& out);
  // A path as written (relative paths stay relative).
  bool path(const toml::node& n, std::string_view key, std::filesystem::path& out);
  template <class E>
  bool choice(const toml::node& n, std::string_view key, name_table<E> names, E& out) {
    if (const auto* v = n.as_string()) {
      for (const auto& [name, value] : names) {
        if (name == v->get()) {
          out = value;
          return true;
        }
      }
    }
    refuse(n, key, fmt::format("expected {}, got {}", alternatives(names), describe(n)));
    return false;
  }
  // `n` as a table, or refused ("expected a table ([key])").
  const toml::table* table(const toml::node& n, std::string_view key);

 private:
  struct problem {
    toml::source_index line;
    toml::source_index column;
    std::string text;
  };

  std::string_view file_;
  std::span<const section> sections_;
  std::vector<problem> problems_;
};

}  // namespace tern::conf
