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
// A state can keep a copy of its QoS 1/2 messages elsewhere (a store): give
// it a journal (set_journal), which hears of every change as it happens.
// Each QoS 1/2 message then carries a sequence number (`seq`) from the
// journal, which orders the session's messages in the copy.
//
// Memory: an idle state (nothing in flight, nothing queued) holds no heap
// memory; in-flight bookkeeping allocates nothing per message once its
// tables have grown.
//
// Thread safety: none; a state belongs to one thread at a time.
#pragma once

#include <boost/circular_buffer.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
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
  std::uint64_t seq = 0;     // the journal's number (0 without a journal)
};

// A message waiting for room in the in-flight window (or for a connection).
struct queued {
  publish_packet message;  // packet_id not yet assigned
  time_point enqueued_at;  // for Message Expiry Interval
  std::uint32_t origin = 0;  // the caller's tag, from connection::publish
  std::uint64_t seq = 0;     // the journal's number (QoS 1/2 with a journal; else 0)
};

// Hears of every change to a state's QoS 1/2 messages (QoS 0 messages are
// never reported), to keep a copy elsewhere: a broker's persistent sessions,
// a client's store directory. Called synchronously from the state's methods.
class journal {
 public:
  virtual ~journal() = default;
  // A number for a new QoS 1/2 message, larger than any given before.
  virtual std::uint64_t next_seq() = 0;
  // `q` joined the queue (not reported for messages enqueued as `stored`).
  virtual void queued(const queued& q) = 0;
  // Queued message `seq` left the queue without being sent (expired, too large).
  virtual void unqueued(std::uint64_t seq) = 0;
  // `o` is in flight (PUBLISH sent). `was_queued`: it was reported queued
  // (or enqueued as stored) before, and leaves the queue now.
  virtual void sent(const outgoing& o, bool was_queued) = 0;
  // A QoS 2 message's PUBREC arrived: `o` now waits for PUBCOMP.
  virtual void released(const outgoing& o) = 0;
  // The in-flight message with this packet id is gone (acknowledged, refused, dropped).
  virtual void completed(std::uint16_t packet_id) = 0;
  // Incoming QoS 2 packet ids recorded (PUBREC sent) and released (PUBREL).
  virtual void incoming_added(std::uint16_t packet_id) = 0;
  virtual void incoming_removed(std::uint16_t packet_id) = 0;
};

struct queue_limits {
  std::size_t max_messages = 1000;
  std::size_t max_bytes = 16 * 1024 * 1024;  // payload bytes
};

// What enqueue() did.
// The outgoing messages in flight, by packet id (no particular order).
using outgoing_table = boost::unordered_flat_map<std::uint16_t, outgoing>;
// Packet ids in the order they were sent: a ring that keeps its block as
// ids come and go (a std::deque frees and allocates one every 256 ids:
// an allocation per subscriber every 256 QoS 1/2 messages on a broker).
using id_order = boost::circular_buffer<std::uint16_t>;

namespace detail {
// A container allocated on first change: an empty one costs one pointer
// (an empty std::deque allocates about 600 bytes). Reads of a container never
// changed see a shared empty one.
template <class T>
class lazy {
 public:
  lazy() = default;
  lazy(const lazy& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  lazy(lazy&&) noexcept = default;
  lazy& operator=(const lazy& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  lazy& operator=(lazy&&) noexcept = default;
  ~lazy() = default;

  const T& get() const noexcept { return p_ ? *p_ : empty(); }
  T& mut() {
    if (!p_) p_ = std::make_unique<T>();
    return *p_;
  }
  bool empty_now() const noexcept { return !p_ || p_->empty(); }
  T* ptr() noexcept { return p_.get(); }
  void reset() noexcept { p_.reset(); }

 private:
  static const T& empty() noexcept {
    static const T none;
    return none;
  }
  std::unique_ptr<T> p_;
};
}  // namespace detail

enum class enqueue_result : std::uint8_t {
  queued,           // the message is queued
  queued_dropping,  // queued, after dropping queued QoS 0 messages to make room
  dropped,          // not queued: a QoS 0 message and no room
  refused,          // not queued: a QoS 1/2 message and no room even without the QoS 0 ones
};

// Message Expiry Interval (MQTT 5.0 3.3.2.3.3) of a message that has waited
// since `since`: false when it ran out; else the interval left is written
// into `m` (a message without one is left as it is).
bool age_message(publish_packet& m, time_point since, time_point now);

class state {
 public:
  explicit state(queue_limits limits = {}) { set_limits(limits); }

  // ---- packet identifiers ----
  // A free packet identifier (1..65535), or nullopt when all are in use.
  std::optional<std::uint16_t> allocate_packet_id();
  void release_packet_id(std::uint16_t id);
  bool packet_id_in_use(std::uint16_t id) const;

  // ---- outgoing QoS 1/2 in flight, in the order they were sent ----
  // Records `m` (its packet_id set) as sent, with the caller's tag; `seq`
  // 0 takes a new one from the journal. `was_queued`: see journal::sent.
  void add_outgoing(publish_packet m, std::uint32_t origin = 0, std::uint64_t seq = 0, bool was_queued = false);
  // Puts back an in-flight message from a copy (not reported to the journal).
  void restore_outgoing(outgoing o);
  // The in-flight message with this packet id, or nullptr. Valid until the
  // next add_outgoing/restore_outgoing (or its removal).
  outgoing* find_outgoing(std::uint16_t id);
  // A QoS 2 message's PUBREC arrived: its phase becomes awaiting_comp.
  void set_released(outgoing& o);
  // Removes the entry and releases its packet id; returns the message.
  std::optional<publish_packet> remove_outgoing(std::uint16_t id);
  const outgoing_table& outgoing_messages() const { return flows_.get().outgoing; }
  // Packet ids in the order their PUBLISH was first sent (resend order).
  const id_order& outgoing_order() const { return flows_.get().order; }
  std::size_t inflight() const { return flows_.get().outgoing.size(); }

  // ---- incoming QoS 2: PUBREC sent, PUBREL not yet received ----
  bool incoming_qos2(std::uint16_t id) const { return flows_.get().incoming_qos2.count(id) != 0; }
  void add_incoming_qos2(std::uint16_t id) {
    if (flows_.mut().incoming_qos2.insert(id).second && journal_) journal_->incoming_added(id);
  }
  void remove_incoming_qos2(std::uint16_t id) {
    auto* f = flows_.ptr();
    if (f && f->incoming_qos2.erase(id) != 0 && journal_) journal_->incoming_removed(id);
  }
  // Puts back an incoming packet id from a copy (not reported).
  void restore_incoming_qos2(std::uint16_t id) { flows_.mut().incoming_qos2.insert(id); }
  const std::set<std::uint16_t>& incoming_qos2_ids() const { return flows_.get().incoming_qos2; }

  // ---- queue of messages waiting to be sent ----
  // Adds `m` at the back. When the queue is full, queued QoS 0 messages are
  // dropped first (oldest first); a QoS 0 message that still does not fit is
  // dropped, a QoS 1/2 message refused. Counts every drop in dropped().
  // `seq` 0 takes a new number from the journal for a QoS 1/2 message;
  // `stored`: the journal's copy has it queued already (not reported again).
  enqueue_result enqueue(publish_packet m, time_point now, std::uint32_t origin = 0, std::uint64_t seq = 0,
                         bool stored = false);
  // Takes the front of the queue. Then either add_outgoing(..., was_queued =
  // true) it, or discard() it.
  std::optional<queued> dequeue();
  // A dequeued message that will not be sent (reported as unqueued).
  void discard(const queued& q);
  // The same for a QoS 1/2 message known by its seq (0: nothing to report).
  void discard_seq(std::uint64_t seq) {
    if (journal_ && seq != 0) journal_->unqueued(seq);
  }
  const std::deque<queued>& queue() const { return queue_.get().items; }
  std::size_t queued_bytes() const { return queue_.get().bytes; }
  queue_limits limits() const { return {max_messages_, max_bytes_}; }
  // Limits above 4,294,967,295 (messages or bytes) count as that.
  void set_limits(queue_limits l) {
    max_messages_ = static_cast<std::uint32_t>(std::min<std::size_t>(l.max_messages, 0xFFFFFFFF));
    max_bytes_ = static_cast<std::uint32_t>(std::min<std::size_t>(l.max_bytes, 0xFFFFFFFF));
  }
  // Messages dropped or refused by enqueue() since the state was made.
  std::uint64_t dropped() const { return queue_.get().dropped; }

  // Forgets everything but the limits, counters and journal (Clean Start);
  // not reported: the journal's owner forgets its copy itself.
  void clear();

  // Journals from now on, silently (a state restored from the journal's copy).
  void set_journal(journal* j) { journal_ = j; }
  // Journals from now on, first reporting what the state holds (numbering
  // messages that have no seq yet), as if it had all just happened.
  void attach_journal(journal* j);
  journal* get_journal() const { return journal_; }

 private:
  // 32 bytes: a broker keeps one per session, idle ones included.
  journal* journal_ = nullptr;
  // The QoS 1/2 bookkeeping, allocated on first use: an idle state holds
  // a pointer. Tables that allocate nothing per message once grown.
  struct flows {
    outgoing_table outgoing;
    id_order order;  // (empty: no block)
    std::set<std::uint16_t> incoming_qos2;
    boost::unordered_flat_set<std::uint16_t> ids_in_use;
    std::uint16_t next_id = 1;
  };
  detail::lazy<flows> flows_;
  // The queue, allocated on first use (an empty std::deque holds ~600 bytes).
  struct queue_part {
    std::deque<queued> items;
    std::size_t bytes = 0;     // their payloads
    std::uint64_t dropped = 0;  // messages enqueue() dropped or refused
    bool empty() const noexcept { return items.empty(); }
  };
  detail::lazy<queue_part> queue_;
  std::uint32_t max_messages_ = 0;
  std::uint32_t max_bytes_ = 0;
};

}  // namespace tern::session
