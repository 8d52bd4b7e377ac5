#include "tern/conf/reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>
#include <system_error>

namespace tern::conf {

// ---- text for refusals

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: {
      std::string_view s = n.as_string()->get();
      constexpr std::size_t shown = 60;
      if (s.size() <= shown) return quote(s);
      std::size_t cut = shown;
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // a UTF-8 boundary
      return quote(s.substr(0, cut)) + "...";
    }
    case toml::node_type::integer: return fmt::format("{}", n.as_integer()->get());
    case toml::node_type::floating_point: {
      const double d = n.as_floating_point()->get();
      if (std::isnan(d)) return "nan";
      if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
      std::string s = fmt::format("{}", d);
      if (s.find_first_of(".eE") == std::string::npos) s += ".0";
      return s;
    }
    case toml::node_type::boolean: return n.as_boolean()->get() ? "true" : "false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

namespace {

char fold(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  return c == '-' ? '_' : c;
}

// Edit distance (insertions, deletions, substitutions, adjacent swaps),
// ignoring case and treating '-' as '_'.
std::size_t distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::size_t> d((n + 1) * (m + 1));
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]))
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
    }
  }
  return at(n, m);
}

}  // namespace

std::optional<std::string> suggestion(std::string_view key, std::string_view table,
                                      std::span<const std::string_view> own_keys, std::span<const section> sections) {
  const std::size_t limit = std::max<std::size_t>(1, key.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto known : own_keys) {
    const std::size_t dist = distance(key, known);
    if (dist < best_distance) {
      best_distance = dist;
      best = std::string(known);
    }
  }
  if (best) return best;
  for (const auto& s : sections) {
    if (s.name == table || s.name.empty()) continue;
    for (const auto known : s.keys) {
      const std::size_t dist = distance(key, known);
      if (dist < best_distance) {
        best_distance = dist;
        best = fmt::format("{}.{}", s.name, known);
      }
    }
  }
  return best;
}

// ---- the document

config_result<toml::table> read_toml(std::string_view text, std::string_view name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return config_error{
        fmt::format("{}:{}:{}: {}", name, e.source().begin.line, e.source().begin.column, printable(e.description()))};
  }
}

config_result<std::string> read_file(const std::filesystem::path& path, std::size_t max_size) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return config_error{fmt::format("{}: is a directory", name)};
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return config_error{fmt::format("{}: cannot open: {}", name, std::generic_category().message(errno))};
  // A configuration is small; the bound keeps `-c /dev/zero` from eating memory.
  std::string text;
  char buffer[16384];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get())) {
    text.append(buffer, n);
    if (text.size() > max_size)
      return config_error{fmt::format("{}: larger than {} KiB: not a configuration", name, max_size / 1024)};
  }
  if (std::ferror(file.get()))
    return config_error{fmt::format("{}: cannot read: {}", name, std::generic_category().message(errno))};
  return config_result<std::string>(boost::system::in_place_value, std::move(text));
}

// ---- the walk

void reader::refuse(const toml::source_region& at, std::string_view key, std::string_view what) {
  problems_.push_back(
      {at.begin.line, at.begin.column, fmt::format("{}:{}: {}: {}", file_, at.begin.line, printable(key), printable(what))});
}

std::string reader::message() {
  std::stable_sort(problems_.begin(), problems_.end(), [](const problem& a, const problem& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  std::string out;
  for (const auto& p : problems_) {
    if (!out.empty()) out += '\n';
    out += p.text;
  }
  return out;
}

void reader::for_each_key(const toml::table& t, std::string_view table, std::string_view prefix,
                          std::span<const std::string_view> known,
                          const std::function<void(std::string_view, const toml::node&, const std::string&)>& read) {
  for (const auto& [k, node] : t) {
    const std::string_view name = k.str();
    const std::string full = prefix.empty() ? std::string(name) : fmt::format("{}.{}", prefix, name);
    if (std::find(known.begin(), known.end(), name) != known.end()) {
      read(name, node, full);
      continue;
    }
    const bool is_section = node.is_table() || node.is_array_of_tables();
    std::string what = is_section ? "unknown section" : "unknown key";
    if (auto s = suggestion(name, table, known, sections_)) what += fmt::format("; did you mean {}?", quote(*s));
    refuse(k.source(), full, what);
  }
}

bool reader::boolean(const toml::node& n, std::string_view key, bool& out) {
  if (const auto* v = n.as_boolean()) {
    out = v->get();
    return true;
  }
  refuse(n, key, fmt::format("expected true or false, got {}", describe(n)));
  return false;
}

bool reader::string(const toml::node& n, std::string_view key, std::string& out) {
  if (const auto* v = n.as_string()) {
    out = v->get();
    return true;
  }
  refuse(n, key, fmt::format("expected a string, got {}", describe(n)));
  return false;
}

bool reader::path(const toml::node& n, std::string_view key, std::filesystem::path& out) {
  if (const auto* v = n.as_string()) {
    out = std::filesystem::path(v->get());
    return true;
  }
  refuse(n, key, fmt::format("expected a path (a string), got {}", describe(n)));
  return false;
}

const toml::table* reader::table(const toml::node& n, std::string_view key) {
  if (const auto* t = n.as_table()) return t;
  refuse(n, key, fmt::format("expected a table ([{}]), got {}", key, describe(n)));
  return nullptr;
}

}  // namespace tern::conf
