// tern/session/connection's QoS flows, both ways: an inbound PUBLISH
// admitted and acknowledged (PUBACK, PUBREC, PUBREL -> PUBCOMP), the
// acknowledgements of outbound messages (and what a wrong one means), and
// outbound PUBLISH: the in-flight window, resending, the queue pump.
// connection.cpp keeps the inputs, the CONNECT/CONNACK handshake, the other
// commands and the plumbing.
#include <algorithm>

#include "tern/session/connection.hpp"

namespace tern::session {

// ---------------------------------------------------------------- inbound PUBLISH

void connection::on_publish_packet(publish_packet& m) {
  if (role_ == role::server) {
    if (m.qos > options_->maximum_qos)
      return fail({reason::qos_not_supported, "MQTT-3.2.2-11: PUBLISH with a QoS above the Maximum QoS"});
    if (m.retain && !options_->retain_available)
      return fail({reason::retain_not_supported, "MQTT-3.2.2-14: RETAIN set when Retain Available is 0"});
    if (v5() && m.props().find(property_id::subscription_identifier))
      return fail({reason::protocol_error, "MQTT-3.3.4-6: a Subscription Identifier from a client"});
  }
  if (v5()) {
    if (auto alias = m.props().get<property_id::topic_alias>()) {
      if (*alias == 0 || *alias > options_->topic_alias_maximum)
        return fail({reason::topic_alias_invalid, "MQTT-3.3.2-9/-10: Topic Alias above the Topic Alias Maximum"});
      const auto key = static_cast<std::uint16_t>(*alias);
      if (m.topic().empty()) {
        auto& aliases = flows().inbound_aliases;
        auto it = aliases.find(key);
        if (it == aliases.end())
          return fail({reason::protocol_error, "MQTT 5.0 3.3.2.3.4: Topic Alias not set on this connection"});
        m.set_topic(it->second);
      } else {
        flows().inbound_aliases.insert_or_assign(key, shared_bytes::copy(m.topic()));
      }
      m.set_props(m.props().without(property_id::topic_alias));
    }
  }
  const auto id = m.packet_id;
  switch (m.qos) {
    case qos::at_most_once: return handler_->on_publish(std::move(m));
    case qos::at_least_once:
      if (flows_ && flows_->pending_ack.count(id) != 0) return;  // resent before we answered: delivered already
      break;
    case qos::exactly_once:
      if (state_->incoming_qos2(id)) return write(pubrec_packet{id, reason::success, {}, {}});
      if (flows_ && flows_->pending_ack.count(id) != 0) return;  // the PUBREC goes when acknowledged
      break;
  }
  if (!admit(id)) return;
  flows().pending_ack.emplace(id, m.qos);
  handler_->on_publish(std::move(m));
  if (options_->auto_acknowledge) acknowledge(id);
}

bool connection::admit(std::uint16_t id) {
  // Receive Maximum is a 5.0 notion; a 3.x peer was never told one.
  auto& window = flows().inbound_window;
  if (v5() && window.count(id) == 0 && window.size() >= options_->receive_maximum) {
    fail({reason::receive_maximum_exceeded, "MQTT-3.3.4-9: more QoS 1/2 PUBLISH than Receive Maximum"});
    return false;
  }
  window.insert(id);
  return true;
}

void connection::acknowledge(std::uint16_t packet_id, reason code, properties props) {
  if (!flows_) return;
  auto& f = *flows_;
  auto it = f.pending_ack.find(packet_id);
  if (it == f.pending_ack.end()) return;
  const auto q = it->second;
  f.pending_ack.erase(it);
  if (q == qos::at_least_once) {
    f.inbound_window.erase(packet_id);
    if (!closing_) write(puback_packet{packet_id, code, std::move(props), {}});
    return;
  }
  // A 3.x PUBREC cannot refuse: the flow goes on to PUBREL.
  if (!v5() || !is_failure(code)) {
    if (state_) state_->add_incoming_qos2(packet_id);
  } else {
    f.inbound_window.erase(packet_id);
  }
  if (!closing_) write(pubrec_packet{packet_id, code, std::move(props), {}});
}

void connection::on_pubrel(const pubrel_packet& a) {
  const auto id = a.packet_id;
  if (flows_ && flows_->pending_ack.count(id) != 0)
    return fail({reason::protocol_error, "MQTT 5.0 4.3.3: PUBREL before PUBREC"});
  if (flows_) flows_->inbound_window.erase(id);
  if (state_->incoming_qos2(id)) {
    state_->remove_incoming_qos2(id);
    return write(pubcomp_packet{id, reason::success, {}, {}});
  }
  write(pubcomp_packet{id, v5() ? reason::packet_identifier_not_found : reason::success, {}, {}});
}

// ---------------------------------------------------------------- outbound acknowledgements
//
// PUBACK answers a QoS 1 PUBLISH, PUBREC a QoS 2 PUBLISH, PUBCOMP the PUBREL
// sent for a PUBREC (4.3.2 and 4.3.3 of both 3.1.1 and 5.0). Any other
// acknowledgement, decided from the spec's text:
// - For a packet id in flight at another QoS or phase (PUBREC or PUBCOMP for
//   a QoS 1 message, PUBACK for a QoS 2 one, PUBCOMP while the PUBREC is
//   due): a packet "inconsistent with the state of the Client or Server" is a
//   Protocol Error (5.0 1.2): DISCONNECT 0x82 and close (5.0 4.13.1). 3.1.1
//   calls it a protocol violation: close (MQTT-4.8.0-1), as Mosquitto does.
// - For an id not in flight (the session ended, or the message completed):
//   PUBACK and PUBCOMP end a flow and nothing answers them: ignored. A PUBREC
//   gets its PUBREL, so that the peer's flow ends: 5.0 with 0x92 Packet
//   Identifier not found, "not an error during recovery, but at other times
//   indicates a mismatch" (3.6.2.1); 3.1.1 a plain one ("MUST send a PUBREL
//   packet when it receives a PUBREC packet", 4.3.3). Not for a 5.0 PUBREC
//   that refuses (0x80 and above): that flow is over without a PUBREL (4.3.3).
// - A PUBREC again for a QoS 2 message released already: its PUBREL again.

void connection::on_puback(const puback_packet& a) {
  auto* o = state_->find_outgoing(a.packet_id);
  if (!o) return;
  if (o->message.qos != qos::at_least_once)
    return fail({reason::protocol_error, "MQTT 4.3.3: PUBACK for a QoS 2 message"});
  finish_outgoing(a.packet_id, a.reason_code);
}

void connection::on_pubrec(const pubrec_packet& a) {
  const auto id = a.packet_id;
  auto* o = state_->find_outgoing(id);
  if (!o) {
    if (v5() && is_failure(a.reason_code)) return;
    return write(pubrel_packet{id, v5() ? reason::packet_identifier_not_found : reason::success, {}, {}});
  }
  if (o->message.qos != qos::exactly_once)
    return fail({reason::protocol_error, "MQTT 4.3.2: PUBREC for a QoS 1 message"});
  if (o->phase == outgoing::phase::awaiting_comp) return write(pubrel_packet{id, reason::success, {}, {}});
  if (v5() && is_failure(a.reason_code)) return finish_outgoing(id, a.reason_code);
  state_->set_released(*o);
  if (flows_) flows_->resend.erase(id);
  write(pubrel_packet{id, reason::success, {}, {}});
}

void connection::on_pubcomp(const pubcomp_packet& a) {
  auto* o = state_->find_outgoing(a.packet_id);
  if (!o) return;
  if (o->message.qos != qos::exactly_once)
    return fail({reason::protocol_error, "MQTT 4.3.2: PUBCOMP for a QoS 1 message"});
  if (o->phase != outgoing::phase::awaiting_comp)
    return fail({reason::protocol_error, "MQTT 4.3.3: PUBCOMP before the PUBREC"});
  // 0x92 answers a PUBREL the peer no longer expects (it completed the flow
  // before a reconnect): "not an error during recovery" (MQTT 5.0 4.3.3),
  // and its PUBREC said it had the message.
  finish_outgoing(a.packet_id,
                  a.reason_code == reason::packet_identifier_not_found ? reason::success : a.reason_code);
}

void connection::finish_outgoing(std::uint16_t id, reason code) {
  auto m = state_->remove_outgoing(id);
  if (flows_) {
    flows_->resend.erase(id);
    flows_->outbound_window.erase(id);
  }
  handler_->on_delivered(*m, code);
  pump();
}

// ---------------------------------------------------------------- outbound PUBLISH

void connection::resume(bool dup) {
  if (flows_) flows_->resend.clear();
  resend_dup_ = dup;
  const auto& in_flight = state_->outgoing_order();
  if (in_flight.empty()) return;  // a new or idle session: no copy to make
  const std::vector<std::uint16_t> order(in_flight.begin(), in_flight.end());  // resend() may remove entries
  for (auto id : order) {
    auto* o = state_->find_outgoing(id);
    if (!o) continue;
    if (o->phase == outgoing::phase::awaiting_comp) write(pubrel_packet{id, reason::success, {}, {}});
    else if (window_open()) resend(id);
    else flows().resend.push_back(id);
    if (closing_) return;
  }
}

void connection::resend(std::uint16_t id) {
  auto* o = state_->find_outgoing(id);
  if (!o || o->phase != outgoing::phase::awaiting_ack) return;
  auto m = o->message;
  m.dup = resend_dup_;
  if (!write_publish(m)) {
    auto gone = state_->remove_outgoing(id);
    return handler_->on_dropped(*gone, reason::packet_too_large);
  }
  flows().outbound_window.insert(id);
}

void connection::pump() {
  if (!connected_ || closing_ || !state_) return;
  while (window_open() && !resend_empty()) {
    const auto id = flows_->resend.front();
    flows_->resend.pop_front();
    resend(id);
    if (closing_) return;
  }
  if (!resend_empty()) return;
  while (!state_->queue().empty() && !closing_) {
    // Message Expiry Interval (MQTT 5.0 3.3.2.3.3): dropped when it ran out
    // while queued, else sent with the time left.
    const auto& front = state_->queue().front();
    const auto expiry = front.message.props().get<property_id::message_expiry_interval>();
    const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now_ - front.enqueued_at).count();
    if (expiry && waited >= std::int64_t{*expiry}) {
      auto q = *state_->dequeue();
      state_->discard(q);
      handler_->on_dropped(q.message, reason::success);
      continue;
    }
    std::optional<std::uint16_t> id;
    if (front.message.qos != qos::at_most_once) {
      if (!window_open()) return;
      id = state_->allocate_packet_id();
      if (!id) return;
    }
    auto q = *state_->dequeue();
    (void)age_message(q.message, q.enqueued_at, now_);  // not expired: checked above
    if (id) {
      const auto seq = q.seq;
      if (!send_message(std::move(q.message), *id, q.origin, seq, true)) state_->discard_seq(seq);
    } else if (!write_publish(q.message)) handler_->on_dropped(q.message, reason::packet_too_large);
  }
}

bool connection::send_message(publish_packet m, std::uint16_t id, std::uint32_t origin, std::uint64_t seq,
                              bool was_queued) {
  m.packet_id = id;
  m.dup = false;
  if (!write_publish(m)) {
    state_->release_packet_id(id);
    handler_->on_dropped(m, reason::packet_too_large);
    return false;
  }
  flows().outbound_window.insert(id);
  state_->add_outgoing(std::move(m), origin, seq, was_queued);
  return true;
}

bool connection::write_publish(const publish_packet& m) {
  const publish_packet* wire = &m;
  publish_packet changed;
  std::optional<std::uint16_t> new_alias;
  if (v5()) {
    // Topic aliases are this connection's: any the message carries is dropped.
    std::optional<std::uint16_t> alias;
    bool established = false;
    if (peer_.topic_alias_maximum > 0) {
      auto& aliases = flows().outbound_aliases;
      if (auto it = aliases.find(m.topic()); it != aliases.end()) {
        alias = it->second;
        established = true;
      } else if (aliases.size() < peer_.topic_alias_maximum) {
        alias = new_alias = static_cast<std::uint16_t>(aliases.size() + 1);
      }
    }
    const bool carries = m.props().find(property_id::topic_alias).has_value();
    if (alias || carries) {
      changed = m;
      properties::builder b;
      b.append(m.props().without(property_id::topic_alias));
      if (alias) b.add<property_id::topic_alias>(*alias);
      changed.set_props(b.empty() ? properties{} : b.build());
      if (established) changed.set_topic(shared_bytes{});
      wire = &changed;
    }
  }
  if (encoded_size(*wire, version_) > peer_.maximum_packet_size) return false;
  if (new_alias) flows().outbound_aliases.emplace(std::string(m.topic()), *new_alias);
  output_.append(*wire, version_);
  if (extras_) extras_->last_sent = now_;
  return true;
}

enqueue_result connection::publish(publish_packet m, time_point now, std::uint32_t origin, std::uint64_t seq,
                                   bool stored) {
  now_ = now;
  const bool qos0 = m.qos == qos::at_most_once;
  if (!state_) return qos0 ? enqueue_result::dropped : enqueue_result::refused;
  m.dup = false;
  if (qos0) m.packet_id = 0;
  const bool live = connected_ && !closing_;
  if (qos0) {
    if (!live) return state_->enqueue(std::move(m), now, origin);  // QoS 0: never journaled
    if (write_publish(m)) return enqueue_result::queued;
    handler_->on_dropped(m, reason::packet_too_large);
    return enqueue_result::dropped;
  }
  if (live && resend_empty() && state_->queue().empty() && window_open()) {
    if (auto id = state_->allocate_packet_id()) {
      if (send_message(std::move(m), *id, origin, seq, stored)) return enqueue_result::queued;
      if (stored) state_->discard_seq(seq);
      return enqueue_result::dropped;
    }
  }
  auto r = state_->enqueue(std::move(m), now, origin, seq, stored);
  pump();
  return r;
}

enqueue_result connection::publish_ref(const publish_packet& m, time_point now, std::uint32_t origin) {
  if (m.qos != qos::at_most_once || m.dup || m.packet_id != 0 || !state_ || !connected_ || closing_)
    return publish(m, now, origin);
  now_ = now;
  if (write_publish(m)) return enqueue_result::queued;
  handler_->on_dropped(m, reason::packet_too_large);
  return enqueue_result::dropped;
}

}  // namespace tern::session
