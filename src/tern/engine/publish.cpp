// A PUBLISH from a client: the rules every broker applies (topic depth, $SYS),
// the hooks, retained messages, routing, the acknowledgement (written after
// the turn's commit).
#include "tern/engine/engine.hpp"

#include <algorithm>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;

void worker::publish(endpoint& ep, publish_packet&& m) {
  client_session* client = ep.client();
  if (!client) return;
  auto& conn = ep.protocol();
  ++received_messages_;
  if (refused(ep, m)) return;
  const auto info = client->info(&ep);
  const auto verdict = engine_.event_hooks().on_publish(info, m);
  reason code = reason::success;
  std::uint32_t waits = 0;
  if (verdict.action == publish_action::allow) {
    if (m.retain) batch_.put_retained(m, now_);
    // With hold_acks, full subscribers (here and on other workers) may hold its acknowledgement.
    if (m.qos != qos::at_most_once && engine_.config().queue_full == queue_full_policy::hold_acks)
      holding_ = {true, {static_cast<std::uint32_t>(index_), 0}, 0};
    const auto matched = route(info, m, now_);
    const auto held = std::exchange(holding_, {});
    if (matched == 0 && conn.version() == protocol_version::v5) code = reason::no_matching_subscribers;
    if (held.taken) {
      waits = held.taken;
      held_acks_.emplace(held.hold.id, held_ack{&ep, m.packet_id, code, waits});
    }
  } else if (verdict.action == publish_action::refuse) {
    code = verdict.code;
  }
  if (m.qos != qos::at_most_once) {
    // Into the output now (written after this turn's commit()), or when
    // the subscribers holding it have room (hold.cpp).
    if (waits == 0) conn.acknowledge(m.packet_id, code);
    track_unsynced(ep);
  }
}

bool worker::refused(endpoint& ep, const publish_packet& m) {
  auto& conn = ep.protocol();
  const bool v5 = conn.version() == protocol_version::v5;
  if (const auto rate = engine_.config().max_publish_rate; rate != 0 && too_fast(*ep.client(), rate)) {
    conn.disconnect(reason::message_rate_too_high);  // 3.1.1: closed, no packet
    return true;
  }
  if (levels(m.topic()) > engine_.config().max_topic_levels) {
    if (v5 && m.qos != qos::at_most_once) {
      conn.acknowledge(m.packet_id, reason::topic_name_invalid);
    } else {
      conn.disconnect(reason::topic_name_invalid);  // 3.1.1: closed, no packet
    }
    return true;
  }
  if (reserved_for_broker(m.topic()) || !permitted(*ep.client(), m.topic(), access::write, &ep)) {
    // Not routed, not retained. 3.1.1 has no way to say so but silence
    // (mosquitto acknowledges a PUBLISH its ACL refuses the same way).
    if (m.qos != qos::at_most_once) conn.acknowledge(m.packet_id, v5 ? reason::not_authorized : reason::success);
    return true;
  }
  return false;
}

bool worker::too_fast(client_session& s, std::uint32_t rate) {
  auto& x = s.ext();
  if (now_ - x.rate_window >= std::chrono::seconds(1)) {
    x.rate_window = now_;
    x.rate_count = 0;
  }
  return ++x.rate_count > rate;
}

void worker::track_unsynced(endpoint& ep) {
  if (ep.unsynced()) return;
  ep.set_unsynced(true);
  unsynced_.push_back(&ep);
}

void worker::forget(endpoint& ep) {
  if (ep.unsynced()) std::erase(unsynced_, &ep);
  forget_held(ep);
}

void worker::settle_held(endpoint& ep) {
  for (auto& [id, a] : held_acks_) {
    if (a.ep != &ep) continue;
    ep.protocol().acknowledge(a.packet_id, a.code);
    a.ep = nullptr;
  }
}

void worker::forget_held(const endpoint& ep) {
  for (auto& [id, a] : held_acks_)
    if (a.ep == &ep) a.ep = nullptr;
}

}  // namespace tern::engine
