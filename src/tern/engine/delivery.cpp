// Delivering to a session: in flight, its memory queue or its queue in the store; refilling from the store; batches from other workers; shared-subscription redelivery.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;

void worker::deliver_local(client_session& s, const publish_packet& m, const subscribe_options& o,
                           std::span<const std::uint32_t> ids, time_point now, std::uint32_t origin) {
  if (m.qos == qos::at_most_once && ids.empty() && !m.dup && m.packet_id == 0 && (!m.retain || o.retain_as_published))
    return place_qos0(s, m, now, origin);  // as it is: no copy
  place(s, prepare(m, o, ids), now, origin, 0);
}

void worker::place_qos0(client_session& s, const publish_packet& m, time_point now, std::uint32_t origin) {
  // A QoS 0 message is never queued for a session without a connection.
  if (!s.connection || !s.connection->protocol().connected()) return;
  auto& ep = *s.connection;
  if (ep.output().size() > engine_.config().max_output_backlog) {
    ++dropped_messages_;  // a subscriber that does not read
    return;
  }
  const auto r = ep.protocol().publish_ref(m, now, origin);
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
  const bool live = s.connection && s.connection->protocol().connected();
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
    // With hold_acks, a clean session's message joins the full memory
    // queue instead, and holds up its publisher's acknowledgement (hold.cpp).
    const auto& limits = engine_.config().queue;
    const bool memory = live && !s.has_stored() && s.state.queue().size() < limits.max_messages &&
                        s.state.queued_bytes() + size <= limits.max_bytes;
    if (!memory) {
      if (!live || s.journaled || s.has_stored() || engine_.config().queue_full != queue_full_policy::hold_acks)
        return store_queued(s, out, now, stored_seq);
      take_hold(s);
    }
    const auto seq = s.journaled ? (stored_seq ? stored_seq : engine_.next_seq()) : 0;
    const auto r = live ? s.connection->protocol().publish(std::move(out), now, origin, seq, stored_seq != 0)
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
    if (out.qos == qos::at_most_once && s.connection->output().size() > engine_.config().max_output_backlog) {
      ++dropped_messages_;  // a subscriber that does not read
      return;
    }
    const auto r = s.connection->protocol().publish(std::move(out), now, origin);
    if (r == session::enqueue_result::dropped || r == session::enqueue_result::refused) {
      ++dropped_messages_;
    } else {
      sent();
    }
    s.connection->wake();
  }
}

void worker::store_queued(client_session& s, const publish_packet& out, time_point now, std::uint64_t stored_seq) {
  const auto max = engine_.config().max_stored_messages;
  const auto& log = engine_.config().log;
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
  if (!x || !x->dropping || x->stored.size() > engine_.config().max_stored_messages / 2) return;
  engine_.config().log.warn("client {}: {} QoS 1/2 messages were dropped for it; its queue in the store has room again",
                            s.client_id(), x->dropping);
  x->dropping = 0;
}

void worker::refill(client_session& s, time_point now) {
  if (!s.has_stored() || !s.connection || !s.connection->protocol().connected()) return;
  const auto max = engine_.config().queue.max_messages;
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
    engine_.store().messages().for_each_queued(s.client_id(), stored.front(), ask,
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
  auto& conn = s.connection->protocol();
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
  std::optional<share_member> other;
  {
    const auto lock = engine_.index().reader(index_);
    other = engine_.index().other_member(origin, leaving);
  }
  if (!other) return false;
  const auto& member = *other;
  if (member.session.owner == index_ && !sessions_.at(member.session.slot, member.session.serial)) return false;
  // By handle, as before a shared subscription's redelivery (persistent: false: not stored on the way).
  const route_target t{&member.client_id, member.options, member.session, origin, 0, member.identifier ? 1u : 0u, false};
  const std::uint32_t one[] = {member.identifier};
  targets_[member.session.owner]->deliver(++routes_, m, t, member.client_id, std::span<const std::uint32_t>(one, t.ids_count),
                                          now);
  local_.finish();
  flush_stats();
  return true;
}

void worker::local_target::deliver(std::uint64_t route, const publish_packet& m, const route_target& t,
                                   std::string_view, std::span<const std::uint32_t> ids, time_point now) {
  // This worker's session: alive while it routes, since only this thread ends it.
  client_session* s = w_.sessions_.at(t.session.slot, t.session.serial);
  if (!s || !w_.permitted(*s, m.topic(), access::read, s->connection)) return;
  if (route != route_) {
    finish();
    route_ = route;
  }
  if (std::min(m.qos, t.options.max_qos) == qos::at_most_once && ids.empty()) {
    const bool retain = t.options.retain_as_published && m.retain;
    const bool as_is = m.qos == qos::at_most_once && m.retain == retain && !m.dup && m.packet_id == 0;
    auto& p = plain_[retain ? 1 : 0];
    if (!as_is && !p) p = prepare(m, t.options, {});
    w_.place_qos0(*s, as_is ? m : *p, now, t.origin);
  } else {
    w_.deliver_local(*s, m, t.options, ids, now, t.origin);
  }
}

void worker::deliver(batch&& b, time_point now) {
  now_ = now;
  for (const auto id : b.releases) release_local(id);
  for (const auto& d : b.deliveries) {
    if (d.hold) {
      // Its publisher's acknowledgement waits for this delivery: held by the
      // subscriber if full (place), else released at once.
      holding_ = {true, {b.from, d.hold}, 0};
      deliver_one(b, d, now);
      if (std::exchange(holding_, {}).taken == 0) release({b.from, d.hold});
    } else {
      deliver_one(b, d, now);
    }
  }
  flush_stats();
}

void worker::deliver_one(batch& b, const delivery& d, time_point now) {
  auto& message = b.messages[d.message];
  if (d.client == delivery::by_handle) {
    // A session that ended since it was routed gets nothing.
    if (client_session* s = sessions_.at(d.slot, d.serial); s && permitted(*s, message.topic(), access::read, s->connection))
      deliver_local(*s, message, d.options, std::span(b.identifiers).subspan(d.ids_begin, d.ids_count), now, d.origin);
    return;
  }
  const auto& client_id = b.client_ids[d.client];
  client_session* s = sessions_.find(client_id);
  if (!s || !permitted(*s, message.topic(), access::read, s->connection)) {
    if (d.seq) batch_.erase_queued(client_id, d.seq);  // the session ended meanwhile, or may not read it
  } else if (d.seq) {
    place(*s, std::move(message), now, d.origin, d.seq);
  } else {
    deliver_local(*s, message, d.options, std::span(b.identifiers).subspan(d.ids_begin, d.ids_count), now,
                  d.origin);
  }
}

}  // namespace tern::engine
