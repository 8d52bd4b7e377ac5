#include "tern/broker/client_session.hpp"

#include "tern/broker/engine.hpp"

namespace tern::broker {

session_handle client_session::handle() const { return {static_cast<std::uint32_t>(home->index()), slot, serial}; }

// The state's changes go to the worker's batch (committed once per loop turn).

std::uint64_t client_session::next_seq() { return home->next_seq(); }

void client_session::queued(const session::queued& q) {
  home->store_batch().append(client_id(), q.seq, q.message, q.enqueued_at);
}

void client_session::unqueued(std::uint64_t seq) { home->store_batch().erase_queued(client_id(), seq); }

void client_session::sent(const session::outgoing& o, bool was_queued) {
  if (was_queued) home->store_batch().erase_queued(client_id(), o.seq);
  home->store_batch().set_inflight(client_id(), o.seq, o.message.packet_id, storage::inflight_phase::awaiting_ack, o.message);
}

void client_session::released(const session::outgoing& o) {
  // The message itself is no longer needed: only PUBREL is ever resent.
  home->store_batch().set_inflight(client_id(), o.seq, o.message.packet_id, storage::inflight_phase::awaiting_comp, {});
}

void client_session::completed(std::uint16_t packet_id) { home->store_batch().erase_inflight(client_id(), packet_id); }

void client_session::incoming_added(std::uint16_t packet_id) {
  home->store_batch().add_incoming_qos2(client_id(), packet_id);
}

void client_session::incoming_removed(std::uint16_t packet_id) {
  home->store_batch().erase_incoming_qos2(client_id(), packet_id);
}

}  // namespace tern::broker
