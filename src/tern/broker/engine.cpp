#include "tern/broker/engine.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include "tern/topic/topic.hpp"

namespace tern::broker {

// A session as the broker keeps it: MQTT session state, subscriptions, will
// and expiry, and the connection it is attached to, if any. Lives on the
// worker that owns its client id.
struct client_session {
  std::string client_id;
  std::optional<std::string> username;
  std::string peer;
  protocol_version version = protocol_version::v5;
  session::state state;
  std::map<std::string, storage::subscription_record, std::less<>> subscriptions;
  std::optional<will_message> will;
  std::uint32_t expiry_interval = 0;  // seconds; 0xFFFFFFFF: never
  endpoint* connection = nullptr;
  std::optional<time_point> will_at;     // a delayed will is due
  std::optional<time_point> expires_at;  // the session ends, if still disconnected

  client_info info() const { return {client_id, username, peer, version}; }
  bool persistent() const { return expiry_interval != 0; }
};

struct engine::share_group {
  struct member {
    std::string client_id;
    subscribe_options options;
    std::uint32_t identifier = 0;
  };
  std::vector<member> members;  // changed under the exclusive index lock
  std::atomic<std::size_t> next{0};
  std::uint32_t origin = 0;  // tags the messages it delivers (session::connection::publish)
};

namespace {

constexpr std::uint32_t never_expires = 0xFFFFFFFF;

std::chrono::seconds seconds(std::uint32_t s) { return std::chrono::seconds(s); }

// Properties of a message forwarded to a subscriber: the original ones plus
// the matching subscriptions' identifiers.
properties with_identifiers(const properties& p, const std::vector<std::uint32_t>& ids) {
  if (ids.empty()) return p;
  properties::builder b;
  b.append(p);
  for (auto id : ids) b.add<property_id::subscription_identifier>(id);
  return b.build();
}

// A will's properties as a PUBLISH may carry them (no Will Delay Interval).
properties publish_properties_of_will(const properties& p) {
  if (!p.find(property_id::will_delay_interval)) return p;
  properties::builder b;
  p.for_each([&](const property& x) {
    if (x.id != property_id::will_delay_interval) (void)b.add(x);
  });
  return b.build();
}

bool covered_by(std::string_view denied, std::string_view filter) {
  if (denied == filter) return true;
  // A filter without wildcards is covered when the denied filter matches it.
  return !topic::has_wildcard(filter) && topic::matches(denied, filter);
}

}  // namespace

// ---------------------------------------------------------------- endpoint

endpoint::endpoint(worker& w, std::string peer, link& l, time_point now)
    : worker_(&w), peer_(std::move(peer)), link_(&l), conn_(session::role::server, *this, [&] {
        auto o = w.engine_.config().connection;
        o.auto_acknowledge = false;
        return o;
      }(), now),
      now_(now) {}

endpoint::~endpoint() {
  if (client_) worker_->closed(*this, error{reason::unspecified_error, "connection destroyed"}, now_);
}

void endpoint::receive(bytes_view in, time_point now) {
  now_ = now;
  worker_->engine_.stats_.bytes_received.fetch_add(in.size(), std::memory_order_relaxed);
  conn_.receive(in, now);
}

void endpoint::on_timeout(time_point now) {
  now_ = now;
  conn_.on_timeout(now);
}

void endpoint::transport_closed(const error& why, time_point now) {
  now_ = now;
  conn_.transport_closed(why);
}

void endpoint::on_connect(connect_packet&& c) { pending_ = std::move(c); }

void endpoint::on_publish(publish_packet&& m) {
  if (!client_) return;
  auto& eng = worker_->engine_;
  eng.stats_.messages_received.fetch_add(1, std::memory_order_relaxed);
  const auto info = client_->info();
  const auto verdict = eng.hooks_.on_publish(info, m);
  reason code = reason::success;
  if (verdict.action == publish_action::allow) {
    if (m.retain) eng.store_.retained().put(m, now_);
    const auto matched = worker_->route(info, m, now_);
    if (matched == 0 && conn_.version() == protocol_version::v5) code = reason::no_matching_subscribers;
  } else if (verdict.action == publish_action::refuse) {
    code = verdict.code;
  }
  if (m.qos != qos::at_most_once) conn_.acknowledge(m.packet_id, code);
}

void endpoint::on_delivered(const publish_packet&, reason) {}

void endpoint::on_dropped(const publish_packet&, reason) {
  worker_->engine_.stats_.messages_dropped.fetch_add(1, std::memory_order_relaxed);
}

void endpoint::on_subscribe(subscribe_packet&& s) {
  if (client_) worker_->subscribe(*this, std::move(s));
}

void endpoint::on_unsubscribe(unsubscribe_packet&& u) {
  if (client_) worker_->unsubscribe(*this, std::move(u));
}

void endpoint::on_disconnect(const disconnect_packet& d) {
  normal_disconnect_ = d.reason_code != reason::disconnect_with_will_message;
  if (!client_) return;
  if (auto e = d.props.get<property_id::session_expiry_interval>()) {
    if (client_->expiry_interval == 0 && *e != 0) {
      // A session that was to end on disconnect cannot be made to persist by
      // DISCONNECT: not a valid DISCONNECT, so the will goes out (MQTT-3.14.2-2).
      normal_disconnect_ = false;
      conn_.disconnect(reason::protocol_error);
      return;
    }
    client_->expiry_interval = std::min(*e, worker_->engine_.options_.max_session_expiry_interval);
  }
}

void endpoint::on_closed(const error& why) { worker_->closed(*this, why, now_); }

// ---------------------------------------------------------------- worker

worker::worker(engine& e, std::size_t index) : engine_(e), index_(index) {}
worker::~worker() = default;

std::unique_ptr<endpoint> worker::open(std::string peer, link& l, time_point now) {
  return std::make_unique<endpoint>(*this, std::move(peer), l, now);
}

void worker::admit(endpoint& ep, time_point now) {
  ep.worker_ = this;
  ep.now_ = now;
  connect_packet c = std::move(*ep.pending_);
  ep.pending_.reset();
  const auto& o = engine_.options_;
  const bool v5 = c.version == protocol_version::v5;
  auto refuse = [&](reason r) {
    ep.conn_.refuse(r);
    ep.wake();
  };

  bool assigned = false;
  if (c.client_id.empty()) {
    if (!v5 && !c.clean_start) return refuse(reason::client_identifier_not_valid);  // MQTT-3.1.3-8
    if (!o.allow_zero_length_client_id) return refuse(reason::client_identifier_not_valid);
    // An identifier this worker owns, so the session stays on this thread.
    do {
      c.client_id = "auto-" + std::to_string(index_) + "-" + std::to_string(++assigned_ids_);
    } while (engine_.owner_of(c.client_id) != index_);
    assigned = true;
  }
  if (c.version == protocol_version::v3_1 && c.client_id.size() > 23)
    return refuse(reason::client_identifier_not_valid);

  const auto verdict = engine_.hooks_.on_connect({c.client_id, c.username, c.password, c.props, c.version,
                                                  c.clean_start, ep.peer_});
  if (is_failure(verdict)) return refuse(verdict);

  bool present = false;
  auto it = sessions_.find(c.client_id);
  if (it != sessions_.end()) {
    auto& s = *it->second;
    if (s.connection) {  // session takeover: the old connection goes
      endpoint* old = s.connection;
      old->client_ = nullptr;
      s.connection = nullptr;
      engine_.stats_.clients_connected.fetch_sub(1, std::memory_order_relaxed);
      engine_.hooks_.on_disconnect(s.info(), error{reason::session_taken_over});
      old->conn_.disconnect(reason::session_taken_over);
      old->wake();
      const bool delayed = s.will && s.will->props.get<property_id::will_delay_interval>().value_or(0) > 0;
      if (s.will && !(delayed && !c.clean_start)) publish_will(s, now);
      s.will.reset();
    } else if (s.will_at && c.clean_start) {
      publish_will(s, now);  // the old session ends now: its delayed will goes out
    }
    s.will_at.reset();
    s.expires_at.reset();
    if (c.clean_start) {
      end_session(s, now);
    } else {
      present = true;
    }
  }
  it = sessions_.find(c.client_id);
  if (it == sessions_.end()) {
    it = sessions_.emplace(c.client_id, std::make_unique<client_session>()).first;
    it->second->client_id = c.client_id;
    it->second->state.set_limits(o.queue);
    engine_.stats_.clients_total.fetch_add(1, std::memory_order_relaxed);
  }
  auto& s = *it->second;
  s.username = c.username;
  s.peer = ep.peer_;
  s.version = c.version;
  s.will = std::move(c.will);
  std::uint32_t requested = v5 ? c.props.get<property_id::session_expiry_interval>().value_or(0)
                               : (c.clean_start ? 0 : never_expires);
  s.expiry_interval = std::min(requested, o.max_session_expiry_interval);
  s.connection = &ep;
  ep.client_ = &s;
  ep.normal_disconnect_ = false;

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
  engine_.stats_.clients_connected.fetch_add(1, std::memory_order_relaxed);
  ep.conn_.accept(s.state, a, now);
  save(s);
  ep.wake();
}

std::size_t worker::route(const client_info& from, publish_packet m, time_point now) {
  struct match {
    std::string_view client_id;  // valid while the index lock is held
    subscribe_options options;
    std::uint32_t identifier;
    std::uint32_t origin = 0;
  };
  struct target {
    std::string client_id;
    subscribe_options options;
    std::vector<std::uint32_t> identifiers;
    std::uint32_t origin;
  };
  std::vector<target> targets;
  {
    // Only the lookup holds the shared lock; delivery happens after it, so a
    // large fan-out never makes (un)subscribes on other threads wait.
    std::vector<match> matches;
    std::shared_lock lock(engine_.index_mutex_);
    engine_.subscriptions_.match(m.topic(), [&](const std::string& id, const engine::subscriber& sub, std::string_view) {
      if (sub.options.no_local && id == from.client_id) return;
      matches.push_back({id, sub.options, sub.identifier, 0});
    });
    engine_.shared_.match(m.topic(), [&](const std::string&, const std::shared_ptr<engine::share_group>& g,
                                         std::string_view) {
      if (g->members.empty()) return;
      const auto& member = g->members[g->next.fetch_add(1, std::memory_order_relaxed) % g->members.size()];
      matches.push_back({member.client_id, member.options, member.identifier, g->origin});
    });
    // Deliver once per client: the highest QoS, every identifier.
    std::sort(matches.begin(), matches.end(), [](const match& a, const match& b) { return a.client_id < b.client_id; });
    for (std::size_t i = 0; i < matches.size();) {
      target t{std::string(matches[i].client_id), matches[i].options, {}, 0};
      std::size_t j = i;
      for (; j < matches.size() && matches[j].client_id == matches[i].client_id; ++j) {
        t.origin = std::max(t.origin, matches[j].origin);
        t.options.max_qos = std::max(t.options.max_qos, matches[j].options.max_qos);
        t.options.retain_as_published = t.options.retain_as_published || matches[j].options.retain_as_published;
        if (matches[j].identifier) t.identifiers.push_back(matches[j].identifier);
      }
      targets.push_back(std::move(t));
      i = j;
    }
  }
  for (auto& t : targets) {
    const auto owner = engine_.owner_of(t.client_id);
    if (owner == index_) {
      auto it = sessions_.find(t.client_id);
      if (it != sessions_.end()) deliver_local(*it->second, m, t.options, t.identifiers, now, t.origin);
    } else {
      outbox_[owner].push_back({std::move(t.client_id), m, t.options, std::move(t.identifiers), t.origin});
    }
  }
  return targets.size();
}

void worker::deliver_local(client_session& s, const publish_packet& m, const subscribe_options& o,
                           const std::vector<std::uint32_t>& ids, time_point now, std::uint32_t origin) {
  publish_packet out = m;
  out.qos = std::min(m.qos, o.max_qos);
  out.retain = o.retain_as_published && m.retain;
  out.dup = false;
  out.packet_id = 0;
  if (!ids.empty()) out.set_props(with_identifiers(m.props(), ids));
  auto& stats = engine_.stats_;
  if (s.connection && s.connection->conn_.connected()) {
    if (out.qos == qos::at_most_once && s.connection->output().size() > engine_.options_.max_output_backlog) {
      stats.messages_dropped.fetch_add(1, std::memory_order_relaxed);  // a subscriber that does not read
      return;
    }
    const auto r = s.connection->conn_.publish(std::move(out), now, origin);
    if (r == session::enqueue_result::dropped || r == session::enqueue_result::refused) {
      stats.messages_dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      stats.messages_sent.fetch_add(1, std::memory_order_relaxed);
      stats.bytes_sent.fetch_add(m.payload().size(), std::memory_order_relaxed);
    }
    s.connection->wake();
  } else if (s.persistent() && out.qos != qos::at_most_once) {
    const auto r = s.state.enqueue(std::move(out), now, origin);
    if (r == session::enqueue_result::refused) stats.messages_dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

bool worker::redeliver_shared(std::uint32_t origin, std::string_view leaving, const publish_packet& m,
                              time_point now) {
  std::string target;
  subscribe_options options;
  std::uint32_t identifier = 0;
  {
    std::shared_lock lock(engine_.index_mutex_);
    auto it = engine_.share_origins_.find(origin);
    if (it == engine_.share_origins_.end()) return false;
    auto g = it->second.lock();
    if (!g) return false;
    const auto n = g->members.size();
    for (std::size_t k = 0; k < n; ++k) {
      const auto& member = g->members[g->next.fetch_add(1, std::memory_order_relaxed) % n];
      if (member.client_id == leaving) continue;
      target = member.client_id;
      options = member.options;
      identifier = member.identifier;
      break;
    }
  }
  if (target.empty()) return false;
  std::vector<std::uint32_t> ids;
  if (identifier) ids.push_back(identifier);
  const auto owner = engine_.owner_of(target);
  if (owner == index_) {
    auto it = sessions_.find(target);
    if (it == sessions_.end()) return false;
    deliver_local(*it->second, m, options, ids, now, origin);
  } else {
    outbox_[owner].push_back({std::move(target), m, options, std::move(ids), origin});
  }
  return true;
}

void worker::deliver(batch&& b, time_point now) {
  for (auto& d : b) {
    auto it = sessions_.find(d.client_id);
    if (it != sessions_.end()) deliver_local(*it->second, d.message, d.options, d.identifiers, now, d.origin);
  }
}

std::vector<std::pair<std::size_t, batch>> worker::take_outbox() {
  std::vector<std::pair<std::size_t, batch>> out;
  for (std::size_t i = 0; i < outbox_.size(); ++i) {
    if (!outbox_[i].empty()) out.emplace_back(i, std::exchange(outbox_[i], {}));
  }
  return out;
}

void worker::subscribe(endpoint& ep, subscribe_packet&& sp) {
  auto& s = *ep.client_;
  const auto& o = engine_.options_;
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
    if (topic::validate_filter(e.filter)) {
      code = reason::topic_filter_invalid;
    } else if (std::any_of(o.denied_filters.begin(), o.denied_filters.end(),
                           [&](const std::string& d) { return covered_by(d, e.filter); })) {
      code = reason::not_authorized;
    } else {
      subscription sub = e;
      code = engine_.hooks_.on_subscribe(s.info(), sub);
      if (!is_failure(code)) {
        sub.options.max_qos = std::min(sub.options.max_qos, o.connection.maximum_qos);
        auto shared = topic::parse_shared(sub.filter);
        const bool existed = s.subscriptions.count(sub.filter) != 0;
        {
          std::unique_lock lock(engine_.index_mutex_);
          if (shared && *shared) {
            const std::string group((*shared)->group);
            auto* g = engine_.shared_.find((*shared)->filter, group);
            std::shared_ptr<engine::share_group> grp;
            if (g) {
              grp = *g;
            } else {
              grp = std::make_shared<engine::share_group>();
              grp->origin = ++engine_.next_origin_;
              engine_.share_origins_.emplace(grp->origin, grp);
              engine_.shared_.insert((*shared)->filter, group, grp);
            }
            auto m = std::find_if(grp->members.begin(), grp->members.end(),
                                  [&](const auto& x) { return x.client_id == s.client_id; });
            if (m != grp->members.end()) {
              m->options = sub.options;
              m->identifier = identifier;
            } else {
              grp->members.push_back({s.client_id, sub.options, identifier});
            }
          } else {
            engine_.subscriptions_.insert(sub.filter, s.client_id, engine::subscriber{sub.options, identifier});
          }
        }
        if (!existed) engine_.stats_.subscriptions.fetch_add(1, std::memory_order_relaxed);
        s.subscriptions[sub.filter] = storage::subscription_record{sub.filter, sub.options, identifier};
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
  ep.conn_.send(std::move(ack));
  save(s);
  for (auto& r : retained) {
    auto opts = r.options;
    opts.retain_as_published = true;  // retained messages sent on subscribe keep RETAIN=1
    std::vector<std::uint32_t> ids;
    if (identifier) ids.push_back(identifier);
    engine_.store_.retained().match(r.filter, ep.now_, [&](const publish_packet& m) {
      deliver_local(s, m, opts, ids, ep.now_);
    });
  }
  ep.wake();
}

void worker::unsubscribe(endpoint& ep, unsubscribe_packet&& u) {
  auto& s = *ep.client_;
  unsuback_packet ack;
  ack.packet_id = u.packet_id;
  for (const auto& f : u.filters) {
    auto it = s.subscriptions.find(f);
    if (it == s.subscriptions.end()) {
      ack.reason_codes.push_back(reason::no_subscription_existed);
      continue;
    }
    {
      std::unique_lock lock(engine_.index_mutex_);
      engine_.unindex(f, s.client_id);
    }
    s.subscriptions.erase(it);
    engine_.stats_.subscriptions.fetch_sub(1, std::memory_order_relaxed);
    ack.reason_codes.push_back(reason::success);
  }
  if (s.version != protocol_version::v5) ack.reason_codes.clear();
  ep.conn_.send(std::move(ack));
  save(s);
  ep.wake();
}

void worker::closed(endpoint& ep, const error& why, time_point now) {
  client_session* s = ep.client_;
  if (!s) return;
  ep.client_ = nullptr;
  s->connection = nullptr;
  engine_.stats_.clients_connected.fetch_sub(1, std::memory_order_relaxed);
  engine_.hooks_.on_disconnect(s->info(), why);
  if (s->will && !ep.normal_disconnect_) {
    const auto delay = s->will->props.get<property_id::will_delay_interval>().value_or(0);
    if (delay == 0 || !s->persistent()) {
      publish_will(*s, now);
    } else {
      s->will_at = now + seconds(std::min(delay, s->expiry_interval));
    }
  } else {
    s->will.reset();
  }
  if (!s->persistent()) {
    end_session(*s, now);
    return;
  }
  if (s->expiry_interval != never_expires) s->expires_at = now + seconds(s->expiry_interval);
  save(*s);
}

void worker::publish_will(client_session& s, time_point now) {
  if (!s.will) return;
  will_message w = std::move(*s.will);
  s.will.reset();
  s.will_at.reset();
  publish_packet m(w.topic, w.payload, w.qos, w.retain, publish_properties_of_will(w.props));
  const auto info = s.info();
  if (engine_.hooks_.on_publish(info, m).action != publish_action::allow) return;
  if (m.retain) engine_.store_.retained().put(m, now);
  route(info, std::move(m), now);
}

void worker::end_session(client_session& s, time_point now) {
  {
    std::unique_lock lock(engine_.index_mutex_);
    for (const auto& [filter, rec] : s.subscriptions) engine_.unindex(filter, s.client_id);
  }
  engine_.stats_.subscriptions.fetch_sub(s.subscriptions.size(), std::memory_order_relaxed);
  s.subscriptions.clear();
  // Messages a shared subscription gave this session and it never received
  // go to another member (MQTT 5.0 4.8.2). A QoS 2 message whose PUBREC
  // arrived was received: it stays delivered.
  for (const auto& [id, out] : s.state.outgoing_messages())
    if (out.origin && out.phase == session::outgoing::phase::awaiting_ack)
      redeliver_shared(out.origin, s.client_id, out.message, now);
  for (const auto& q : s.state.queue())
    if (q.origin) redeliver_shared(q.origin, s.client_id, q.message, now);
  s.state.clear();
  engine_.store_.sessions().erase(s.client_id);
  if (s.connection) return;  // a clean start reuses the entry
  engine_.stats_.clients_total.fetch_sub(1, std::memory_order_relaxed);
  sessions_.erase(s.client_id);  // `s` is gone after this
}

void worker::save(const client_session& s) {
  if (!s.persistent()) return;
  storage::session_record r{s.client_id, s.version, s.expiry_interval, {}};
  for (const auto& [f, rec] : s.subscriptions) r.subscriptions.push_back(rec);
  engine_.store_.sessions().save(r);
}

void worker::tick(time_point now) {
  std::vector<std::string> ended;
  for (auto& [id, s] : sessions_) {
    if (s->will_at && *s->will_at <= now) publish_will(*s, now);
    if (s->expires_at && *s->expires_at <= now && !s->connection) ended.push_back(id);
  }
  for (const auto& id : ended) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    publish_will(*it->second, now);  // the session ends: a will still waiting goes now
    end_session(*it->second, now);
  }
  const auto every = engine_.options_.sys_interval;
  if (index_ == 0 && every.count() > 0 && now - last_sys_ >= every) {
    last_sys_ = now;
    publish_sys(now);
  }
}

void worker::shutdown(time_point now) {
  // Closing a connection may end its session (erasing it from sessions_).
  std::vector<endpoint*> connected;
  for (auto& [id, s] : sessions_)
    if (s->connection) connected.push_back(s->connection);
  for (auto* ep : connected) {
    ep->now_ = now;
    ep->conn_.disconnect(reason::server_shutting_down);
    ep->wake();
  }
}

std::optional<time_point> worker::next_tick() const {
  std::optional<time_point> t;
  auto earliest = [&](std::optional<time_point> x) {
    if (x && (!t || *x < *t)) t = x;
  };
  for (const auto& [id, s] : sessions_) {
    earliest(s->will_at);
    if (!s->connection) earliest(s->expires_at);
  }
  const auto every = engine_.options_.sys_interval;
  if (index_ == 0 && every.count() > 0) earliest(last_sys_ + every);
  return t;
}

void worker::publish_sys(time_point now) {
  auto& st = engine_.stats_;
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - engine_.started_).count();
  const std::pair<std::string_view, std::string> values[] = {
      {"$SYS/broker/version", engine_.options_.version},
      {"$SYS/broker/uptime", std::to_string(uptime) + " seconds"},
      {"$SYS/broker/clients/connected", std::to_string(st.clients_connected.load())},
      {"$SYS/broker/clients/total", std::to_string(st.clients_total.load())},
      {"$SYS/broker/messages/received", std::to_string(st.messages_received.load())},
      {"$SYS/broker/messages/sent", std::to_string(st.messages_sent.load())},
      {"$SYS/broker/messages/dropped", std::to_string(st.messages_dropped.load())},
      {"$SYS/broker/bytes/received", std::to_string(st.bytes_received.load())},
      {"$SYS/broker/bytes/sent", std::to_string(st.bytes_sent.load())},
      {"$SYS/broker/subscriptions/count", std::to_string(st.subscriptions.load())},
      {"$SYS/broker/retained messages/count", std::to_string(engine_.store_.retained().size())},
  };
  static const std::optional<std::string> no_user;
  const client_info sys{"$SYS", no_user, "", protocol_version::v5};
  for (const auto& [t, v] : values) {
    publish_packet m(t, shared_bytes::copy(v), qos::at_most_once, true);
    engine_.store_.retained().put(m, now);
    route(sys, std::move(m), now);
  }
}

// ---------------------------------------------------------------- engine

engine::engine(options o, hooks& h, storage::store& store, std::size_t workers, time_point now)
    : options_(std::move(o)), hooks_(h), store_(store), started_(now) {
  if (workers == 0) workers = 1;
  for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<worker>(*this, i));
  for (auto& w : workers_) w->outbox_.resize(workers);
  for (auto& w : workers_) w->last_sys_ = now;
}

engine::~engine() = default;

void engine::unindex(std::string_view filter, const std::string& client_id) {
  auto shared = topic::parse_shared(filter);
  if (!shared || !*shared) {
    subscriptions_.erase(filter, client_id);
    return;
  }
  const std::string group((*shared)->group);
  auto* g = shared_.find((*shared)->filter, group);
  if (!g) return;
  auto grp = *g;  // keep the group alive while its entry goes
  std::erase_if(grp->members, [&](const auto& x) { return x.client_id == client_id; });
  if (grp->members.empty()) {
    share_origins_.erase(grp->origin);
    shared_.erase((*shared)->filter, group);
  }
}

std::size_t engine::owner_of(std::string_view client_id) const {
  return std::hash<std::string_view>{}(client_id) % workers_.size();
}

std::size_t engine::owner_of(const endpoint& ep) const {
  if (!ep.pending_ || ep.pending_->client_id.empty()) return ep.worker_->index_;
  return owner_of(ep.pending_->client_id);
}

}  // namespace tern::broker
