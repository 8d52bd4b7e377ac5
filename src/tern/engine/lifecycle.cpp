// A connection's end and a session's: wills (delayed or not), expiry, the worker's periodic work and shutdown.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;

void worker::disconnect(endpoint& ep, const disconnect_packet& d) {
  client_session* client = ep.client();
  if (!client) return;
  if (auto e = d.props.get<property_id::session_expiry_interval>()) {
    if (client->expiry_interval == 0 && *e != 0) {
      // A session that was to end on disconnect cannot be made to persist by
      // DISCONNECT: not a valid DISCONNECT, so the will goes out (MQTT-3.14.2-2).
      ep.set_disconnected_normally(false);
      ep.protocol().disconnect(reason::protocol_error);
      return;
    }
    client->expiry_interval = std::min(*e, engine_.config().max_session_expiry_interval);
    if (client->persistent() && !client->journaled) journal(*client);
  }
}

void worker::delivered(client_session& s) {
  if (s.has_stored()) refill(s, now_);
  if (s.more && !s.more->holds.empty() && has_room_after_pump(s)) release_holds(s);
}

void worker::dropped() { engine_.stats().messages_dropped.fetch_add(1, std::memory_order_relaxed); }

void worker::closed(endpoint& ep, const error& why, time_point now) {
  if (!held_acks_.empty()) settle_held(ep);
  client_session* s = ep.client();
  if (!s) return;
  ep.set_client(nullptr);
  s->connection = nullptr;
  release_holds(*s);  // a subscriber gone holds nobody up
  engine_.stats().clients_connected.fetch_sub(1, std::memory_order_relaxed);
  engine_.event_hooks().on_disconnect(s->info(&ep), why);
  if (const auto* will = s->will(); will && !ep.disconnected_normally()) {
    const auto delay = will->props.get<property_id::will_delay_interval>().value_or(0);
    if (delay == 0 || !s->persistent()) {
      publish_will(*s, now, &ep);
    } else {
      // Published later, when its client is gone: hooks will see no peer.
      s->more->will_at = now + seconds(std::min(delay, s->expiry_interval));
      if (s->journaled) batch_.put_will(s->client_id(), *will, s->more->will_at);
    }
  } else {
    s->set_will(nullptr);
  }
  if (!s->persistent()) {
    end_session(*s, now);
    return;
  }
  s->trim();
  if (s->expiry_interval != never_expires) s->set_expires_at(now + seconds(s->expiry_interval));
  save(*s);
}

void worker::publish_will(client_session& s, time_point now, const endpoint* from) {
  if (!s.will()) return;
  will_message w = std::move(*s.more->will);
  s.more->will.reset();
  if (s.more->will_at != no_time && s.journaled) batch_.erase_will(s.client_id());
  s.more->will_at = no_time;
  s.trim();
  publish_packet m(w.topic, w.payload, w.qos, w.retain, publish_properties_of_will(w.props));
  if (!permitted(s, m.topic(), access::write, from)) return;
  const auto info = s.info(from);
  if (engine_.event_hooks().on_publish(info, m).action != publish_action::allow) return;
  if (m.retain) batch_.put_retained(m, now);
  route(info, std::move(m), now);
}

void worker::end_session(client_session& s, time_point now) {
  if (!s.subscriptions().empty()) {
    {
      const auto lock = engine_.index().writer();
      for (const auto& rec : s.subscriptions()) engine_.index().remove(rec.filter, s.client_id());
    }
    engine_.stats().subscriptions.fetch_sub(s.subscriptions().size(), std::memory_order_relaxed);
    s.more->subscriptions.clear();
  }
  // Messages a shared subscription gave this session and it never received
  // go to another member (MQTT 5.0 4.8.2). A QoS 2 message whose PUBREC
  // arrived was received: it stays delivered.
  for (const auto& [id, out] : s.state.outgoing_messages())
    if (out.origin && out.phase == session::outgoing::phase::awaiting_ack)
      redeliver_shared(out.origin, s.client_id(), out.message, now);
  for (const auto& q : s.state.queue())
    if (q.origin) redeliver_shared(q.origin, s.client_id(), q.message, now);
  s.state.clear();
  release_holds(s);
  if (s.journaled) {
    batch_.forget_client(s.client_id());
    s.state.set_journal(nullptr);
    s.journaled = false;
  } else if (s.spilled) {
    batch_.forget_client(s.client_id());  // its stored messages and their session record
  }
  s.spilled = false;
  if (s.more) s.more->stored.clear();
  s.trim();
  if (s.connection) return;  // a clean start reuses the entry
  engine_.stats().clients_total.fetch_sub(1, std::memory_order_relaxed);
  sessions_.remove(s);  // `s` is gone after this
}

void worker::save(const client_session& s) {
  if (!s.journaled) return;
  std::optional<time_point> expires;
  if (!s.connection && s.expires_at() != no_time) expires = s.expires_at();
  storage::session_record r{std::string(s.client_id()), s.version, s.expiry_interval, {}, expires};
  r.subscriptions.assign(s.subscriptions().begin(), s.subscriptions().end());
  batch_.save_session(std::move(r));
}


void worker::tick(time_point now) {
  now_ = now;
  // (The clients of these sessions are gone: their wills come from no peer.)
  std::vector<std::string> ended;
  for (client_session* s : sessions_) {
    if (s->will_at() <= now) publish_will(*s, now, nullptr);
    if (s->expires_at() <= now && !s->connection) ended.emplace_back(s->client_id());
  }
  for (const auto& id : ended) {
    client_session* s = sessions_.find(id);
    if (!s) continue;
    publish_will(*s, now, nullptr);  // the session ends: a will still waiting goes now
    end_session(*s, now);
  }
  const auto every = engine_.config().sys_interval;
  if (index_ == 0 && every.count() > 0 && now - last_sys_ >= every) {
    last_sys_ = now;
    publish_sys(now);
  }
  const auto sync_every = engine_.config().store_sync_interval;
  if (index_ == 0 && sync_every.count() > 0 && now - last_sync_ >= sync_every) {
    last_sync_ = now;
    if (auto r = engine_.store().sync(); !r && !write_error_) write_error_ = r.error();
  }
}

void worker::shutdown(time_point now) {
  // Closing a connection may end its session (erasing it from sessions_).
  now_ = now;
  std::vector<endpoint*> connected;
  for (const client_session* s : sessions_)
    if (s->connection) connected.push_back(s->connection);
  for (auto* ep : connected) {
    ep->protocol().disconnect(reason::server_shutting_down);
    ep->wake();
  }
}

std::optional<time_point> worker::next_tick() const {
  std::optional<time_point> t;
  auto earliest = [&](time_point x) {
    if (x != no_time && (!t || x < *t)) t = x;
  };
  for (const client_session* s : sessions_) {
    earliest(s->will_at());
    if (!s->connection) earliest(s->expires_at());
  }
  const auto every = engine_.config().sys_interval;
  if (index_ == 0 && every.count() > 0) earliest(last_sys_ + every);
  const auto sync_every = engine_.config().store_sync_interval;
  if (index_ == 0 && sync_every.count() > 0) earliest(last_sync_ + sync_every);
  return t;
}

}  // namespace tern::engine
