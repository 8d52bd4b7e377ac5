// tern/topic/topic.hpp: Topic Names and Topic Filters (MQTT 5.0 section 4.7,
// 3.1.1 section 4.7) and Shared Subscriptions (MQTT 5.0 section 4.8.2):
// validation that names the rule a string breaks, wildcard matching, and the
// split of "$share/{ShareName}/{filter}".
//
//   if (auto e = tern::topic::validate_filter(f)) return *e;   // e->detail names the rule
//   tern::topic::matches("sport/+/player1", "sport/tennis/player1");   // true
//   tern::topic::matches("#", "$SYS/broker/load");                     // false (MQTT-4.7.2-1)
//
//   auto s = tern::topic::parse_shared("$share/group1/sport/#");
//   if (!s) return s.error();                 // a malformed shared filter
//   if (*s) subscribe_shared((*s)->group, (*s)->filter);   // "group1", "sport/#"
//
// Everything here is pure and allocation-free: no I/O, no clock, no global.
// The subscription index that matches one name against many filters lives in
// tern/topic/trie.hpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "tern/core/error.hpp"
#include "tern/core/result.hpp"

namespace tern::topic {

// The longest Topic Name or Topic Filter, in bytes (MQTT-4.7.3-3).
inline constexpr std::size_t max_length = 65'535;
// The prefix of a Shared Subscription's Topic Filter (MQTT-4.8.2-1).
inline constexpr std::string_view share_prefix = "$share/";

// nullopt when `name` is a valid Topic Name (at least one byte, at most 65535,
// valid MQTT UTF-8 without U+0000, no '+' or '#'); otherwise a
// reason::topic_name_invalid error whose detail names the rule broken.
[[nodiscard]] std::optional<error> validate_name(std::string_view name) noexcept;

// nullopt when `filter` is a valid Topic Filter: at least one byte, at most
// 65535, valid MQTT UTF-8 without U+0000, '#' alone or as the last level, '+'
// as a whole level; a "$share/" filter must also have a ShareName of at least
// one character without '/', '+' or '#', followed by '/' and a valid filter.
// Otherwise a reason::topic_filter_invalid error whose detail names the rule.
[[nodiscard]] std::optional<error> validate_filter(std::string_view filter) noexcept;

// True when `filter` contains a '+' or a '#'.
[[nodiscard]] bool has_wildcard(std::string_view filter) noexcept;

// True when the Topic Name `name` matches the Topic Filter `filter` (MQTT 5.0
// 4.7.1): '+' matches exactly one level (possibly empty), '#' matches its
// parent level and any number of levels below it, and a filter starting with a
// wildcard never matches a name starting with '$' (MQTT-4.7.2-1). Levels are
// compared byte for byte, with no normalisation (MQTT-4.7.3-4).
// Both arguments should be valid (see validate_*); for invalid ones the answer
// is unspecified but the call is still safe. A "$share/" filter is compared
// literally: strip it first with parse_shared().
[[nodiscard]] bool matches(std::string_view filter, std::string_view name) noexcept;

// The parts of "$share/{ShareName}/{filter}", as views into the input.
struct shared_filter {
  std::string_view group;   // the ShareName
  std::string_view filter;  // the Topic Filter the group subscribes to
};

// nullopt when `filter` does not start with "$share/" (an ordinary filter,
// which this function does not validate); the group and the inner filter when
// it is a valid shared filter; a reason::topic_filter_invalid error naming the
// rule when it starts with "$share/" but is not a valid Topic Filter.
[[nodiscard]] result<std::optional<shared_filter>> parse_shared(std::string_view filter) noexcept;

}  // namespace tern::topic
