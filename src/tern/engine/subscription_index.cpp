#include "tern/engine/subscription_index.hpp"

#include <algorithm>

#include "tern/topic/topic.hpp"

namespace tern::engine {

void subscription_index::remove(std::string_view filter, std::string_view client_id) {
  auto shared = topic::parse_shared(filter);
  if (!shared || !*shared) {
    plain_.erase(filter, std::string(client_id));
    return;
  }
  const std::string name((*shared)->group);
  auto* g = shared_.find((*shared)->filter, name);
  if (!g) return;
  auto grp = *g;  // keep the group alive while its entry goes
  std::erase_if(grp->members, [&](const auto& x) { return x.client_id == client_id; });
  if (grp->members.empty()) {
    origins_.erase(grp->origin);
    shared_.erase((*shared)->filter, name);
  }
}

void subscription_index::add(std::string_view client_id, session_handle h, const storage::subscription_record& r,
                             bool persistent) {
  auto shared = topic::parse_shared(r.filter);
  if (!shared || !*shared) {
    plain_.insert(r.filter, std::string(client_id), subscriber{r.options, r.identifier, persistent, h});
    return;
  }
  const std::string name((*shared)->group);
  std::shared_ptr<group> grp;
  if (auto* g = shared_.find((*shared)->filter, name)) {
    grp = *g;
  } else {
    grp = std::make_shared<group>();
    grp->origin = ++next_origin_;
    origins_.emplace(grp->origin, grp);
    shared_.insert((*shared)->filter, name, grp);
  }
  auto m = std::find_if(grp->members.begin(), grp->members.end(), [&](const auto& x) { return x.client_id == client_id; });
  if (m != grp->members.end()) {
    m->options = r.options;
    m->identifier = r.identifier;
    m->persistent = persistent;
    m->session = h;
  } else {
    grp->members.push_back({std::string(client_id), r.options, r.identifier, persistent, h});
  }
}

std::optional<share_member> subscription_index::other_member(std::uint32_t origin, std::string_view leaving) const {
  auto it = origins_.find(origin);
  if (it == origins_.end()) return std::nullopt;
  auto g = it->second.lock();
  if (!g) return std::nullopt;
  const auto n = g->members.size();
  for (std::size_t k = 0; k < n; ++k) {
    const auto& member = g->members[g->next.fetch_add(1, std::memory_order_relaxed) % n];
    if (member.client_id != leaving) return member;
  }
  return std::nullopt;
}

}  // namespace tern::engine
