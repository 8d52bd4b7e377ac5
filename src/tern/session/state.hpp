// tern/session/state.hpp: the MQTT Session State that outlives a network
// connection (MQTT 5.0 4.1): outgoing QoS 1/2 messages in flight, incoming
// QoS 2 messages received and not yet released, packet identifiers, and the
// queue of messages waiting for room in the in-flight window.
//
// A broker keeps one per client session; a client keeps one per session with
// its server. A session::connection works on the state it is given and may be
// replaced by a new connection that resumes the same state.
//
//   tern::session::state s({.max_messages = 1000, .max_bytes = 1 << 20});
//   auto r = s.enqueue(msg, now);   // when no connection is attached
//
// Thread safety: none; a state belongs to one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "tern/codec/packet.hpp"

namespace tern::session {

using clock = std::chrono::steady_clock;  // the type only: the session never reads a clock
using time_point = clock::time_point;

// One outgoing QoS 1 or 2 message in flight.
struct outgoing {
  enum class phase : std::uint8_t {
    awaiting_ack,   // PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2)
    awaiting_comp,  // PUBREL sent, waiting for PUBCOMP (QoS 2)
  };
  publish_packet message;  // packet_id set
  enum phase phase = phase::awaiting_ack;
  std::uint32_t origin = 0;  // the caller's tag, from connection::publish
};

// A message waiting for room in the in-flight window (or for a connection).
struct queued {
  publish_packet message;  // packet_id not yet assigned
  time_point enqueued_at;  // for Message Expiry Interval
  std::uint32_t origin = 0;  // the caller's tag, from connection::publish
};

struct queue_limits {
  std::size_t max_messages = 1000;
  std::size_t max_bytes = 16 * 1024 * 1024;  // payload bytes
};

// What enqueue() did.
enum class enqueue_result : std::uint8_t {
  queued,           // the message is queued
  queued_dropping,  // queued, after dropping queued QoS 0 messages to make room
  dropped,          // not queued: a QoS 0 message and no room
  refused,          // not queued: a QoS 1/2 message and no room even without the QoS 0 ones
};

class state {
 public:
  explicit state(queue_limits limits = {}) : limits_(limits) {}

  // ---- packet identifiers ----
  // A free packet identifier (1..65535), or nullopt when all are in use.
  std::optional<std::uint16_t> allocate_packet_id();
  void release_packet_id(std::uint16_t id);
  bool packet_id_in_use(std::uint16_t id) const;

  // ---- outgoing QoS 1/2 in flight, in the order they were sent ----
  // Records `m` (its packet_id set) as sent, with the caller's tag.
  void add_outgoing(publish_packet m, std::uint32_t origin = 0);
  outgoing* find_outgoing(std::uint16_t id);
  // Removes the entry and releases its packet id; returns the message.
  std::optional<publish_packet> remove_outgoing(std::uint16_t id);
  const std::map<std::uint16_t, outgoing>& outgoing_messages() const { return outgoing_; }
  // Packet ids in the order their PUBLISH was first sent (resend order).
  const std::deque<std::uint16_t>& outgoing_order() const { return order_; }
  std::size_t inflight() const { return outgoing_.size(); }

  // ---- incoming QoS 2: PUBREC sent, PUBREL not yet received ----
  bool incoming_qos2(std::uint16_t id) const { return incoming_qos2_.count(id) != 0; }
  void add_incoming_qos2(std::uint16_t id) { incoming_qos2_.insert(id); }
  void remove_incoming_qos2(std::uint16_t id) { incoming_qos2_.erase(id); }
  const std::set<std::uint16_t>& incoming_qos2_ids() const { return incoming_qos2_; }

  // ---- queue of messages waiting to be sent ----
  // Adds `m` at the back. When the queue is full, queued QoS 0 messages are
  // dropped first (oldest first); a QoS 0 message that still does not fit is
  // dropped, a QoS 1/2 message refused. Counts every drop in dropped().
  enqueue_result enqueue(publish_packet m, time_point now, std::uint32_t origin = 0);
  std::optional<queued> dequeue();
  const std::deque<queued>& queue() const { return queue_; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  const queue_limits& limits() const { return limits_; }
  void set_limits(queue_limits l) { limits_ = l; }
  // Messages dropped or refused by enqueue() since the state was made.
  std::uint64_t dropped() const { return dropped_; }

  // Forgets everything but the limits and counters (Clean Start).
  void clear();

 private:
  queue_limits limits_;
  std::map<std::uint16_t, outgoing> outgoing_;
  std::deque<std::uint16_t> order_;
  std::set<std::uint16_t> incoming_qos2_;
  std::set<std::uint16_t> ids_in_use_;
  std::uint16_t next_id_ = 1;
  std::deque<queued> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace tern::session
