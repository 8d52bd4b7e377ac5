// tern/engine/rules.hpp: small rules the worker's actions share: how a
// message is prepared for one subscriber, which topics are the broker's, how
// deep a topic may be. Internal to src/tern/engine.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

#include "tern/codec/packet.hpp"
#include "tern/topic/topic.hpp"

namespace tern::engine::rules {

constexpr std::uint32_t never_expires = 0xFFFFFFFF;

inline std::chrono::seconds seconds(std::uint32_t s) { return std::chrono::seconds(s); }

// Properties of a message forwarded to a subscriber: the original ones plus
// the matching subscriptions' identifiers.
inline properties with_identifiers(const properties& p, std::span<const std::uint32_t> ids) {
  if (ids.empty()) return p;
  properties::builder b;
  b.append(p);
  for (auto id : ids) b.add<property_id::subscription_identifier>(id);
  return b.build();
}

// A will's properties as a PUBLISH may carry them (no Will Delay Interval).
inline properties publish_properties_of_will(const properties& p) {
  if (!p.find(property_id::will_delay_interval)) return p;
  properties::builder b;
  p.for_each([&](const property& x) {
    if (x.id != property_id::will_delay_interval) (void)b.add(x);
  });
  return b.build();
}

// A message as one subscriber receives it.
inline publish_packet prepare(const publish_packet& m, const subscribe_options& o, std::span<const std::uint32_t> ids) {
  publish_packet out = m;
  out.qos = std::min(m.qos, o.max_qos);
  out.retain = o.retain_as_published && m.retain;
  out.dup = false;
  out.packet_id = 0;
  if (!ids.empty()) out.set_props(with_identifiers(m.props(), ids));
  return out;
}

// Levels of a topic name or filter: "a/b/c" has 3.
inline std::size_t levels(std::string_view topic) { return static_cast<std::size_t>(std::count(topic.begin(), topic.end(), '/')) + 1; }

// The broker's own topics: no client publishes there (as in mosquitto, which
// compares the first four characters), so none can forge its statistics.
inline bool reserved_for_broker(std::string_view topic) { return topic.starts_with("$SYS"); }

inline bool covered_by(std::string_view denied, std::string_view filter) {
  if (denied == filter) return true;
  // A filter without wildcards is covered when the denied filter matches it.
  return !topic::has_wildcard(filter) && topic::matches(denied, filter);
}

}  // namespace tern::engine::rules
