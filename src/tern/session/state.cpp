#include "tern/session/state.hpp"

#include <algorithm>

namespace tern::session {

namespace {
// Appends `id`, doubling the ring's block when full (a full
// circular_buffer would overwrite its front instead).
void push_order(id_order& order, std::uint16_t id) {
  if (order.full()) order.set_capacity(std::max<std::size_t>(8, order.capacity() * 2));
  order.push_back(id);
}
}  // namespace

std::optional<std::uint16_t> state::allocate_packet_id() {
  auto& f = flows_.mut();
  if (f.ids_in_use.size() >= 65'535) return std::nullopt;
  // Scan from next_id, wrapping 65535 -> 1; at most 65535 steps, and in
  // practice one, since ids are handed out in order and released in order.
  std::uint16_t id = f.next_id == 0 ? 1 : f.next_id;
  while (f.ids_in_use.count(id) != 0) id = id == 65'535 ? 1 : static_cast<std::uint16_t>(id + 1);
  f.ids_in_use.insert(id);
  f.next_id = id == 65'535 ? 1 : static_cast<std::uint16_t>(id + 1);
  return id;
}

void state::release_packet_id(std::uint16_t id) {
  if (auto* f = flows_.ptr()) f->ids_in_use.erase(id);
}

bool state::packet_id_in_use(std::uint16_t id) const { return flows_.get().ids_in_use.count(id) != 0; }

void state::add_outgoing(publish_packet m, std::uint32_t origin, std::uint64_t seq, bool was_queued) {
  auto& f = flows_.mut();
  const auto id = m.packet_id;
  f.ids_in_use.insert(id);
  if (journal_ && seq == 0) seq = journal_->next_seq();
  auto [it, inserted] =
      f.outgoing.insert_or_assign(id, outgoing{std::move(m), outgoing::phase::awaiting_ack, origin, seq});
  if (inserted) push_order(f.order, id);
  if (journal_) journal_->sent(it->second, was_queued);
}

void state::restore_outgoing(outgoing o) {
  auto& f = flows_.mut();
  const auto id = o.message.packet_id;
  f.ids_in_use.insert(id);
  auto [it, inserted] = f.outgoing.insert_or_assign(id, std::move(o));
  (void)it;
  if (inserted) push_order(f.order, id);
}

void state::set_released(outgoing& o) {
  o.phase = outgoing::phase::awaiting_comp;
  if (journal_) journal_->released(o);
}

outgoing* state::find_outgoing(std::uint16_t id) {
  auto* f = flows_.ptr();
  if (!f) return nullptr;
  auto it = f->outgoing.find(id);
  return it == f->outgoing.end() ? nullptr : &it->second;
}

std::optional<publish_packet> state::remove_outgoing(std::uint16_t id) {
  auto* f = flows_.ptr();
  if (!f) return std::nullopt;
  auto it = f->outgoing.find(id);
  if (it == f->outgoing.end()) return std::nullopt;
  auto m = std::move(it->second.message);
  f->outgoing.erase(it);
  // Acknowledgements usually come in order: the id is most often at the front.
  auto& order = f->order;
  if (!order.empty() && order.front() == id) order.pop_front();
  else if (auto o = std::find(order.begin(), order.end(), id); o != order.end()) order.erase(o);
  f->ids_in_use.erase(id);
  if (journal_) journal_->completed(id);
  return m;
}

enqueue_result state::enqueue(publish_packet m, time_point now, std::uint32_t origin, std::uint64_t seq,
                              bool stored) {
  const auto size = m.payload().size();
  const bool journaled = journal_ && m.qos != qos::at_most_once;
  if (journaled && seq == 0) seq = journal_->next_seq();
  auto& part = queue_.mut();
  auto& queue = part.items;
  auto& queued_bytes_ = part.bytes;
  auto fits = [&](std::size_t count, std::size_t bytes) {
    return count + 1 <= max_messages_ && bytes + size <= max_bytes_;
  };
  auto push = [&] {
    queued_bytes_ += size;
    queue.push_back(queued{std::move(m), now, origin, seq});
    if (journaled && !stored) journal_->queued(queue.back());
  };
  if (fits(queue.size(), queued_bytes_)) {
    push();
    return enqueue_result::queued;
  }
  // Would dropping every queued QoS 0 message make room? Only then drop any.
  std::size_t qos0_count = 0, qos0_bytes = 0;
  for (const auto& q : queue) {
    if (q.message.qos == qos::at_most_once) {
      ++qos0_count;
      qos0_bytes += q.message.payload().size();
    }
  }
  if (!fits(queue.size() - qos0_count, queued_bytes_ - qos0_bytes)) {
    ++part.dropped;
    return m.qos == qos::at_most_once ? enqueue_result::dropped : enqueue_result::refused;
  }
  // Drop QoS 0 messages, oldest first, until the new one fits.
  for (auto it = queue.begin(); it != queue.end() && !fits(queue.size(), queued_bytes_);) {
    if (it->message.qos != qos::at_most_once) {
      ++it;
      continue;
    }
    queued_bytes_ -= it->message.payload().size();
    it = queue.erase(it);
    ++part.dropped;
  }
  push();
  return enqueue_result::queued_dropping;
}

std::optional<queued> state::dequeue() {
  if (queue_.empty_now()) return std::nullopt;
  auto& part = queue_.mut();
  auto q = std::move(part.items.front());
  part.items.pop_front();
  part.bytes -= q.message.payload().size();
  return q;
}

void state::discard(const queued& q) {
  if (journal_ && q.message.qos != qos::at_most_once) journal_->unqueued(q.seq);
}

bool age_message(publish_packet& m, time_point since, time_point now) {
  const auto expiry = m.props().get<property_id::message_expiry_interval>();
  if (!expiry) return true;
  const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - since).count();
  if (waited >= std::int64_t{*expiry}) return false;
  if (waited <= 0) return true;
  const auto left = static_cast<std::uint32_t>(*expiry - static_cast<std::uint32_t>(waited));
  properties::builder b;
  m.props().for_each([&](const property& p) {
    if (p.id == property_id::message_expiry_interval) b.add<property_id::message_expiry_interval>(left);
    else (void)b.add(p);
  });
  m.set_props(b.build());
  return true;
}

void state::attach_journal(journal* j) {
  journal_ = j;
  if (!j) return;
  if (!queue_.empty_now()) {
    for (auto& q : queue_.mut().items) {
      if (q.message.qos == qos::at_most_once) continue;
      if (q.seq == 0) q.seq = j->next_seq();
      j->queued(q);
    }
  }
  auto* f = flows_.ptr();
  if (!f) return;
  for (auto id : f->order) {
    auto& o = f->outgoing.at(id);
    if (o.seq == 0) o.seq = j->next_seq();
    j->sent(o, false);
    if (o.phase == outgoing::phase::awaiting_comp) j->released(o);
  }
  for (auto id : f->incoming_qos2) j->incoming_added(id);
}

void state::clear() {
  flows_.reset();  // frees the tables: a cleared state is often an idle one
  // The count of dropped messages outlives a clear (it is a counter, not state).
  if (auto* q = queue_.ptr(); q && q->dropped != 0) {
    q->items.clear();
    q->bytes = 0;
  } else {
    queue_.reset();
  }
}

}  // namespace tern::session
