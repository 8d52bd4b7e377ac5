#include "tern/session/state.hpp"

#include <algorithm>

namespace tern::session {

std::optional<std::uint16_t> state::allocate_packet_id() {
  if (ids_in_use_.size() >= 65'535) return std::nullopt;
  // Scan from next_id_, wrapping 65535 -> 1; at most 65535 steps, and in
  // practice one, since ids are handed out in order and released in order.
  std::uint16_t id = next_id_ == 0 ? 1 : next_id_;
  while (ids_in_use_.count(id) != 0) id = id == 65'535 ? 1 : static_cast<std::uint16_t>(id + 1);
  ids_in_use_.insert(id);
  next_id_ = id == 65'535 ? 1 : static_cast<std::uint16_t>(id + 1);
  return id;
}

void state::release_packet_id(std::uint16_t id) { ids_in_use_.erase(id); }

bool state::packet_id_in_use(std::uint16_t id) const { return ids_in_use_.count(id) != 0; }

void state::add_outgoing(publish_packet m, std::uint32_t origin, std::uint64_t seq, bool was_queued) {
  const auto id = m.packet_id;
  ids_in_use_.insert(id);
  if (journal_ && seq == 0) seq = journal_->next_seq();
  auto [it, inserted] =
      outgoing_.insert_or_assign(id, outgoing{std::move(m), outgoing::phase::awaiting_ack, origin, seq});
  if (inserted) order_.push_back(id);
  if (journal_) journal_->sent(it->second, was_queued);
}

void state::restore_outgoing(outgoing o) {
  const auto id = o.message.packet_id;
  ids_in_use_.insert(id);
  auto [it, inserted] = outgoing_.insert_or_assign(id, std::move(o));
  (void)it;
  if (inserted) order_.push_back(id);
}

void state::set_released(outgoing& o) {
  o.phase = outgoing::phase::awaiting_comp;
  if (journal_) journal_->released(o);
}

outgoing* state::find_outgoing(std::uint16_t id) {
  auto it = outgoing_.find(id);
  return it == outgoing_.end() ? nullptr : &it->second;
}

std::optional<publish_packet> state::remove_outgoing(std::uint16_t id) {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end()) return std::nullopt;
  auto m = std::move(it->second.message);
  outgoing_.erase(it);
  // Acknowledgements usually come in order: the id is most often at the front.
  if (auto o = std::find(order_.begin(), order_.end(), id); o != order_.end()) order_.erase(o);
  ids_in_use_.erase(id);
  if (journal_) journal_->completed(id);
  return m;
}

enqueue_result state::enqueue(publish_packet m, time_point now, std::uint32_t origin, std::uint64_t seq,
                              bool stored) {
  const auto size = m.payload().size();
  const bool journaled = journal_ && m.qos != qos::at_most_once;
  if (journaled && seq == 0) seq = journal_->next_seq();
  auto fits = [&](std::size_t count, std::size_t bytes) {
    return count + 1 <= limits_.max_messages && bytes + size <= limits_.max_bytes;
  };
  auto push = [&] {
    queued_bytes_ += size;
    queue_.push_back(queued{std::move(m), now, origin, seq});
    if (journaled && !stored) journal_->queued(queue_.back());
  };
  if (fits(queue_.size(), queued_bytes_)) {
    push();
    return enqueue_result::queued;
  }
  // Would dropping every queued QoS 0 message make room? Only then drop any.
  std::size_t qos0_count = 0, qos0_bytes = 0;
  for (const auto& q : queue_) {
    if (q.message.qos == qos::at_most_once) {
      ++qos0_count;
      qos0_bytes += q.message.payload().size();
    }
  }
  if (!fits(queue_.size() - qos0_count, queued_bytes_ - qos0_bytes)) {
    ++dropped_;
    return m.qos == qos::at_most_once ? enqueue_result::dropped : enqueue_result::refused;
  }
  // Drop QoS 0 messages, oldest first, until the new one fits.
  for (auto it = queue_.begin(); it != queue_.end() && !fits(queue_.size(), queued_bytes_);) {
    if (it->message.qos != qos::at_most_once) {
      ++it;
      continue;
    }
    queued_bytes_ -= it->message.payload().size();
    it = queue_.erase(it);
    ++dropped_;
  }
  push();
  return enqueue_result::queued_dropping;
}

std::optional<queued> state::dequeue() {
  if (queue_.empty()) return std::nullopt;
  auto q = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= q.message.payload().size();
  return q;
}

void state::discard(const queued& q) {
  if (journal_ && q.message.qos != qos::at_most_once) journal_->unqueued(q.seq);
}

void state::attach_journal(journal* j) {
  journal_ = j;
  if (!j) return;
  for (auto& q : queue_) {
    if (q.message.qos == qos::at_most_once) continue;
    if (q.seq == 0) q.seq = j->next_seq();
    j->queued(q);
  }
  for (auto id : order_) {
    auto& o = outgoing_.at(id);
    if (o.seq == 0) o.seq = j->next_seq();
    j->sent(o, false);
    if (o.phase == outgoing::phase::awaiting_comp) j->released(o);
  }
  for (auto id : incoming_qos2_) j->incoming_added(id);
}

void state::clear() {
  outgoing_.clear();
  order_.clear();
  incoming_qos2_.clear();
  ids_in_use_.clear();
  next_id_ = 1;
  queue_.clear();
  queued_bytes_ = 0;
}

}  // namespace tern::session
