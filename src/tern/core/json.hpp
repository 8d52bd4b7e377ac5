// tern/core/json.hpp: writing a JSON string. What tern writes as JSON by
// hand (gateway payloads, `tern sub -F json` lines) is small and flat; a
// library would cost more than these lines. Reading JSON is nlohmann-json's.
#pragma once

#include <string>
#include <string_view>

namespace tern {

// Appends `s` to `out` as a JSON string: quoted, with '"', '\' and control
// characters escaped (\n, \t, ..., \u001b). Other bytes pass as they are.
void append_json_string(std::string& out, std::string_view s);

}  // namespace tern
