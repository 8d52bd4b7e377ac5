// tern/engine/delivery_target.hpp: where a worker's router hands a message
// for one matched subscriber. A worker has one target per worker: its own
// sessions (worker::local_target, delivery.cpp) and, for each other worker,
// an outbox that gathers one batch per loop turn (outbox_target, outbox.cpp).
// A bridge to another broker and a cluster node will be further kinds.
//
//   targets[t.session.owner]->deliver(route, m, t, client_id, ids, now);
//
// A target prepares the message for the subscriber itself (QoS, RETAIN,
// identifiers) and may keep per-route work (one copy of a message per
// batch, one prepared QoS 0 copy) keyed by the route number, which is new
// for every message routed.
//
// Thread safety: the routing worker's thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tern/engine/subscription_index.hpp"
#include "tern/codec/packet.hpp"
#include "tern/session/state.hpp"
#include "tern/storage/storage.hpp"

namespace tern::engine {

using session::time_point;
class worker;

// One subscriber a message was routed to (merged per session when several
// of its subscriptions matched: the highest QoS, every identifier).
struct route_target {
  const std::string* client_id;  // the index's copy: valid while the index lock is held
  subscribe_options options;
  session_handle session;
  std::uint32_t origin;     // the shared subscription it came through, if any
  std::uint32_t ids_begin;  // its identifiers, in the router's list
  std::uint32_t ids_count;
  bool persistent;  // the session journals
};

// Whether `m` for `t` is stored by the routing worker and so names its
// session by client id: a persistent subscriber's QoS 1/2 delivery. The
// router copies such ids while it holds the index lock; outbox_target
// stores such deliveries before posting its batch.
inline bool stored_by_router(const publish_packet& m, const route_target& t) noexcept {
  return t.persistent && std::min(m.qos, t.options.max_qos) != qos::at_most_once;
}

class delivery_target {
 public:
  virtual ~delivery_target() = default;
  // Message `m`, of route number `route`, for subscriber `t` with
  // subscription identifiers `ids`. `client_id` is t's (valid for the call;
  // given where the target needs it after the index lock: a persistent
  // subscriber at QoS 1/2 on another worker, else possibly empty).
  virtual void deliver(std::uint64_t route, const publish_packet& m, const route_target& t, std::string_view client_id,
                       std::span<const std::uint32_t> ids, time_point now) = 0;
};

// Messages for clients of another worker, routed during one loop turn.
// Each message is in it once, however many of the worker's clients get it.
struct delivery {
  static constexpr std::uint32_t by_handle = 0xFFFFFFFF;
  std::uint32_t message = 0;         // batch::messages[message]
  std::uint32_t client = by_handle;  // batch::client_ids[client]; by_handle: the session (slot, serial)
  std::uint32_t slot = 0;
  std::uint64_t serial = 0;
  subscribe_options options;
  std::uint32_t origin = 0;  // the shared subscription it came through, if any
  std::uint32_t ids_begin = 0;  // its subscription identifiers: batch::identifiers[ids_begin, +ids_count)
  std::uint32_t ids_count = 0;
  // Non-zero: the routing worker stored the message (already prepared for
  // this subscriber: QoS, RETAIN, identifiers) as queued message `seq` of a
  // persistent session, and committed it before posting the batch. Such a
  // delivery names its session by client id.
  std::uint64_t seq = 0;
  // Non-zero: the publisher's acknowledgement waits for this delivery
  // (queue_full_policy::hold_acks): the target worker sends `hold` back in a
  // batch's releases once the subscriber has room, at once when it has.
  std::uint64_t hold = 0;
};
// What one worker hands another in a loop turn: messages for its clients,
// and the acknowledgements those clients no longer hold up.
struct batch {
  std::uint32_t from = 0;                // the worker that made it
  std::vector<publish_packet> messages;  // as routed (retain flag as published), or prepared (seq)
  std::vector<delivery> deliveries;      // in routing order
  std::vector<std::uint32_t> identifiers;
  std::vector<std::string> client_ids;
  // Holds of the receiving worker (delivery::hold) released: one entry per
  // delivery that had one.
  std::vector<std::uint64_t> releases;
  bool empty() const noexcept { return deliveries.empty() && releases.empty(); }
  // Keeps the capacity.
  void clear() noexcept {
    messages.clear();
    deliveries.clear();
    identifiers.clear();
    client_ids.clear();
    releases.clear();
  }
};

// Another worker's clients: what is routed to them waits in a batch, handed
// over once per loop turn (worker::hand_over_outbox). A persistent
// subscriber's QoS 1/2 message is stored by the routing worker (in its
// turn's write batch: the publisher's acknowledgement waits for that
// commit only) and named by client id; others by handle.
class outbox_target final : public delivery_target {
 public:
  // `from`: the routing worker (its write batch, its message numbers).
  explicit outbox_target(worker& from) : from_(&from) {}

  void deliver(std::uint64_t route, const publish_packet& m, const route_target& t, std::string_view client_id,
               std::span<const std::uint32_t> ids, time_point now) override;

  batch& pending() noexcept { return batch_; }

 private:
  worker* from_;
  batch batch_;
  std::uint64_t route_ = 0;       // the route whose message is batch_.messages[message_]
  std::uint32_t message_ = 0;
};

}  // namespace tern::engine
