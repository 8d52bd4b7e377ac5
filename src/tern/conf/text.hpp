// tern/conf/text.hpp: text from a file a user wrote, made safe to quote in a
// refusal (tern/conf/error.hpp). Shared by the configuration readers
// (conf/reader.hpp) and the password and ACL file readers (tern/auth).
#pragma once

#include <string>
#include <string_view>

#include "tern/conf/error.hpp"

namespace tern::conf {

// `s` with its control characters escaped (\n, \x1b...): text from the
// document must not break a refusal's one line per problem or reach a
// terminal raw.
std::string printable(std::string_view s);
// `s` as a TOML basic string: "a\"b".
std::string quote(std::string_view s);

}  // namespace tern::conf
