#include "tern/broker/engine.hpp"

#include "tern/broker/client_session.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/topic/topic.hpp"

namespace tern::broker {

// Per idle connection (see engine.hpp): the endpoint adds 32 bytes to its
// connection (and the session, client_session.hpp, is at most 88 bytes).
static_assert(sizeof(endpoint) <= sizeof(session::connection) + 32);

struct worker::cached_match {
  const std::string* client_id;
  const engine::subscriber* subscriber;
  const char* filter;  // the filter's text in the index: one filter, one pointer
};

struct engine::share_group {
  struct member {
    std::string client_id;
    subscribe_options options;
    std::uint32_t identifier = 0;
    bool persistent = false;
    std::uint32_t owner = 0;  // the session's handle, as in engine::subscriber
    std::uint32_t slot = 0;
    std::uint64_t serial = 0;
  };
  std::vector<member> members;  // changed under the index's writer lock
  std::atomic<std::size_t> next{0};
  std::uint32_t origin = 0;  // tags the messages it delivers (session::connection::publish)
};

namespace {

constexpr std::uint32_t never_expires = 0xFFFFFFFF;

std::chrono::seconds seconds(std::uint32_t s) { return std::chrono::seconds(s); }

// Properties of a message forwarded to a subscriber: the original ones plus
// the matching subscriptions' identifiers.
properties with_identifiers(const properties& p, std::span<const std::uint32_t> ids) {
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

// A message as one subscriber receives it.
publish_packet prepare(const publish_packet& m, const subscribe_options& o, std::span<const std::uint32_t> ids) {
  publish_packet out = m;
  out.qos = std::min(m.qos, o.max_qos);
  out.retain = o.retain_as_published && m.retain;
  out.dup = false;
  out.packet_id = 0;
  if (!ids.empty()) out.set_props(with_identifiers(m.props(), ids));
  return out;
}

// Levels of a topic name or filter: "a/b/c" has 3.
std::size_t levels(std::string_view topic) { return static_cast<std::size_t>(std::count(topic.begin(), topic.end(), '/')) + 1; }

// The broker's own topics: no client publishes there (as in mosquitto, which
// compares the first four characters), so none can forge its statistics.
bool reserved_for_broker(std::string_view topic) { return topic.starts_with("$SYS"); }

bool covered_by(std::string_view denied, std::string_view filter) {
  if (denied == filter) return true;
  // A filter without wildcards is covered when the denied filter matches it.
  return !topic::has_wildcard(filter) && topic::matches(denied, filter);
}

}  // namespace

// ---------------------------------------------------------------- endpoint

std::string client_info::peer() const { return connection ? connection->peer() : std::string(); }

endpoint::endpoint(worker& w, time_point now)
    : worker_(&w), conn_(session::role::server, *this, w.engine_.connection_options_, now, session::shared_options) {
  w.now_ = now;
}

endpoint::~endpoint() {
  // The derived (network) part is gone already: no virtual calls from here.
  destroying_ = true;
  if (unsynced_) std::erase(worker_->unsynced_, this);
  if (!admitted_) {
    delete pending_;
    return;
  }
  // Destroyed without the transport closing first (hooks see no peer).
  if (client_) worker_->closed(*this, error{reason::unspecified_error, "connection destroyed"}, worker_->now_);
}

void endpoint::track_unsynced() {
  if (unsynced_) return;
  unsynced_ = true;
  worker_->unsynced_.push_back(this);
}

void endpoint::receive(bytes_view in, time_point now) {
  worker_->now_ = now;
  worker_->received_bytes_ += in.size();
  conn_.receive(in, now);
}

void endpoint::on_timeout(time_point now) {
  worker_->now_ = now;
  conn_.on_timeout(now);
}

void endpoint::transport_closed(const error& why, time_point now) {
  worker_->now_ = now;
  conn_.transport_closed(why);
}

void endpoint::on_connect(connect_packet&& c) {
  if (admitted_) return;  // (the connection lets only one CONNECT through)
  delete std::exchange(pending_, new connect_packet(std::move(c)));
}

void endpoint::on_publish(publish_packet&& m) {
  client_session* client = this->client();
  if (!client) return;
  auto& eng = worker_->engine_;
  const auto now = worker_->now_;
  ++worker_->received_messages_;
  const bool v5 = conn_.version() == protocol_version::v5;
  if (levels(m.topic()) > eng.options_.max_topic_levels) {
    if (v5 && m.qos != qos::at_most_once) {
      conn_.acknowledge(m.packet_id, reason::topic_name_invalid);
    } else {
      conn_.disconnect(reason::topic_name_invalid);  // 3.1.1: closed, no packet
    }
    return;
  }
  if (reserved_for_broker(m.topic())) {
    // Not routed, not retained. 3.1.1 has no way to say so but silence.
    if (m.qos != qos::at_most_once) conn_.acknowledge(m.packet_id, v5 ? reason::not_authorized : reason::success);
    return;
  }
  const auto info = client->info(this);
  const auto verdict = eng.hooks_.on_publish(info, m);
  reason code = reason::success;
  if (verdict.action == publish_action::allow) {
    if (m.retain) worker_->batch_.put_retained(m, now);
    const auto matched = worker_->route(info, m, now);
    if (matched == 0 && conn_.version() == protocol_version::v5) code = reason::no_matching_subscribers;
  } else if (verdict.action == publish_action::refuse) {
    code = verdict.code;
  }
  if (m.qos != qos::at_most_once) {
    // Into the output now; written after the worker's commit() of this turn.
    conn_.acknowledge(m.packet_id, code);
    track_unsynced();
  }
}

void endpoint::on_delivered(const publish_packet&, reason) {
  if (client_session* client = this->client(); client && client->has_stored()) worker_->refill(*client, worker_->now_);
}

void endpoint::on_dropped(const publish_packet&, reason) {
  worker_->engine_.stats_.messages_dropped.fetch_add(1, std::memory_order_relaxed);
}

void endpoint::on_subscribe(subscribe_packet&& s) {
  if (client()) worker_->subscribe(*this, std::move(s));
}

void endpoint::on_unsubscribe(unsubscribe_packet&& u) {
  if (client()) worker_->unsubscribe(*this, std::move(u));
}

void endpoint::on_disconnect(const disconnect_packet& d) {
  normal_disconnect_ = d.reason_code != reason::disconnect_with_will_message;
  client_session* client = this->client();
  if (!client) return;
  if (auto e = d.props.get<property_id::session_expiry_interval>()) {
    if (client->expiry_interval == 0 && *e != 0) {
      // A session that was to end on disconnect cannot be made to persist by
      // DISCONNECT: not a valid DISCONNECT, so the will goes out (MQTT-3.14.2-2).
      normal_disconnect_ = false;
      conn_.disconnect(reason::protocol_error);
      return;
    }
    client->expiry_interval = std::min(*e, worker_->engine_.options_.max_session_expiry_interval);
    if (client->persistent() && !client->journaled) worker_->journal(*client);
  }
}

void endpoint::on_closed(const error& why) { worker_->closed(*this, why, worker_->now_); }

// ---------------------------------------------------------------- worker

worker::worker(engine& e, std::size_t index) : engine_(e), index_(index) {}

std::uint64_t worker::next_seq() { return engine_.next_seq(); }

worker::~worker() {
  for (client_session* s : sessions_) delete s;
}

void worker::admit(endpoint& ep, time_point now) {
  ep.worker_ = this;
  now_ = now;
  const std::unique_ptr<connect_packet> pending(ep.pending());  // freed on return: an idle connection keeps no CONNECT
  ep.set_client(nullptr);
  connect_packet& c = *pending;
  const auto& o = engine_.options_;
  const bool v5 = c.version == protocol_version::v5;
  auto refuse = [&](reason r) {
    ep.conn_.refuse(r);
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
    ep.conn_.disconnect(reason::topic_name_invalid);  // 3.1.1 has no return code for it: closed
    return ep.wake();
  }
  if (c.will && reserved_for_broker(c.will->topic)) return refuse(reason::not_authorized);

  const std::string peer = ep.peer();
  const auto verdict =
      engine_.hooks_.on_connect({c.client_id, c.username, c.password, c.props, c.version, c.clean_start, peer});
  if (is_failure(verdict)) return refuse(verdict);

  bool present = false;
  if (client_session* existing = find_session(c.client_id)) {
    auto& s = *existing;
    // A session that was to end with its connection (3.1.1 CleanSession 1,
    // 5.0 Session Expiry 0) ends when the takeover closes that connection:
    // the new one starts afresh and says so (session present 0).
    const bool ends = c.clean_start || !s.persistent();
    if (s.connection) {  // session takeover: the old connection goes
      endpoint* old = s.connection;
      old->set_client(nullptr);
      s.connection = nullptr;
      engine_.stats_.clients_connected.fetch_sub(1, std::memory_order_relaxed);
      engine_.hooks_.on_disconnect(s.info(old), error{reason::session_taken_over});
      old->conn_.disconnect(reason::session_taken_over);
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
  client_session* found = find_session(c.client_id);
  if (!found) {
    found = &add_session(c.client_id);
    found->state.set_limits(o.queue);
    engine_.stats_.clients_total.fetch_add(1, std::memory_order_relaxed);
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
  if (s.persistent() && !s.journaled) journal(s);
  ep.conn_.accept(s.state, a, now);
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
  const auto lock = engine_.index_lock_.writer();
  for (const auto& rec : s.subscriptions()) engine_.index(s, rec, true);
}

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
    const auto lock = engine_.index_lock_.reader(index_);
    // One filter's entries name distinct clients: only matches from several
    // filters (or shared subscriptions) need merging per client.
    const char* first_filter = nullptr;
    bool merge = false;
    auto add = [&](const std::string& id, const subscribe_options& o, std::uint32_t identifier, std::uint32_t origin,
                   std::uint32_t owner, std::uint32_t slot, std::uint64_t serial, bool persistent) {
      const auto begin = static_cast<std::uint32_t>(ids.size());
      if (identifier) ids.push_back(identifier);
      targets.push_back({&id, o, owner, slot, serial, origin, begin, identifier ? 1u : 0u, persistent});
    };
    for (const auto& c : cached_matches(m.topic())) {
      const auto& id = *c.client_id;
      const auto& sub = *c.subscriber;
      if (sub.options.no_local && id == from.client_id) continue;
      if (!first_filter) first_filter = c.filter;
      else if (c.filter != first_filter) merge = true;
      add(id, sub.options, sub.identifier, 0, sub.owner, sub.slot, sub.serial, sub.persistent);
    }
    if (!engine_.shared_.empty()) {
      engine_.shared_.match(m.topic(), [&](const std::string&, const std::shared_ptr<engine::share_group>& g,
                                           std::string_view) {
        if (g->members.empty()) return;
        const auto& x = g->members[g->next.fetch_add(1, std::memory_order_relaxed) % g->members.size()];
        add(x.client_id, x.options, x.identifier, g->origin, x.owner, x.slot, x.serial, x.persistent);
        merge = true;
      });
    }
    if (merge && targets.size() > 1) {
      // Deliver once per client: the highest QoS, every identifier. A
      // session's handle is the key: sorting integers, not client ids.
      auto key = [](const route_target& t) { return std::pair{t.owner, t.slot}; };
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
    // What other workers need by client id (stored messages of persistent
    // sessions), copied while the index still holds the ids.
    for (auto& t : targets) {
      if (t.owner == index_ || !t.persistent || std::min(m.qos, t.options.max_qos) == qos::at_most_once) continue;
      remote_ids.push_back(*t.client_id);  // taken in this order below
    }
  }
  std::size_t next_remote = 0;
  // A QoS 0 copy of `m` per RETAIN flag, made once and sent to every
  // subscriber that gets it as it is, without identifiers.
  std::optional<publish_packet> plain[2];
  // `m`'s index in outbox_[w].messages, once it is there.
  auto message_in = std::exchange(route_message_in_, {});
  message_in.assign(outbox_.size(), delivery::by_handle);
  auto message_for = [&](std::uint32_t owner) {
    if (message_in[owner] == delivery::by_handle) {
      outbox_[owner].messages.push_back(m);
      message_in[owner] = static_cast<std::uint32_t>(outbox_[owner].messages.size() - 1);
    }
    return message_in[owner];
  };
  for (auto& t : targets) {
    const std::span<const std::uint32_t> t_ids(ids.data() + t.ids_begin, t.ids_count);
    const auto q = std::min(m.qos, t.options.max_qos);
    if (t.owner == index_) {
      // This worker's session: alive, since only this thread ends it.
      client_session* s = session_at(t.slot, t.serial);
      if (!s) continue;
      if (q == qos::at_most_once && t_ids.empty()) {
        const bool retain = t.options.retain_as_published && m.retain;
        const bool as_is = m.qos == qos::at_most_once && m.retain == retain && !m.dup && m.packet_id == 0;
        auto& p = plain[retain ? 1 : 0];
        if (!as_is && !p) p = prepare(m, t.options, {});
        place_qos0(*s, as_is ? m : *p, now, t.origin);
      } else {
        deliver_local(*s, m, t.options, t_ids, now, t.origin);
      }
      continue;
    }
    auto& b = outbox_[t.owner];
    delivery d;
    d.options = t.options;
    d.origin = t.origin;
    if (t.persistent && q != qos::at_most_once) {
      // Stored here, committed before the batch is posted: the publisher's
      // acknowledgement waits for this worker's commit only.
      const auto& id = remote_ids[next_remote++];
      auto out = prepare(m, t.options, t_ids);
      d.seq = engine_.next_seq();
      batch_.append(id, d.seq, out, now);
      b.messages.push_back(std::move(out));
      d.message = static_cast<std::uint32_t>(b.messages.size() - 1);
      b.client_ids.push_back(id);
      d.client = static_cast<std::uint32_t>(b.client_ids.size() - 1);
    } else {
      d.message = message_for(t.owner);
      d.slot = t.slot;
      d.serial = t.serial;
      d.ids_begin = static_cast<std::uint32_t>(b.identifiers.size());
      d.ids_count = t.ids_count;
      b.identifiers.insert(b.identifiers.end(), t_ids.begin(), t_ids.end());
    }
    b.deliveries.push_back(d);
  }
  const auto routed = targets.size();
  route_targets_ = std::move(targets);
  route_ids_ = std::move(ids);
  route_client_ids_ = std::move(remote_ids);
  route_message_in_ = std::move(message_in);
  return routed;
}

std::span<const worker::cached_match> worker::cached_matches(std::string_view topic) {
  constexpr std::size_t most_topics = 4096;
  constexpr std::size_t most_matches = 65536;
  auto& cache = route_cache_;
  auto& matches = route_cache_matches_;
  const auto version = engine_.subscriptions_.version();
  if (route_cache_version_ != version || cache.size() >= most_topics || matches.size() >= most_matches) {
    cache.clear();
    matches.clear();
    route_cache_version_ = version;
  }
  auto it = cache.find(topic);
  if (it == cache.end()) {
    const auto begin = static_cast<std::uint32_t>(matches.size());
    engine_.subscriptions_.match(topic, [&](const std::string& id, const engine::subscriber& sub,
                                            std::string_view filter) { matches.push_back({&id, &sub, filter.data()}); });
    const cached_route r{begin, static_cast<std::uint32_t>(matches.size() - begin)};
    it = cache.emplace(std::string(topic), r).first;
  }
  return {matches.data() + it->second.begin, it->second.count};
}

void worker::flush_stats() {
  auto& st = engine_.stats_;
  if (received_messages_)
    st.messages_received.fetch_add(std::exchange(received_messages_, 0), std::memory_order_relaxed);
  if (received_bytes_) st.bytes_received.fetch_add(std::exchange(received_bytes_, 0), std::memory_order_relaxed);
  if (sent_messages_) st.messages_sent.fetch_add(std::exchange(sent_messages_, 0), std::memory_order_relaxed);
  if (sent_bytes_) st.bytes_sent.fetch_add(std::exchange(sent_bytes_, 0), std::memory_order_relaxed);
  if (dropped_messages_)
    st.messages_dropped.fetch_add(std::exchange(dropped_messages_, 0), std::memory_order_relaxed);
  if (stored_dropped_) st.stored_dropped.fetch_add(std::exchange(stored_dropped_, 0), std::memory_order_relaxed);
}

void worker::deliver_local(client_session& s, const publish_packet& m, const subscribe_options& o,
                           std::span<const std::uint32_t> ids, time_point now, std::uint32_t origin) {
  if (m.qos == qos::at_most_once && ids.empty() && !m.dup && m.packet_id == 0 && (!m.retain || o.retain_as_published))
    return place_qos0(s, m, now, origin);  // as it is: no copy
  place(s, prepare(m, o, ids), now, origin, 0);
}

void worker::place_qos0(client_session& s, const publish_packet& m, time_point now, std::uint32_t origin) {
  // A QoS 0 message is never queued for a session without a connection.
  if (!s.connection || !s.connection->conn_.connected()) return;
  auto& ep = *s.connection;
  if (ep.output().size() > engine_.options_.max_output_backlog) {
    ++dropped_messages_;  // a subscriber that does not read
    return;
  }
  const auto r = ep.conn_.publish_ref(m, now, origin);
  if (r == session::enqueue_result::dropped || r == session::enqueue_result::refused) {
    ++dropped_messages_;
  } else {
    ++sent_messages_;
    sent_bytes_ += m.payload().size();
  }
  ep.wake();
}

void worker::place(client_session& s, publish_packet out, time_point now, std::uint32_t origin,
                   std::uint64_t stored_seq) {
  const bool live = s.connection && s.connection->conn_.connected();
  const auto size = out.payload().size();
  // Counted here, added to the statistics once per call of route(), deliver()...
  auto sent = [&] {
    ++sent_messages_;
    sent_bytes_ += size;
  };
  if (stored_seq && !s.journaled) {
    // Stored by a router while the session was persistent; it is no longer.
    batch_.erase_queued(s.client_id(), stored_seq);
    stored_seq = 0;
  }
  if (out.qos != qos::at_most_once && (s.journaled || live)) {
    // In memory while the client reads and nothing waits in the store; else
    // in the store: a persistent session's while it is offline, and any
    // session's that its client reads more slowly than messages arrive. An
    // acknowledged message is not dropped for a slow reader short of
    // max_stored_messages; a clean session's stored ones go when it ends.
    const auto& limits = engine_.options_.queue;
    const bool memory = live && !s.has_stored() && s.state.queue().size() < limits.max_messages &&
                        s.state.queued_bytes() + size <= limits.max_bytes;
    if (!memory) return store_queued(s, out, now, stored_seq);
    const auto seq = s.journaled ? (stored_seq ? stored_seq : engine_.next_seq()) : 0;
    const auto r = live ? s.connection->conn_.publish(std::move(out), now, origin, seq, stored_seq != 0)
                        : s.state.enqueue(std::move(out), now, origin, seq, stored_seq != 0);
    if (r == session::enqueue_result::refused || r == session::enqueue_result::dropped) {
      ++dropped_messages_;
      if (r == session::enqueue_result::refused && stored_seq) batch_.erase_queued(s.client_id(), stored_seq);
    } else if (live) {
      sent();
    }
    if (live) s.connection->wake();
    return;
  }
  if (live) {
    if (out.qos == qos::at_most_once && s.connection->output().size() > engine_.options_.max_output_backlog) {
      ++dropped_messages_;  // a subscriber that does not read
      return;
    }
    const auto r = s.connection->conn_.publish(std::move(out), now, origin);
    if (r == session::enqueue_result::dropped || r == session::enqueue_result::refused) {
      ++dropped_messages_;
    } else {
      sent();
    }
    s.connection->wake();
  }
}

void worker::store_queued(client_session& s, const publish_packet& out, time_point now, std::uint64_t stored_seq) {
  const auto max = engine_.options_.max_stored_messages;
  const auto& log = engine_.options_.log;
  auto& x = s.ext();
  if (x.stored.size() >= max) {
    ++dropped_messages_;
    ++stored_dropped_;
    if (x.dropping++ == 0)
      log.warn("client {}: {} messages wait in the store for it (limits.max_stored_messages): its QoS 1/2 messages "
               "are dropped until it reads",
               s.client_id(), x.stored.size());
    if (stored_seq) batch_.erase_queued(s.client_id(), stored_seq);
    return;
  }
  stored_has_room(s);
  if (!s.journaled && !s.spilled) {
    // A clean session's first stored message: a session record that ends
    // with the broker (expiry 0) names its messages, so that recovery after
    // a crash forgets them with it.
    batch_.save_session(storage::session_record{std::string(s.client_id()), s.version, 0, {}, std::nullopt});
    s.spilled = true;
  }
  const auto seq = stored_seq ? stored_seq : engine_.next_seq();
  if (!stored_seq) batch_.append(s.client_id(), seq, out, now);
  x.stored.add(seq);
}

void worker::stored_has_room(client_session& s) {
  auto* x = s.more.get();
  if (!x || !x->dropping || x->stored.size() > engine_.options_.max_stored_messages / 2) return;
  engine_.options_.log.warn("client {}: {} QoS 1/2 messages were dropped for it; its queue in the store has room again",
                            s.client_id(), x->dropping);
  x->dropping = 0;
}

void worker::refill(client_session& s, time_point now) {
  if (!s.has_stored() || !s.connection || !s.connection->conn_.connected()) return;
  const auto max = engine_.options_.queue.max_messages;
  const auto have = s.state.queue().size();
  if (have > max / 2) return;
  write_through();  // the store must hold this turn's appends before it is read
  auto& stored = s.more->stored;
  const auto want = std::min(stored.size(), max - have);
  std::vector<storage::message_record> page;
  page.reserve(want);
  // The store's queue of this session also holds messages queued in memory
  // and ones still on their way from other workers: take only the seqs of
  // `stored`, in order.
  while (page.size() < want && !stored.empty()) {
    std::size_t seen = 0;
    const auto ask = want - page.size() + 16;
    engine_.store_.messages().for_each_queued(s.client_id(), stored.front(), ask,
                                              [&](const storage::message_record& r) {
                                                ++seen;
                                                if (page.size() >= want) return;
                                                while (!stored.empty() && stored.front() < r.seq)
                                                  stored.pop_front();  // gone from the store: nothing to send
                                                if (!stored.empty() && stored.front() == r.seq) {
                                                  stored.pop_front();
                                                  page.push_back(r);
                                                }
                                              });
    if (seen < ask) {  // the store has nothing more: what is left in `stored` is gone
      if (page.size() < want) stored.clear();
      break;
    }
  }
  auto& conn = s.connection->conn_;
  for (auto& r : page) {
    // A journaling session's record goes when the message is sent (its
    // journal says so); a clean session's now: it holds the message in memory.
    const bool erase = !s.journaled;
    if (erase) batch_.erase_queued(s.client_id(), r.seq);
    if (!session::age_message(r.message, r.queued_at, now)) {
      if (!erase) batch_.erase_queued(s.client_id(), r.seq);  // expired while stored
      continue;
    }
    r.message.packet_id = 0;
    const auto res = conn.publish(std::move(r.message), now, 0, r.seq, true);
    if (res == session::enqueue_result::refused) {
      if (!erase) batch_.erase_queued(s.client_id(), r.seq);
      ++dropped_messages_;
    } else if (res != session::enqueue_result::dropped) {
      ++sent_messages_;
    }
  }
  stored_has_room(s);
  s.trim();  // the stored queue may be empty now
  flush_stats();
  s.connection->wake();
}

bool worker::redeliver_shared(std::uint32_t origin, std::string_view leaving, const publish_packet& m,
                              time_point now) {
  engine::share_group::member target;
  {
    const auto lock = engine_.index_lock_.reader(index_);
    auto it = engine_.share_origins_.find(origin);
    if (it == engine_.share_origins_.end()) return false;
    auto g = it->second.lock();
    if (!g) return false;
    const auto n = g->members.size();
    for (std::size_t k = 0; k < n; ++k) {
      const auto& member = g->members[g->next.fetch_add(1, std::memory_order_relaxed) % n];
      if (member.client_id == leaving) continue;
      target = member;
      break;
    }
  }
  if (target.client_id.empty()) return false;
  if (target.owner == index_) {
    client_session* s = session_at(target.slot, target.serial);
    if (!s) return false;
    const std::uint32_t one[] = {target.identifier};
    deliver_local(*s, m, target.options, std::span<const std::uint32_t>(one, target.identifier ? 1u : 0u), now, origin);
    flush_stats();
  } else {
    auto& b = outbox_[target.owner];
    delivery d;
    b.messages.push_back(m);
    d.message = static_cast<std::uint32_t>(b.messages.size() - 1);
    d.slot = target.slot;
    d.serial = target.serial;
    d.options = target.options;
    d.origin = origin;
    d.ids_begin = static_cast<std::uint32_t>(b.identifiers.size());
    if (target.identifier) {
      b.identifiers.push_back(target.identifier);
      d.ids_count = 1;
    }
    b.deliveries.push_back(d);
  }
  return true;
}

void worker::deliver(batch&& b, time_point now) {
  now_ = now;
  for (const auto& d : b.deliveries) {
    auto& message = b.messages[d.message];
    if (d.client == delivery::by_handle) {
      // A session that ended since it was routed gets nothing.
      if (client_session* s = session_at(d.slot, d.serial))
        deliver_local(*s, message, d.options, std::span(b.identifiers).subspan(d.ids_begin, d.ids_count), now, d.origin);
      continue;
    }
    const auto& client_id = b.client_ids[d.client];
    client_session* s = find_session(client_id);
    if (!s) {
      if (d.seq) batch_.erase_queued(client_id, d.seq);  // the session ended meanwhile
    } else if (d.seq) {
      place(*s, std::move(message), now, d.origin, d.seq);
    } else {
      deliver_local(*s, message, d.options, std::span(b.identifiers).subspan(d.ids_begin, d.ids_count),
                    now, d.origin);
    }
  }
  flush_stats();
}

// ---------------------------------------------------------------- worker: sessions by handle

std::size_t worker::by_client_id::operator()(std::string_view id) const noexcept {
  return std::hash<std::string_view>{}(id);
}
std::size_t worker::by_client_id::operator()(const client_session* s) const noexcept {
  return (*this)(s->client_id());
}
bool worker::by_client_id::operator()(const client_session* a, const client_session* b) const noexcept {
  return a->client_id() == b->client_id();
}
bool worker::by_client_id::operator()(std::string_view id, const client_session* s) const noexcept {
  return id == s->client_id();
}
bool worker::by_client_id::operator()(const client_session* s, std::string_view id) const noexcept {
  return s->client_id() == id;
}

client_session* worker::find_session(std::string_view client_id) const {
  auto it = sessions_.find(client_id);
  return it == sessions_.end() ? nullptr : *it;
}

client_session& worker::add_session(std::string_view client_id) {
  std::unique_ptr<client_session> p(client_session::make(*this, client_id));
  auto& s = *p;
  if (free_slots_.empty()) {
    s.slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(&s);
  } else {
    s.slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[s.slot] = &s;
  }
  s.serial = next_serial_++;
  sessions_.insert(p.release());
  return s;
}

void worker::remove_session(client_session& s) {
  slots_[s.slot] = nullptr;
  free_slots_.push_back(s.slot);
  sessions_.erase(&s);
  delete &s;
}

client_session* worker::session_at(std::uint32_t slot, std::uint64_t serial) const noexcept {
  if (slot >= slots_.size()) return nullptr;
  client_session* s = slots_[slot];
  return s && s->serial == serial ? s : nullptr;
}

void worker::subscribe(endpoint& ep, subscribe_packet&& sp) {
  auto& s = *ep.client();
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
    if (topic::validate_filter(e.filter) || levels(e.filter) > o.max_topic_levels) {
      code = reason::topic_filter_invalid;
    } else if (std::any_of(o.denied_filters.begin(), o.denied_filters.end(),
                           [&](const std::string& d) { return covered_by(d, e.filter); })) {
      code = reason::not_authorized;
    } else {
      subscription sub = e;
      code = engine_.hooks_.on_subscribe(s.info(&ep), sub);
      if (!is_failure(code)) {
        sub.options.max_qos = std::min(sub.options.max_qos, o.connection.maximum_qos);
        auto shared = topic::parse_shared(sub.filter);
        const bool existed = s.subscriptions().contains(sub.filter);
        {
          const auto lock = engine_.index_lock_.writer();
          engine_.index(s, storage::subscription_record{sub.filter, sub.options, identifier}, s.journaled);
        }
        if (!existed) engine_.stats_.subscriptions.fetch_add(1, std::memory_order_relaxed);
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
  ep.conn_.send(std::move(ack));
  save(s);
  if (!retained.empty()) write_through();  // retained messages stored this turn are matched too
  for (auto& r : retained) {
    auto opts = r.options;
    opts.retain_as_published = true;  // retained messages sent on subscribe keep RETAIN=1
    std::vector<std::uint32_t> ids;
    if (identifier) ids.push_back(identifier);
    engine_.store_.retained().match(r.filter, now_, [&](const publish_packet& m) {
      deliver_local(s, m, opts, ids, now_);
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
      const auto lock = engine_.index_lock_.writer();
      engine_.unindex(f, s.client_id());
    }
    engine_.stats_.subscriptions.fetch_sub(1, std::memory_order_relaxed);
    ack.reason_codes.push_back(reason::success);
  }
  s.trim();
  if (s.version != protocol_version::v5) ack.reason_codes.clear();
  ep.conn_.send(std::move(ack));
  save(s);
  ep.wake();
}

void worker::closed(endpoint& ep, const error& why, time_point now) {
  client_session* s = ep.client();
  if (!s) return;
  ep.set_client(nullptr);
  s->connection = nullptr;
  engine_.stats_.clients_connected.fetch_sub(1, std::memory_order_relaxed);
  engine_.hooks_.on_disconnect(s->info(&ep), why);
  if (const auto* will = s->will(); will && !ep.normal_disconnect_) {
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
  const auto info = s.info(from);
  if (engine_.hooks_.on_publish(info, m).action != publish_action::allow) return;
  if (m.retain) batch_.put_retained(m, now);
  route(info, std::move(m), now);
}

void worker::end_session(client_session& s, time_point now) {
  if (!s.subscriptions().empty()) {
    {
      const auto lock = engine_.index_lock_.writer();
      for (const auto& rec : s.subscriptions()) engine_.unindex(rec.filter, s.client_id());
    }
    engine_.stats_.subscriptions.fetch_sub(s.subscriptions().size(), std::memory_order_relaxed);
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
  engine_.stats_.clients_total.fetch_sub(1, std::memory_order_relaxed);
  remove_session(s);  // `s` is gone after this
}

void worker::save(const client_session& s) {
  if (!s.journaled) return;
  std::optional<time_point> expires;
  if (!s.connection && s.expires_at() != no_time) expires = s.expires_at();
  storage::session_record r{std::string(s.client_id()), s.version, s.expiry_interval, {}, expires};
  r.subscriptions.assign(s.subscriptions().begin(), s.subscriptions().end());
  batch_.save_session(std::move(r));
}

void worker::write_through() {
  if (batch_.empty()) return;
  if (auto r = engine_.store_.commit(batch_, storage::wait_for::written); !r && !write_error_)
    write_error_ = r.error();
  batch_.clear();
  written_ = true;
}

storage::storage_result<void> worker::commit() {
  // Once per loop turn: the counters every worker adds to share a cache line.
  flush_stats();
  storage::storage_result<void> r;
  if (!batch_.empty() || written_) r = engine_.store_.commit(batch_, storage::wait_for::durable);
  batch_.clear();
  written_ = false;
  if (r && write_error_) r = *std::exchange(write_error_, std::nullopt);
  // (Swapped with a spare, not moved out: both keep their capacity.)
  std::swap(unsynced_, committed_);
  for (auto* ep : committed_) ep->unsynced_ = false;
  if (!r) {
    // Nothing of this turn may be acknowledged: the clients send it again.
    for (auto* ep : committed_) {
      ep->output().clear();
      ep->conn_.disconnect(reason::unspecified_error);
      ep->wake();
    }
  }
  committed_.clear();
  return r;
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
    client_session* s = find_session(id);
    if (!s) continue;
    publish_will(*s, now, nullptr);  // the session ends: a will still waiting goes now
    end_session(*s, now);
  }
  const auto every = engine_.options_.sys_interval;
  if (index_ == 0 && every.count() > 0 && now - last_sys_ >= every) {
    last_sys_ = now;
    publish_sys(now);
  }
  const auto sync_every = engine_.options_.store_sync_interval;
  if (index_ == 0 && sync_every.count() > 0 && now - last_sync_ >= sync_every) {
    last_sync_ = now;
    if (auto r = engine_.store_.sync(); !r && !write_error_) write_error_ = r.error();
  }
}

void worker::shutdown(time_point now) {
  // Closing a connection may end its session (erasing it from sessions_).
  now_ = now;
  std::vector<endpoint*> connected;
  for (const client_session* s : sessions_)
    if (s->connection) connected.push_back(s->connection);
  for (auto* ep : connected) {
    ep->conn_.disconnect(reason::server_shutting_down);
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
  const auto every = engine_.options_.sys_interval;
  if (index_ == 0 && every.count() > 0) earliest(last_sys_ + every);
  const auto sync_every = engine_.options_.store_sync_interval;
  if (index_ == 0 && sync_every.count() > 0) earliest(last_sync_ + sync_every);
  return t;
}

void worker::publish_sys(time_point now) {
  auto& st = engine_.stats_;
  const auto store = engine_.store_.stats();
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - engine_.started_).count();
  const std::pair<std::string_view, std::string> values[] = {
      {"$SYS/broker/version", engine_.options_.version},
      {"$SYS/broker/uptime", std::to_string(uptime) + " seconds"},
      {"$SYS/broker/clients/connected", std::to_string(st.clients_connected.load())},
      {"$SYS/broker/clients/total", std::to_string(st.clients_total.load())},
      {"$SYS/broker/messages/received", std::to_string(st.messages_received.load())},
      {"$SYS/broker/messages/sent", std::to_string(st.messages_sent.load())},
      {"$SYS/broker/messages/dropped", std::to_string(st.messages_dropped.load())},
      {"$SYS/broker/messages/dropped/stored", std::to_string(st.stored_dropped.load())},
      {"$SYS/broker/bytes/received", std::to_string(st.bytes_received.load())},
      {"$SYS/broker/bytes/sent", std::to_string(st.bytes_sent.load())},
      {"$SYS/broker/subscriptions/count", std::to_string(st.subscriptions.load())},
      {"$SYS/broker/retained messages/count", std::to_string(engine_.store_.retained().size())},
      {"$SYS/broker/store/commits", std::to_string(store.commits)},
      {"$SYS/broker/store/syncs", std::to_string(store.synced_commits)},
      {"$SYS/broker/store/disk syncs", std::to_string(store.disk_syncs)},
      {"$SYS/broker/store/operations", std::to_string(store.operations)},
  };
  const client_info sys{"$SYS", std::nullopt, protocol_version::v5, nullptr};
  for (const auto& [t, v] : values) {
    publish_packet m(t, shared_bytes::copy(v), qos::at_most_once, true);
    batch_.put_retained(m, now);
    route(sys, std::move(m), now);
  }
}

// ---------------------------------------------------------------- engine

engine::engine(options o, hooks& h, storage::store& store, std::size_t workers, time_point now)
    : options_(std::move(o)), hooks_(h), store_(store), started_(now), index_lock_(workers) {
  connection_options_ = options_.connection;
  connection_options_.auto_acknowledge = false;  // acknowledged once durable (commit)
  if (workers == 0) workers = 1;
  for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<worker>(*this, i));
  for (auto& w : workers_) w->outbox_.resize(workers);
  for (auto& w : workers_) w->last_sys_ = w->last_sync_ = now;
}

engine::~engine() = default;

void engine::unindex(std::string_view filter, std::string_view client_id) {
  auto shared = topic::parse_shared(filter);
  if (!shared || !*shared) {
    subscriptions_.erase(filter, std::string(client_id));
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

void engine::index(client_session& s, const storage::subscription_record& r, bool persistent) {
  const auto owner = static_cast<std::uint32_t>(s.home->index_);
  auto shared = topic::parse_shared(r.filter);
  if (!shared || !*shared) {
    subscriptions_.insert(r.filter, std::string(s.client_id()),
                          subscriber{r.options, r.identifier, persistent, owner, s.slot, s.serial});
    return;
  }
  const std::string group((*shared)->group);
  std::shared_ptr<share_group> grp;
  if (auto* g = shared_.find((*shared)->filter, group)) {
    grp = *g;
  } else {
    grp = std::make_shared<share_group>();
    grp->origin = ++next_origin_;
    share_origins_.emplace(grp->origin, grp);
    shared_.insert((*shared)->filter, group, grp);
  }
  auto m = std::find_if(grp->members.begin(), grp->members.end(), [&](const auto& x) { return x.client_id == s.client_id(); });
  if (m != grp->members.end()) {
    m->options = r.options;
    m->identifier = r.identifier;
    m->persistent = persistent;
    m->owner = owner;
    m->slot = s.slot;
    m->serial = s.serial;
  } else {
    grp->members.push_back({std::string(s.client_id()), r.options, r.identifier, persistent, owner, s.slot, s.serial});
  }
}

bool engine::deliver_outboxes(time_point now) {
  bool moved = false;
  for (auto& w : workers_)
    w->hand_over_outbox([&](std::size_t target, batch& b) {
      workers_[target]->deliver(std::move(b), now);
      moved = true;
    });
  return moved;
}

storage::storage_result<recovery> engine::recover(time_point now) {
  recovery out;
  std::vector<storage::session_record> records;
  store_.sessions().for_each([&](const storage::session_record& r) { records.push_back(r); });
  std::uint64_t last_seq = 0;
  for (auto& rec : records) {
    auto& w = *workers_[owner_of(rec.client_id)];
    if (rec.expiry_interval == 0 ||
        (rec.expires_at && *rec.expires_at <= now && rec.expiry_interval != never_expires)) {
      ++out.discarded;  // ended while the broker was down (its will, if any, goes out below)
      continue;
    }
    auto& s = w.add_session(rec.client_id);
    s.version = rec.version;
    s.expiry_interval = rec.expiry_interval;
    s.state.set_limits(options_.queue);
    if (rec.expiry_interval != never_expires)
      s.set_expires_at(rec.expires_at.value_or(now + seconds(rec.expiry_interval)));
    if (!rec.subscriptions.empty()) {
      const auto lock = index_lock_.writer();
      for (auto& sub : rec.subscriptions) {
        index(s, sub, true);
        s.ext().subscriptions.set(sub);
      }
    }
    out.subscriptions += rec.subscriptions.size();
    stats_.subscriptions.fetch_add(rec.subscriptions.size(), std::memory_order_relaxed);
    store_.messages().for_each(s.client_id(), [&](const storage::message_record& m) {
      last_seq = std::max(last_seq, m.seq);
      switch (m.kind) {
        case storage::record_kind::outgoing: {
          session::outgoing o{m.message, static_cast<enum session::outgoing::phase>(m.phase), 0, m.seq};
          o.message.packet_id = m.packet_id;
          if (o.phase == session::outgoing::phase::awaiting_comp) o.message.qos = qos::exactly_once;
          s.state.restore_outgoing(std::move(o));
          ++out.inflight;
          break;
        }
        case storage::record_kind::queued:
          s.ext().stored.push_back(m.seq);
          ++out.queued;
          break;
        case storage::record_kind::incoming_qos2:
          s.state.restore_incoming_qos2(m.packet_id);
          ++out.incoming;
          break;
      }
    });
    s.state.set_journal(&s);
    s.journaled = true;
    stats_.clients_total.fetch_add(1, std::memory_order_relaxed);
    ++out.sessions;
  }
  next_seq_.store(last_seq + 1, std::memory_order_relaxed);
  store_.wills().for_each([&](const storage::will_record& r) {
    auto& w = *workers_[owner_of(r.client_id)];
    if (client_session* s = w.find_session(r.client_id)) {
      s->set_will(std::make_unique<will_message>(r.will));
      s->more->will_at = r.due;
      ++out.wills;
      return;
    }
    // Its session ended while the broker was down: the will goes now.
    const std::unique_ptr<client_session> gone(client_session::make(w, r.client_id));
    gone->set_will(std::make_unique<will_message>(r.will));
    gone->more->will_at = r.due;
    gone->journaled = true;  // so that publishing it erases it
    w.publish_will(*gone, now, nullptr);
  });
  for (auto& rec : records) {
    auto& w = *workers_[owner_of(rec.client_id)];
    if (!w.find_session(rec.client_id)) w.batch_.forget_client(rec.client_id);
  }
  // Wills routed to other workers' sessions (stored, not yet counted there).
  deliver_outboxes(now);
  for (auto& w : workers_)
    if (auto r = w->commit(); !r) return r.error();
  return out;
}

std::size_t engine::owner_of(std::string_view client_id) const {
  return std::hash<std::string_view>{}(client_id) % workers_.size();
}

std::size_t engine::owner_of(const endpoint& ep) const {
  const connect_packet* c = ep.pending();
  if (!c || c->client_id.empty()) return ep.worker_->index_;
  return owner_of(c->client_id);
}

}  // namespace tern::broker
