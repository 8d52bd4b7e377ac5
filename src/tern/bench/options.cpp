#include "tern/bench/options.hpp"

#include "tern/bench/stamp.hpp"

namespace tern::bench {

std::string_view name(scenario s) noexcept {
  switch (s) {
    case scenario::fan_in: return "fan-in";
    case scenario::fan_out: return "fan-out";
    case scenario::pairs: return "pairs";
    case scenario::shared: return "shared";
    case scenario::idle: return "idle";
  }
  return "?";
}

std::optional<scenario> parse_scenario(std::string_view s) noexcept {
  for (auto c : {scenario::fan_in, scenario::fan_out, scenario::pairs, scenario::shared, scenario::idle})
    if (name(c) == s) return c;
  return std::nullopt;
}

std::uint32_t options::publisher_count() const noexcept {
  switch (scenario) {
    case scenario::fan_in:
    case scenario::shared: return publishers;
    case scenario::fan_out: return 1;
    case scenario::pairs: return pairs;
    case scenario::idle: return 0;
  }
  return 0;
}

std::uint32_t options::subscriber_count() const noexcept {
  switch (scenario) {
    case scenario::fan_in: return 1;
    case scenario::fan_out:
    case scenario::shared: return subscribers;
    case scenario::pairs: return pairs;
    case scenario::idle: return connections;
  }
  return 0;
}

std::string options::check() const {
  if (version != protocol_version::v3_1_1 && version != protocol_version::v5)
    return "the protocol version must be 3.1.1 or 5";
  if (scenario != scenario::idle && size < stamp_size)
    return "the payload size must be at least " + std::to_string(stamp_size) + " bytes (the stamp)";
  if (size > 256 * 1024 * 1024) return "the payload size must be below 256 MiB";
  if (publisher_count() + subscriber_count() == 0) return "no connections to make";
  if (scenario == scenario::fan_in && publishers == 0) return "fan-in needs at least one publisher";
  if (scenario == scenario::shared && (publishers == 0 || subscribers == 0))
    return "shared needs at least one publisher and one member";
  if (scenario == scenario::fan_out && subscribers == 0) return "fan-out needs at least one subscriber";
  if (!(duration > 0)) return "the duration must be positive";
  if (rate < 0) return "the rate must be 0 (flat out) or positive";
  if (window == 0) return "the window must be at least 1";
  if (max_inflight == 0 || max_inflight > 65535) return "max-inflight must be 1..65535";
  if (batch == 0) return "the batch must be at least 1";
  if (threads == 0 || threads > 64) return "threads must be 1..64";
  if (connect_concurrency == 0) return "connect-concurrency must be at least 1";
  if (source_addresses > 250) return "at most 250 source addresses (127.0.0.2 .. 127.0.0.251)";
  if (drain < 0) return "the drain time must not be negative";
  if (!(connect_timeout > 0)) return "the connect timeout must be positive";
  return {};
}

}  // namespace tern::bench
