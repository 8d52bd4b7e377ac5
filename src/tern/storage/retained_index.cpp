#include "tern/storage/retained_index.hpp"

#include "tern/topic/topic.hpp"

namespace tern::storage::detail {
namespace {

// The properties of `m`, stored at `stored`, with the Message Expiry Interval
// that remains at `now`; nullopt when they need no change (no expiry, or not
// a whole second has passed). Sets `expired` when the interval has passed.
std::optional<properties> remaining_expiry(const publish_packet& m, time_point stored, time_point now, bool& expired) {
  expired = false;
  auto interval = m.props().get<property_id::message_expiry_interval>();
  if (!interval) return std::nullopt;
  auto waited = std::chrono::floor<std::chrono::seconds>(now - stored).count();
  if (waited >= static_cast<long long>(*interval)) {
    expired = true;
    return std::nullopt;
  }
  if (waited <= 0) return std::nullopt;
  properties::builder b;
  m.props().for_each([&](const property& p) {
    if (p.id == property_id::message_expiry_interval) {
      b.add<property_id::message_expiry_interval>(*interval - static_cast<std::uint32_t>(waited));
    } else {
      (void)b.add(p);
    }
  });
  return b.build();
}

}  // namespace

std::optional<time_point> expiry_of(const publish_packet& m, time_point stored) {
  auto interval = m.props().get<property_id::message_expiry_interval>();
  if (!interval) return std::nullopt;
  return stored + std::chrono::seconds(*interval);
}

void retained_index::put(const publish_packet& m, time_point now) {
  if (m.payload().empty()) {
    auto it = messages_.find(m.topic());
    if (it != messages_.end()) messages_.erase(it);
    return;
  }
  messages_.insert_or_assign(std::string(m.topic()), entry{m, now});
}

std::vector<publish_packet> retained_index::match(std::string_view filter, time_point now,
                                                  std::vector<std::string>& expired) {
  std::vector<publish_packet> found;
  // Returns true when the entry has expired (and is to be forgotten).
  auto visit = [&](const entry& e) {
    bool gone = false;
    auto props = remaining_expiry(e.message, e.stored, now, gone);
    if (gone) return true;
    found.push_back(e.message);
    if (props) found.back().set_props(std::move(*props));
    return false;
  };
  if (!topic::has_wildcard(filter)) {
    auto it = messages_.find(filter);
    if (it != messages_.end() && visit(it->second)) {
      expired.push_back(it->first);
      messages_.erase(it);
    }
    return found;
  }
  // Only topics that start with the filter's literal prefix can match; a
  // '#' also matches its parent level ("a/#" matches "a"), so the prefix
  // stops before the '/' that precedes it.
  const auto wildcard = filter.find_first_of("+#");
  auto literal = filter.substr(0, wildcard);
  if (filter[wildcard] == '#' && literal.ends_with('/')) literal.remove_suffix(1);
  for (auto it = messages_.lower_bound(literal); it != messages_.end();) {
    if (!std::string_view(it->first).starts_with(literal)) break;
    if (topic::matches(filter, it->first) && visit(it->second)) {
      expired.push_back(it->first);
      it = messages_.erase(it);
    } else {
      ++it;
    }
  }
  return found;
}

}  // namespace tern::storage::detail
