// A worker admits a CONNECT: client id rules, hooks, takeover, resume, the CONNACK.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;

void worker::admit(endpoint& ep, time_point now) {
  ep.move_to(*this);
  now_ = now;
  const std::unique_ptr<connect_packet> pending(ep.pending());  // freed on return: an idle connection keeps no CONNECT
  ep.set_client(nullptr);
  // The connection failed before its CONNECT was admitted (a malformed
  // packet behind it in the same read): no hooks, no takeover of a session
  // in use by a client whose CONNECT was sound.
  if (ep.protocol().closing()) return ep.wake();
  connect_packet& c = *pending;
  const auto& o = engine_.config();
  const bool v5 = c.version == protocol_version::v5;
  auto refuse = [&](reason r) {
    ep.protocol().refuse(r);
    ep.wake();
  };

  bool assigned = false;
  if (c.client_id.empty()) {
    if (!v5 && !c.clean_start) return refuse(reason::client_identifier_not_valid);  // MQTT-3.1.3-8
    // MQTT 3.1 (3.1 Client Identifier): 1 to 23 characters, else return code 2.
    if (c.version == protocol_version::v3_1) return refuse(reason::client_identifier_not_valid);
    if (!o.allow_zero_length_client_id) return refuse(reason::client_identifier_not_valid);
    // An identifier this worker owns, so the session stays on this thread.
    do {
      c.client_id = "auto-" + std::to_string(index_) + "-" + std::to_string(++assigned_ids_);
    } while (engine_.owner_of(c.client_id) != index_);
    assigned = true;
  }
  if (c.version == protocol_version::v3_1 && c.client_id.size() > 23)
    return refuse(reason::client_identifier_not_valid);
  if (c.will && levels(c.will->topic) > o.max_topic_levels) {
    if (v5) return refuse(reason::topic_name_invalid);
    ep.protocol().disconnect(reason::topic_name_invalid);  // 3.1.1 has no return code for it: closed
    return ep.wake();
  }
  if (c.will && reserved_for_broker(c.will->topic)) return refuse(reason::not_authorized);
  // MQTT-4.12.0-1: no enhanced authentication here (custom authentication
  // is on_connect's), so an Authentication Method is refused, and closed.
  if (v5 && c.props.get<property_id::authentication_method>()) return refuse(reason::bad_authentication_method);

  const std::string peer = ep.peer();
  const auto verdict =
      engine_.event_hooks().on_connect({c.client_id, c.username, c.password, c.props, c.version, c.clean_start, peer});
  if (is_failure(verdict)) return refuse(verdict);

  bool present = false;
  if (client_session* existing = sessions_.find(c.client_id)) {
    auto& s = *existing;
    // A session that was to end with its connection (3.1.1 CleanSession 1,
    // 5.0 Session Expiry 0) ends when the takeover closes that connection:
    // the new one starts afresh and says so (session present 0).
    const bool ends = c.clean_start || !s.persistent();
    if (s.connection) {  // session takeover: the old connection goes
      endpoint* old = s.connection;
      old->set_client(nullptr);
      s.connection = nullptr;
      engine_.stats().clients_connected.fetch_sub(1, std::memory_order_relaxed);
      engine_.event_hooks().on_disconnect(s.info(old), error{reason::session_taken_over});
      old->protocol().disconnect(reason::session_taken_over);
      old->wake();
      const auto* will = s.will();
      const bool delayed = will && will->props.get<property_id::will_delay_interval>().value_or(0) > 0;
      if (will && !(delayed && !ends)) publish_will(s, now, old);
      s.set_will(nullptr);
    } else if (s.will_at() != no_time && ends) {
      publish_will(s, now, nullptr);  // the old session ends now: its delayed will goes out
    }
    if (s.will_at() != no_time) {  // cancelled by the reconnect
      if (s.journaled) batch_.erase_will(s.client_id());
      s.more->will_at = no_time;
    }
    s.set_expires_at(no_time);
    if (ends) {
      end_session(s, now);
    } else {
      present = true;
    }
  }
  client_session* found = sessions_.find(c.client_id);
  if (!found) {
    found = &sessions_.add(*this, c.client_id);
    found->state.set_limits(session_limits());
    engine_.stats().clients_total.fetch_add(1, std::memory_order_relaxed);
  }
  auto& s = *found;
  s.set_username(std::move(c.username));
  s.version = c.version;
  s.set_will(c.will ? std::make_unique<will_message>(std::move(*c.will)) : nullptr);
  s.trim();
  std::uint32_t requested = v5 ? c.props.get<property_id::session_expiry_interval>().value_or(0)
                               : (c.clean_start ? 0 : never_expires);
  s.expiry_interval = std::min(requested, o.max_session_expiry_interval);
  s.connection = &ep;
  ep.set_client(&s);
  ep.set_disconnected_normally(false);

  session::accept_options a;
  a.session_present = present;
  a.max_inflight = o.max_inflight;
  if (o.max_keep_alive != 0 && (c.keep_alive == 0 || c.keep_alive > o.max_keep_alive))
    a.server_keep_alive = o.max_keep_alive;
  if (v5) {
    properties::builder b;
    if (assigned) b.add<property_id::assigned_client_identifier>(c.client_id);
    if (s.expiry_interval != requested) b.add<property_id::session_expiry_interval>(s.expiry_interval);
    if (!b.empty()) a.props = b.build();
  }
  engine_.stats().clients_connected.fetch_add(1, std::memory_order_relaxed);
  if (s.persistent() && !s.journaled) journal(s);
  ep.protocol().accept(s.state, a, now);
  // Closed inside accept() (a held packet broke a rule, or the CONNACK did
  // not fit the client's Maximum Packet Size): closed() has run, and `s` is
  // gone if it was to end with its connection.
  if (!ep.client()) return ep.wake();
  save(s);
  refill(s, now);
  ep.wake();
}

void worker::journal(client_session& s) {
  // Its state so far (a session taken over and made persistent) goes first.
  s.state.attach_journal(&s);
  s.journaled = true;
  if (s.subscriptions().empty()) return;
  const auto lock = engine_.index().writer();
  for (const auto& rec : s.subscriptions()) engine_.index().add(s.client_id(), s.handle(), rec, true);
}

}  // namespace tern::engine
