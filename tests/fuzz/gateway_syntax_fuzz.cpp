// libFuzzer target for mqttgateway's MQTT syntax, tern::gateway::parse and
// format. The input up to its first '\n' is a topic, the rest a payload.
//
// Invariants: parse() and format() throw nothing; a refusal carries a
// gateway_error and a message; when the topic is a valid MQTT Topic Name (as
// a broker delivers) and parse() accepts, format() writes the message back
// under the same root, or refuses only with bad_utf8 (a JSON string holding
// U+0000, which a topic level or a bare action may not), and what it writes
// parses to an equal message. parse_payload() (a fast path for flat
// objects, then nlohmann) and parse_payload_reference() (nlohmann alone)
// agree on every payload: the same error code, or equal messages. The whole
// input read as a process interface's line (from_json_line) is refused or
// written back by to_json_line as a line that reads to an equal message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tern/gateway/json_line.hpp"
#include "tern/gateway/syntax.hpp"
#include "tern/topic/topic.hpp"

namespace {

// Aborts (what libFuzzer reports), naming the invariant's line.
void check(bool ok, unsigned line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "gateway_syntax_fuzz: invariant at line %u failed\n", line);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern::gateway;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view topic = input.substr(0, newline);
  const std::string_view payload = newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  try {
    if (auto line = from_json_line(input)) {
      auto again = from_json_line(to_json_line(*line));
      check(again.has_value());
      check(*again == *line);
    }
  } catch (...) {
    std::abort();
  }

  {
    message fast, reference;
    const auto a = parse_payload(payload, fast);
    const auto b = parse_payload_reference(payload, reference);
    check(a.has_value() == b.has_value());
    if (a)
      check(fast == reference);
    else
      check(a.error().code == b.error().code);
  }

  tern::result<parsed> p = tern::error{};
  try {
    p = parse(topic, payload);
  } catch (...) {
    std::abort();  // documented to return its failures
  }
  if (!p) {
    check(p.error().code.category() == gateway_error_category());
    check(!p.error().message().empty());
    return 0;
  }
  check(p->root.data() == topic.data());  // a view into the topic
  check(!p->msg.action.empty());
  if (tern::topic::validate_name(topic)) return 0;  // not a topic a broker would deliver

  tern::result<mqtt_message> out = tern::error{};
  try {
    out = format(p->root, p->msg);
  } catch (...) {
    std::abort();
  }
  if (!out) {
    check(out.error().code == make_error_code(gateway_error::bad_utf8));
    return 0;
  }
  check(out->topic == topic);
  auto back = parse(out->topic, out->payload);
  check(back.has_value());
  check(back->msg == p->msg);
  return 0;
}
