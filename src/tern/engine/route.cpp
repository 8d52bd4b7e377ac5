// A worker routes a message: the subscriptions that match (from its route cache), one delivery per client, local ones placed at once, others batched per worker.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;


std::size_t worker::route(const client_info& from, publish_packet m, time_point now) {
  // The working vectors keep their capacity from call to call. Taken out for
  // the call (and put back at the end), so that a nested route (none today)
  // would start with empty ones of its own.
  auto targets = std::exchange(route_targets_, {});
  auto ids = std::exchange(route_ids_, {});
  auto remote_ids = std::exchange(route_client_ids_, {});
  targets.clear();
  ids.clear();
  remote_ids.clear();
  {
    // Only the lookup holds the lock (this worker's reader lock); delivery
    // happens after it, so a large fan-out never makes (un)subscribes on
    // other threads wait.
    const auto lock = engine_.index().reader(index_);
    // One filter's entries name distinct clients: only matches from several
    // filters (or shared subscriptions) need merging per client.
    const char* first_filter = nullptr;
    bool merge = false;
    auto add = [&](const std::string& id, const subscribe_options& o, std::uint32_t identifier, std::uint32_t origin,
                   const session_handle& h, bool persistent) {
      const auto begin = static_cast<std::uint32_t>(ids.size());
      if (identifier) ids.push_back(identifier);
      targets.push_back({&id, o, h, origin, begin, identifier ? 1u : 0u, persistent});
    };
    for (const auto& c : cached_matches(m.topic())) {
      const auto& id = *c.client_id;
      const auto& sub = *c.subscriber;
      if (sub.options.no_local && id == from.client_id) continue;
      if (!first_filter) first_filter = c.filter;
      else if (c.filter != first_filter) merge = true;
      add(id, sub.options, sub.identifier, 0, sub.session, sub.persistent);
    }
    engine_.index().match_shared(m.topic(), [&](const share_member& x, std::uint32_t origin) {
      add(x.client_id, x.options, x.identifier, origin, x.session, x.persistent);
      merge = true;
    });
    if (merge && targets.size() > 1) {
      // Deliver once per client: the highest QoS, every identifier. A
      // session's handle is the key: sorting integers, not client ids.
      auto key = [](const route_target& t) { return std::pair{t.session.owner, t.session.slot}; };
      std::sort(targets.begin(), targets.end(), [&](const route_target& a, const route_target& b) { return key(a) < key(b); });
      auto merged_ids = std::exchange(route_merged_ids_, {});
      merged_ids.clear();
      std::size_t n = 0;
      for (std::size_t i = 0; i < targets.size();) {
        route_target t = targets[i];
        t.ids_begin = static_cast<std::uint32_t>(merged_ids.size());
        std::size_t j = i;
        for (; j < targets.size() && key(targets[j]) == key(t); ++j) {
          const auto& x = targets[j];
          t.origin = std::max(t.origin, x.origin);
          t.options.max_qos = std::max(t.options.max_qos, x.options.max_qos);
          t.options.retain_as_published = t.options.retain_as_published || x.options.retain_as_published;
          merged_ids.insert(merged_ids.end(), ids.begin() + x.ids_begin, ids.begin() + x.ids_begin + x.ids_count);
        }
        t.ids_count = static_cast<std::uint32_t>(merged_ids.size() - t.ids_begin);
        targets[n++] = t;
        i = j;
      }
      targets.resize(n);
      std::swap(ids, merged_ids);
      route_merged_ids_ = std::move(merged_ids);
    }
    // What other workers' outboxes need by client id (stored messages of
    // persistent sessions), copied while the index still holds the ids.
    for (auto& t : targets) {
      if (t.session.owner == index_ || !stored_by_router(m, t)) continue;
      remote_ids.push_back(*t.client_id);  // taken in this order below
    }
  }
  // Each target prepares the message for its subscriber (delivery_target.hpp).
  const auto route = ++routes_;
  std::size_t next_remote = 0;
  for (auto& t : targets) {
    const std::span<const std::uint32_t> t_ids(ids.data() + t.ids_begin, t.ids_count);
    std::string_view id;
    if (t.session.owner != index_ && stored_by_router(m, t)) id = remote_ids[next_remote++];
    targets_[t.session.owner]->deliver(route, m, t, id, t_ids, now);
  }
  local_.finish();
  const auto routed = targets.size();
  route_targets_ = std::move(targets);
  route_ids_ = std::move(ids);
  route_client_ids_ = std::move(remote_ids);
  return routed;
}

std::span<const worker::cached_match> worker::cached_matches(std::string_view topic) {
  constexpr std::size_t most_topics = 4096;
  constexpr std::size_t most_matches = 65536;
  auto& cache = route_cache_;
  auto& matches = route_cache_matches_;
  const auto version = engine_.index().version();
  if (route_cache_version_ != version || cache.size() >= most_topics || matches.size() >= most_matches) {
    cache.clear();
    matches.clear();
    route_cache_version_ = version;
  }
  auto it = cache.find(topic);
  if (it == cache.end()) {
    const auto begin = static_cast<std::uint32_t>(matches.size());
    engine_.index().match(topic, [&](const std::string& id, const subscriber& sub, std::string_view filter) {
      matches.push_back({&id, &sub, filter.data()});
    });
    const cached_route r{begin, static_cast<std::uint32_t>(matches.size() - begin)};
    it = cache.emplace(std::string(topic), r).first;
  }
  return {matches.data() + it->second.begin, it->second.count};
}

}  // namespace tern::engine
