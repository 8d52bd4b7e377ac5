// At start: the store's persistent sessions, their subscriptions, in-flight and queued messages and wills rebuilt on their workers.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;

storage::storage_result<recovery> engine::recover(time_point now) {
  recovery out;
  std::vector<storage::session_record> records;
  store_.sessions().for_each([&](const storage::session_record& r) { records.push_back(r); });
  std::uint64_t last_seq = 0;
  for (auto& rec : records) workers_[owner_of(rec.client_id)]->restore(rec, now, out, last_seq);
  next_seq_.store(last_seq + 1, std::memory_order_relaxed);
  store_.wills().for_each(
      [&](const storage::will_record& r) { workers_[owner_of(r.client_id)]->restore_will(r, now, out); });
  for (auto& rec : records) workers_[owner_of(rec.client_id)]->forget_if_gone(rec.client_id);
  // Wills routed to other workers' sessions (stored, not yet counted there).
  deliver_outboxes(now);
  for (auto& w : workers_)
    if (auto r = w->commit(); !r) return r.error();
  return out;
}

bool worker::restore(const storage::session_record& rec, time_point now, recovery& out, std::uint64_t& last_seq) {
  if (rec.expiry_interval == 0 ||
      (rec.expires_at && *rec.expires_at <= now && rec.expiry_interval != never_expires)) {
    ++out.discarded;  // ended while the broker was down (its will, if any, goes out: restore_will)
    return false;
  }
  auto& index = engine_.index();
  auto& s = sessions_.add(*this, rec.client_id);
  s.version = rec.version;
  s.expiry_interval = rec.expiry_interval;
  s.state.set_limits(session_limits());
  if (rec.expiry_interval != never_expires)
    s.set_expires_at(rec.expires_at.value_or(now + seconds(rec.expiry_interval)));
  if (!rec.subscriptions.empty()) {
    const auto lock = index.writer();
    for (auto& sub : rec.subscriptions) {
      index.add(s.client_id(), s.handle(), sub, true);
      s.ext().subscriptions.set(sub);
    }
  }
  out.subscriptions += rec.subscriptions.size();
  engine_.stats().subscriptions.fetch_add(rec.subscriptions.size(), std::memory_order_relaxed);
  engine_.store().messages().for_each(s.client_id(), [&](const storage::message_record& m) {
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
  engine_.stats().clients_total.fetch_add(1, std::memory_order_relaxed);
  ++out.sessions;
  return true;
}

void worker::restore_will(const storage::will_record& r, time_point now, recovery& out) {
  if (client_session* s = sessions_.find(r.client_id)) {
    s->set_will(std::make_unique<will_message>(r.will));
    s->more->will_at = r.due;
    ++out.wills;
    return;
  }
  // Its session ended while the broker was down: the will goes now.
  const std::unique_ptr<client_session> gone(client_session::make(*this, r.client_id));
  gone->set_will(std::make_unique<will_message>(r.will));
  gone->more->will_at = r.due;
  gone->journaled = true;  // so that publishing it erases it
  publish_will(*gone, now, nullptr);
}

void worker::forget_if_gone(std::string_view client_id) {
  if (!sessions_.find(client_id)) batch_.forget_client(client_id);
}

}  // namespace tern::engine
