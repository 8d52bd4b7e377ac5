// libFuzzer target for mqttgateway's mapping file, tern::gateway::message_map::parse,
// fed any text as a map file.
//
// Invariants: it throws nothing; a refusal is one or more lines, each
// starting with the file name; a map it accepts translates every token it
// lists both ways as the file says (each MQTT token to its internal name,
// each internal name to its first token: no token is ambiguous), and turns
// any message into an MQTT message or a refusal without throwing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tern/gateway/map.hpp"

namespace {

// Aborts (what libFuzzer reports), naming the invariant's line.
void check(bool ok, unsigned line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "gateway_map_fuzz: invariant at line %u failed\n", line);
  std::abort();
}

constexpr std::string_view file = "fuzz.json";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern::gateway;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  map_result<message_map> r = map_error{};
  try {
    r = message_map::parse(text, file);
  } catch (...) {
    std::abort();  // documented to return its failures, never to throw them
  }
  if (!r) {
    const std::string& m = r.error().message;
    check(!m.empty());
    std::size_t start = 0;
    while (start <= m.size()) {
      const std::size_t end = std::min(m.find('\n', start), m.size());
      check(std::string_view(m).substr(start, end - start).starts_with(file));
      start = end + 1;
    }
    return 0;
  }

  // Accepted: the document is schema-valid JSON, so this reads it again.
  const nlohmann::json doc = nlohmann::json::parse(text);
  for (std::size_t f = 0; f < field_count; ++f) {
    const token_map& t = (*r)[static_cast<field>(f)];
    const auto& spec = doc[std::string(field_names[f])];
    if (t.type() == map_type::none) continue;
    for (const auto& [internal, tokens] : spec["map"].items()) {
      check(t.to_mqtt(internal) == std::optional<std::string_view>(tokens.at(0).get_ref<const std::string&>()));
      for (const auto& token : tokens)
        check(t.to_internal(token.get_ref<const std::string&>()) == std::optional<std::string_view>(internal));
    }
  }
  try {
    message m{.type = kind::command, .function = "f", .gateway = "g", .location = "l", .device = "d",
              .sender = "", .action = "a", .arguments = {{"k", "v"}}};
    auto out = r->to_mqtt(m, "gw");
    if (out) {
      auto in = r->to_internal(out->topic, out->payload, "");
      (void)in;
    }
    (void)r->to_internal(r->root() + "/f/g/l/d/s/C", "a", "gw");
  } catch (...) {
    std::abort();
  }
  return 0;
}
