// Acknowledgements held for full subscribers (queue_full_policy::hold_acks):
// a clean subscriber whose memory queue is full takes the QoS 1/2 message
// anyway and holds up its publisher's PUBACK/PUBREC until it has room again
// or is gone. The publisher's worker keeps the withheld acknowledgement
// (held_acks_, a count of waits); a subscriber on another worker answers
// each delivery that carried a hold in a batch's releases.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "tern/engine/client_session.hpp"

namespace tern::engine {

std::uint64_t worker::hold_remote() {
  if (!holding_.active || holding_.hold.worker != index_) return 0;
  if (holding_.hold.id == 0) holding_.hold.id = ++last_hold_;
  ++holding_.taken;
  return holding_.hold.id;
}

void worker::take_hold(client_session& s) {
  if (!holding_.active) return;
  if (holding_.hold.worker == index_ && holding_.hold.id == 0) holding_.hold.id = ++last_hold_;
  ++holding_.taken;
  s.ext().holds.push_back(holding_.hold);
  ++held_messages_;
}

void worker::release_holds(client_session& s) {
  if (!s.more || s.more->holds.empty()) return;
  auto holds = std::exchange(s.more->holds, {});
  for (const auto& h : holds) release(h);
  s.trim();
}

void worker::release(ack_hold h) {
  if (h.worker == index_) return release_local(h.id);
  auto& b = outboxes_[h.worker].pending();
  b.from = static_cast<std::uint32_t>(index_);
  b.releases.push_back(h.id);
}

void worker::release_local(std::uint64_t id) {
  auto it = held_acks_.find(id);
  if (it == held_acks_.end() || --it->second.waits != 0) return;
  const auto a = it->second;
  held_acks_.erase(it);
  if (!a.ep) return;  // its publisher is gone: it sends the message again, or not
  a.ep->protocol().acknowledge(a.packet_id, a.code);
  track_unsynced(*a.ep);  // written after this turn's commit, like any acknowledgement
  a.ep->wake();
}

session::queue_limits worker::session_limits() const {
  if (engine_.config().queue_full != queue_full_policy::hold_acks) return engine_.config().queue;
  constexpr auto unbounded = std::numeric_limits<std::size_t>::max();
  return {unbounded, unbounded};
}

bool worker::has_room_after_pump(const client_session& s) const {
  const auto& limits = engine_.config().queue;
  const auto& q = s.state.queue();
  const std::size_t leaving = q.empty() ? 0 : 1;
  const std::size_t leaving_bytes = q.empty() ? 0 : q.front().message.payload().size();
  return q.size() - leaving < limits.max_messages && s.state.queued_bytes() - leaving_bytes < limits.max_bytes;
}

}  // namespace tern::engine
