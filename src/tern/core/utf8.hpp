// tern/core/utf8.hpp: validation of MQTT UTF-8 Encoded Strings (MQTT 5.0
// section 1.5.4, 3.1.1 section 1.5.3): well-formed UTF-8 (RFC 3629: no
// overlong forms, nothing above U+10FFFF), no UTF-16 surrogates
// (U+D800..U+DFFF) and no U+0000.
//
//   if (auto e = tern::utf8::validate(topic)) return *e;   // e names the rule
#pragma once

#include <optional>
#include <string_view>

#include "tern/core/error.hpp"

namespace tern::utf8 {

// nullopt when `s` is a valid MQTT string, else a Malformed Packet error
// naming the rule it breaks.
std::optional<error> validate(std::string_view s) noexcept;

inline bool is_valid(std::string_view s) noexcept { return !validate(s).has_value(); }

// What is wrong with the characters of a Topic Name: not a valid MQTT string
// (the error, as validate() gives it) and whether it holds a wildcard ('+'
// or '#'). One pass, eight bytes at a time while the text is ASCII: the
// codec checks every PUBLISH's topic with it, topic::validate_name too.
struct name_chars {
  std::optional<error> encoding;
  bool wildcard = false;
};
name_chars check_topic_name(std::string_view s) noexcept;

}  // namespace tern::utf8
