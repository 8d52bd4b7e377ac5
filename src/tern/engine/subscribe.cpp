// SUBSCRIBE and UNSUBSCRIBE: the index, the session's list, retained messages.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;

void worker::subscribe(endpoint& ep, subscribe_packet&& sp) {
  auto& s = *ep.client();
  const auto& o = engine_.config();
  const bool v5 = s.version == protocol_version::v5;
  const std::uint32_t identifier = sp.props.get<property_id::subscription_identifier>().value_or(0);
  suback_packet ack;
  ack.packet_id = sp.packet_id;
  struct retained_send {
    std::string filter;
    subscribe_options options;
  };
  std::vector<retained_send> retained;
  for (auto& e : sp.entries) {
    reason code;
    if (topic::validate_filter(e.filter) || levels(e.filter) > o.max_topic_levels) {
      code = reason::topic_filter_invalid;
    } else if (std::any_of(o.denied_filters.begin(), o.denied_filters.end(),
                           [&](const std::string& d) { return covered_by(d, e.filter); })) {
      code = reason::not_authorized;
    } else if (!permitted(s, e.filter, access::subscribe, &ep)) {
      code = reason::not_authorized;
    } else {
      subscription sub = e;
      code = engine_.event_hooks().on_subscribe(s.info(&ep), sub);
      if (!is_failure(code)) {
        sub.options.max_qos = std::min(sub.options.max_qos, o.connection.maximum_qos);
        auto shared = topic::parse_shared(sub.filter);
        const bool existed = s.subscriptions().contains(sub.filter);
        {
          const auto lock = engine_.index().writer();
          engine_.index().add(s.client_id(), s.handle(), storage::subscription_record{sub.filter, sub.options, identifier},
                             s.journaled);
        }
        if (!existed) engine_.stats().subscriptions.fetch_add(1, std::memory_order_relaxed);
        s.ext().subscriptions.set({sub.filter, sub.options, identifier});
        code = static_cast<reason>(sub.options.max_qos);
        const auto rh = sub.options.retain_handling;
        // Retained messages are not sent for shared subscriptions (MQTT 5.0 4.8.2).
        if (!(shared && *shared) && (rh == retain_handling::send_on_subscribe ||
                                     (rh == retain_handling::send_if_new && !existed)))
          retained.push_back({sub.filter, sub.options});
      }
    }
    if (!v5 && is_failure(code)) code = reason::unspecified_error;  // 3.1.1 knows only 0x80
    ack.reason_codes.push_back(code);
  }
  ep.protocol().send(std::move(ack));
  save(s);
  if (!retained.empty()) write_through();  // retained messages stored this turn are matched too
  for (auto& r : retained) {
    auto opts = r.options;
    opts.retain_as_published = true;  // retained messages sent on subscribe keep RETAIN=1
    std::vector<std::uint32_t> ids;
    if (identifier) ids.push_back(identifier);
    engine_.store().retained().match(r.filter, now_, [&](const publish_packet& m) {
      if (permitted(s, m.topic(), access::read, &ep)) deliver_local(s, m, opts, ids, now_);
    });
  }
  flush_stats();
  ep.wake();
}

void worker::unsubscribe(endpoint& ep, unsubscribe_packet&& u) {
  auto& s = *ep.client();
  unsuback_packet ack;
  ack.packet_id = u.packet_id;
  for (const auto& f : u.filters) {
    if (!s.more || !s.more->subscriptions.erase(f)) {
      ack.reason_codes.push_back(reason::no_subscription_existed);
      continue;
    }
    {
      const auto lock = engine_.index().writer();
      engine_.index().remove(f, s.client_id());
    }
    engine_.stats().subscriptions.fetch_sub(1, std::memory_order_relaxed);
    ack.reason_codes.push_back(reason::success);
  }
  s.trim();
  if (s.version != protocol_version::v5) ack.reason_codes.clear();
  ep.protocol().send(std::move(ack));
  save(s);
  ep.wake();
}

}  // namespace tern::engine
