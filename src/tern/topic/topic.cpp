#include "tern/topic/topic.hpp"

#include "tern/core/utf8.hpp"

namespace tern::topic {
namespace {

// Rule texts: the MQTT 5.0 conformance statement first, then the 3.1.1 one
// when 3.1.1 has the rule under another number. Shared Subscriptions exist in
// 5.0 only.
constexpr std::string_view name_empty = "MQTT-4.7.3-1 (3.1.1: MQTT-4.7.3-1): topic name is empty";
constexpr std::string_view name_too_long =
    "MQTT-4.7.3-3 (3.1.1: MQTT-4.7.3-3): topic name longer than 65535 bytes";
constexpr std::string_view name_null = "MQTT-4.7.3-2 (3.1.1: MQTT-4.7.3-2): topic name contains U+0000";
constexpr std::string_view name_wildcard =
    "MQTT-3.3.2-2, MQTT-4.7.0-1 (3.1.1: MQTT-3.3.2-2, MQTT-4.7.1-1): wildcard '+' or '#' in a topic name";

constexpr std::string_view filter_empty = "MQTT-4.7.3-1 (3.1.1: MQTT-4.7.3-1): topic filter is empty";
constexpr std::string_view filter_too_long =
    "MQTT-4.7.3-3 (3.1.1: MQTT-4.7.3-3): topic filter longer than 65535 bytes";
constexpr std::string_view filter_null = "MQTT-4.7.3-2 (3.1.1: MQTT-4.7.3-2): topic filter contains U+0000";
constexpr std::string_view hash_not_last = "MQTT-4.7.1-1 (3.1.1: MQTT-4.7.1-2): '#' not last";
constexpr std::string_view hash_not_whole_level =
    "MQTT-4.7.1-1 (3.1.1: MQTT-4.7.1-2): '#' not alone in its level";
constexpr std::string_view plus_not_whole_level =
    "MQTT-4.7.1-2 (3.1.1: MQTT-4.7.1-3): '+' not alone in its level";
constexpr std::string_view share_name_empty = "MQTT-4.8.2-1 (5.0 only): ShareName is empty";
constexpr std::string_view share_name_wildcard = "MQTT-4.8.2-2 (5.0 only): ShareName contains '+' or '#'";
constexpr std::string_view share_no_filter =
    "MQTT-4.8.2-2 (5.0 only): ShareName not followed by '/' and a topic filter";

// The checks Topic Names and Topic Filters share: length, U+0000, UTF-8.
std::optional<error> check_string(std::string_view s, reason r, std::string_view empty,
                                  std::string_view too_long, std::string_view null) noexcept {
  if (s.empty()) return error{r, empty};
  if (s.size() > max_length) return error{r, too_long};
  if (auto e = utf8::validate(s)) {
    if (s.find('\0') != std::string_view::npos) return error{r, null};
    return error{r, e->detail};  // utf8's detail names MQTT-1.5.4-x; the reason is ours
  }
  return std::nullopt;
}

// The wildcard rules of a non-empty, non-shared Topic Filter.
std::optional<error> check_wildcards(std::string_view f) noexcept {
  const std::size_t n = f.size();
  for (std::size_t i = f.find_first_of("+#"); i != std::string_view::npos; i = f.find_first_of("+#", i + 1)) {
    const bool starts_level = i == 0 || f[i - 1] == '/';
    if (f[i] == '#') {
      if (!starts_level) return error{reason::topic_filter_invalid, hash_not_whole_level};
      if (i + 1 != n) return error{reason::topic_filter_invalid, hash_not_last};
    } else {
      if (!starts_level || (i + 1 != n && f[i + 1] != '/'))
        return error{reason::topic_filter_invalid, plus_not_whole_level};
    }
  }
  return std::nullopt;
}

// Splits "$share/{ShareName}/{filter}" (the caller checked the prefix) and
// checks the ShareName; the inner filter is not checked here.
result<shared_filter> split_shared(std::string_view f) noexcept {
  std::string_view rest = f.substr(share_prefix.size());
  const std::size_t slash = rest.find('/');
  std::string_view group = rest.substr(0, slash);
  // A ShareName cannot contain '/': the first '/' ends it.
  if (group.empty()) return error{reason::topic_filter_invalid, share_name_empty};
  if (group.find_first_of("+#") != std::string_view::npos)
    return error{reason::topic_filter_invalid, share_name_wildcard};
  if (slash == std::string_view::npos || slash + 1 == rest.size())
    return error{reason::topic_filter_invalid, share_no_filter};
  return shared_filter{group, rest.substr(slash + 1)};
}

}  // namespace

std::optional<error> validate_name(std::string_view name) noexcept {
  constexpr auto r = reason::topic_name_invalid;
  if (name.empty()) return error{r, name_empty};
  if (name.size() > max_length) return error{r, name_too_long};
  const auto c = utf8::check_topic_name(name);
  if (c.encoding) return name.find('\0') != std::string_view::npos ? error{r, name_null} : error{r, c.encoding->detail};
  if (c.wildcard) return error{r, name_wildcard};
  return std::nullopt;
}

std::optional<error> validate_filter(std::string_view filter) noexcept {
  if (auto e = check_string(filter, reason::topic_filter_invalid, filter_empty, filter_too_long, filter_null))
    return e;
  if (filter.starts_with(share_prefix)) {
    auto s = split_shared(filter);
    if (!s) return s.error();
    return check_wildcards(s->filter);
  }
  return check_wildcards(filter);
}

bool has_wildcard(std::string_view filter) noexcept {
  return filter.find_first_of("+#") != std::string_view::npos;
}

bool matches(std::string_view filter, std::string_view name) noexcept {
  // MQTT-4.7.2-1: a filter starting with a wildcard never matches a '$' name.
  if (!name.empty() && name.front() == '$' && !filter.empty() && (filter.front() == '+' || filter.front() == '#'))
    return false;
  std::size_t fi = 0, ni = 0;
  bool name_done = false;  // every level of the name has been consumed
  for (;;) {
    std::size_t fe = filter.find('/', fi);
    if (fe == std::string_view::npos) fe = filter.size();
    const std::string_view fl = filter.substr(fi, fe - fi);
    if (fl == "#") return true;  // the parent level and any number of levels below it
    if (name_done) return false;
    std::size_t ne = name.find('/', ni);
    if (ne == std::string_view::npos) ne = name.size();
    if (fl != "+" && fl != name.substr(ni, ne - ni)) return false;
    const bool name_last = ne == name.size();
    if (fe == filter.size()) return name_last;
    fi = fe + 1;
    if (name_last)
      name_done = true;
    else
      ni = ne + 1;
  }
}

result<std::optional<shared_filter>> parse_shared(std::string_view filter) noexcept {
  if (!filter.starts_with(share_prefix)) return std::optional<shared_filter>{};
  if (auto e = validate_filter(filter)) return *e;
  auto s = split_shared(filter);  // cannot fail: validate_filter split it already
  return std::optional<shared_filter>{*s};
}

}  // namespace tern::topic
