#include "tern/storage/batch_journal.hpp"

namespace tern::storage {

void batch_journal::queued(const session::queued& q) {
  journal_batch().append(journal_key(), q.seq, q.message, q.enqueued_at);
}

void batch_journal::unqueued(std::uint64_t seq) { journal_batch().erase_queued(journal_key(), seq); }

void batch_journal::sent(const session::outgoing& o, bool was_queued) {
  auto& b = journal_batch();
  if (was_queued) b.erase_queued(journal_key(), o.seq);
  b.set_inflight(journal_key(), o.seq, o.message.packet_id, inflight_phase::awaiting_ack, o.message);
}

void batch_journal::released(const session::outgoing& o) {
  // The message itself is no longer needed: only PUBREL is ever resent.
  journal_batch().set_inflight(journal_key(), o.seq, o.message.packet_id, inflight_phase::awaiting_comp, {});
}

void batch_journal::completed(std::uint16_t packet_id) { journal_batch().erase_inflight(journal_key(), packet_id); }

void batch_journal::incoming_added(std::uint16_t packet_id) {
  journal_batch().add_incoming_qos2(journal_key(), packet_id);
}

void batch_journal::incoming_removed(std::uint16_t packet_id) {
  journal_batch().erase_incoming_qos2(journal_key(), packet_id);
}

}  // namespace tern::storage
