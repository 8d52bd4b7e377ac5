// tern/storage/storage.hpp: what the broker keeps beyond a connection, as
// interfaces: retained messages, persistent sessions (subscriptions, expiry),
// the QoS 1/2 messages queued and in flight for each session, and delayed
// wills. A backend implements them: `memory` here, RocksDB in
// rocksdb_store.hpp.
//
//   auto store = tern::storage::make_memory_store();
//   store->retained().put(msg, now);
//   store->retained().match("sensors/#", now, [](const tern::publish_packet& m) { ... });
//
// Group commit: every change goes through a write_batch. The direct write
// methods of the interfaces (put, save, append...) are one-change batches
// committed at once; a broker collects the changes of one turn of its loop in
// one batch and commits them with one disk sync, then sends the PUBACKs:
//
//   tern::storage::write_batch b;                        // one per io thread, reused
//   b.append("sub-1", seq, msg, now);                    // for each persistent subscriber
//   b.add_incoming_qos2("pub-7", 42);                    // a QoS 2 PUBLISH received
//   if (auto r = store->commit(b); !r) fail(r.error());  // one synced write
//   b.clear();                                           // then PUBACK / PUBREC
//
// Time is an argument (Message Expiry, will delay, session expiry); backends
// never read a clock. Thread safety: every method of a store and of its
// interfaces may be called from any thread; backends lock internally. A
// write_batch is a value: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include <boost/system/result.hpp>

#include "tern/codec/packet.hpp"

namespace tern::storage {

using clock = std::chrono::steady_clock;  // the type only: storage never reads a clock
using time_point = clock::time_point;

// ---- errors ----

// What went wrong in a backend; category "tern.storage".
enum class errc : std::uint8_t {
  io_error = 1,        // the backend could not read or write (disk full, permissions...)
  corruption,          // the backend found damaged data
  damaged,             // a damaged store, and on_corruption = refuse
  locked,              // the store is in use by another process
  unsupported_format,  // written by a newer tern
  invalid_argument,    // a bad option (no directory...)
};
const std::error_category& storage_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), storage_category()}; }

// An error of a backend: a code and a message for a person (the backend's own
// words included, e.g. "Corruption: bad block contents").
struct storage_error {
  std::error_code code;
  std::string message;
};
// Thrown by storage_result<T>::value() on an error.
[[noreturn]] void throw_exception_from_error(const storage_error& e, const boost::source_location&);

template <class T>
using storage_result = boost::system::result<T, storage_error>;

// ---- records ----

// One subscription of a persistent session.
struct subscription_record {
  std::string filter;  // as the client sent it, "$share/g/f" included
  subscribe_options options;
  std::uint32_t identifier = 0;  // Subscription Identifier, 0 for none
};

// A session that outlives its connection (Session Expiry Interval > 0).
struct session_record {
  std::string client_id;
  protocol_version version = protocol_version::v5;
  std::uint32_t expiry_interval = 0;  // seconds; 0xFFFFFFFF never expires
  std::vector<subscription_record> subscriptions;
  // When the session ends unless its client comes back: set while no client
  // is connected (so the downtime of a restart counts), nullopt otherwise.
  std::optional<time_point> expires_at = std::nullopt;
};

// The phase of an outgoing QoS 1/2 message in flight; the values of
// tern::session::outgoing::phase.
enum class inflight_phase : std::uint8_t {
  awaiting_ack = 0,   // PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2)
  awaiting_comp = 1,  // PUBREL sent, waiting for PUBCOMP (QoS 2)
};

// What a message_record holds.
enum class record_kind : std::uint8_t {
  outgoing,       // in flight to the client: seq, packet_id, phase, message
  queued,         // waiting to be sent: seq, message, queued_at
  incoming_qos2,  // a QoS 2 PUBLISH received from the client, PUBREC sent, PUBREL not yet: packet_id
};

// One message of a session, as message_store::for_each gives it.
struct message_record {
  record_kind kind = record_kind::queued;
  std::uint64_t seq = 0;        // the caller's order of the session's messages (outgoing, queued)
  std::uint16_t packet_id = 0;  // outgoing, incoming_qos2
  inflight_phase phase = inflight_phase::awaiting_ack;  // outgoing
  publish_packet message;       // outgoing (packet_id set; empty topic when stored without it), queued
  time_point queued_at{};       // queued: its Message Expiry Interval counts from here
};

// A will waiting for its Will Delay Interval (or the end of its session).
struct will_record {
  std::string client_id;
  will_message will;
  time_point due{};  // when it is to be published
};

// ---- write_batch ----

// How long commit() waits.
enum class wait_for : std::uint8_t {
  // Returns once the batch is as durable as the store's durability policy
  // makes anything: with durability fsync, on disk (synced).
  durable,
  // Never waits for a disk sync: the batch survives a crash of the process
  // (when the policy keeps a log), and becomes durable with the next durable
  // commit or sync(), which cover everything committed before them.
  written,
};

// Changes to a store, applied in order and atomically by store::commit():
// after a crash either all of a batch is there or none of it. A value,
// independent of the backend; reuse one (clear()) to keep its capacity.
class write_batch {
 public:
  // -- retained messages --
  // `m` becomes the retained message of its topic (an empty payload removes
  // it); its Message Expiry Interval counts from `now`.
  void put_retained(const publish_packet& m, time_point now);

  // -- sessions --
  void save_session(session_record s);
  void erase_session(std::string_view client_id);  // the record only

  // -- the messages of a session --
  // Queues `m` as message `seq` of the session (seq orders the session's
  // messages; the caller numbers them). Its packet id is not kept.
  void append(std::string_view client_id, std::uint64_t seq, const publish_packet& m, time_point now);
  // Of a message appended earlier in this same batch, cancels the append
  // (nothing of it is written) instead: a message queued and sent in one
  // loop turn costs no queue record.
  void erase_queued(std::string_view client_id, std::uint64_t seq);
  // Records `m`, message `seq`, as in flight with `packet_id` in `phase`,
  // replacing what that packet id held. To move a message from the queue:
  // erase_queued and set_inflight in the same batch. `m` may be an empty
  // publish_packet for awaiting_comp, when the message is no longer needed.
  void set_inflight(std::string_view client_id, std::uint64_t seq, std::uint16_t packet_id, inflight_phase phase,
                    const publish_packet& m);
  void erase_inflight(std::string_view client_id, std::uint16_t packet_id);
  // A QoS 2 PUBLISH with `packet_id` received from the client (PUBREC sent):
  // a duplicate of it must not be delivered again. Erased on PUBREL.
  void add_incoming_qos2(std::string_view client_id, std::uint16_t packet_id);
  void erase_incoming_qos2(std::string_view client_id, std::uint16_t packet_id);
  // Every queued, in-flight and incoming record of the session.
  void erase_messages(std::string_view client_id);

  // -- delayed wills --
  void put_will(std::string_view client_id, const will_message& w, time_point due);
  void erase_will(std::string_view client_id);

  // The session, its messages and its will: what ending a session forgets.
  void forget_client(std::string_view client_id);

  std::size_t size() const noexcept { return ops_.size(); }
  bool empty() const noexcept { return ops_.empty(); }
  void clear() noexcept {
    ops_.clear();
    appended_.clear();
  }

  // The operations, for backends.
  struct put_retained_op { publish_packet message; time_point now; };
  struct save_session_op { session_record session; };
  struct erase_session_op { std::string client_id; };
  struct append_op { std::string client_id; std::uint64_t seq; publish_packet message; time_point now; };
  struct erase_queued_op { std::string client_id; std::uint64_t seq; };
  struct set_inflight_op {
    std::string client_id; std::uint64_t seq; std::uint16_t packet_id; inflight_phase phase; publish_packet message;
  };
  struct erase_inflight_op { std::string client_id; std::uint16_t packet_id; };
  struct add_incoming_op { std::string client_id; std::uint16_t packet_id; };
  struct erase_incoming_op { std::string client_id; std::uint16_t packet_id; };
  struct erase_messages_op { std::string client_id; };
  struct put_will_op { std::string client_id; will_message will; time_point due; };
  struct erase_will_op { std::string client_id; };
  struct cancelled_op {};  // an append that erase_queued cancelled: nothing to write
  using op = std::variant<put_retained_op, save_session_op, erase_session_op, append_op, erase_queued_op,
                          set_inflight_op, erase_inflight_op, add_incoming_op, erase_incoming_op, erase_messages_op,
                          put_will_op, erase_will_op, cancelled_op>;
  const std::vector<op>& ops() const noexcept { return ops_; }

 private:
  std::vector<op> ops_;
  // (seq, index in ops_) of this batch's appends, for erase_queued; in
  // increasing seq order unless appended_sorted_ is false.
  std::vector<std::pair<std::uint64_t, std::size_t>> appended_;
  bool appended_sorted_ = true;
};

// ---- interfaces ----
// Direct writes are one-operation batches committed with wait_for::durable;
// a failure is logged by the backend (commit a write_batch to see it).

class retain_store {
 public:
  virtual ~retain_store() = default;
  // Stores `m` as the retained message of its topic, replacing any; a message
  // with an empty payload removes the topic's retained message instead.
  virtual void put(const publish_packet& m, time_point now) = 0;
  // Calls f for each retained message whose topic matches `filter`, skipping
  // (and forgetting) those whose Message Expiry Interval has passed; the
  // messages given carry the remaining interval.
  virtual void match(std::string_view filter, time_point now,
                     const std::function<void(const publish_packet&)>& f) = 0;
  virtual std::size_t size() const = 0;
};

class session_store {
 public:
  virtual ~session_store() = default;
  virtual void save(const session_record& s) = 0;
  virtual std::optional<session_record> load(std::string_view client_id) = 0;
  virtual void erase(std::string_view client_id) = 0;
  virtual void for_each(const std::function<void(const session_record&)>& f) = 0;
};

// The QoS 1/2 messages of each persistent session: queued (by seq), in
// flight to the client (by packet id, with their phase), and the packet ids
// of QoS 2 messages received from it and not yet released.
class message_store {
 public:
  virtual ~message_store() = default;
  virtual void append(std::string_view client_id, std::uint64_t seq, const publish_packet& m, time_point now) = 0;
  virtual void erase_queued(std::string_view client_id, std::uint64_t seq) = 0;
  virtual void set_inflight(std::string_view client_id, std::uint64_t seq, std::uint16_t packet_id,
                            inflight_phase phase, const publish_packet& m) = 0;
  virtual void erase_inflight(std::string_view client_id, std::uint16_t packet_id) = 0;
  virtual void add_incoming_qos2(std::string_view client_id, std::uint16_t packet_id) = 0;
  virtual void erase_incoming_qos2(std::string_view client_id, std::uint16_t packet_id) = 0;
  virtual void erase_session(std::string_view client_id) = 0;
  // Calls f for every record of the session: outgoing in seq order, then
  // queued in seq order, then incoming_qos2 by packet id. Queued messages
  // are read as they are given, not gathered in memory first.
  virtual void for_each(std::string_view client_id, const std::function<void(const message_record&)>& f) = 0;
  // Calls f for at most `max` queued messages with seq >= from_seq, in seq
  // order: a broker pages through a long offline queue with this.
  virtual void for_each_queued(std::string_view client_id, std::uint64_t from_seq, std::size_t max,
                               const std::function<void(const message_record&)>& f) = 0;
  // The highest seq queued or in flight for the session, if any (where the
  // numbering continues after a restart).
  virtual std::optional<std::uint64_t> last_seq(std::string_view client_id) = 0;
};

// Wills waiting for their Will Delay Interval, by client id (one each).
class will_store {
 public:
  virtual ~will_store() = default;
  virtual void put(std::string_view client_id, const will_message& w, time_point due) = 0;
  virtual void erase(std::string_view client_id) = 0;
  virtual void for_each(const std::function<void(const will_record&)>& f) = 0;
};

// Counters of a store, for metrics ("messages per sync") and tests.
struct store_stats {
  std::uint64_t commits = 0;         // batches written (direct writes included)
  std::uint64_t operations = 0;      // write_batch operations in them
  std::uint64_t synced_commits = 0;  // commits that waited for a disk sync
  std::uint64_t disk_syncs = 0;      // syncs of the log the backend made; concurrent
                                     // synced commits of several threads may share one
};

class store {
 public:
  virtual ~store() = default;
  virtual retain_store& retained() = 0;
  virtual session_store& sessions() = 0;
  virtual message_store& messages() = 0;
  virtual will_store& wills() = 0;

  // Applies `b` atomically, in order. With wait_for::durable it returns once
  // the batch is as durable as the store's policy makes it (see
  // rocksdb_store.hpp); then the caller may acknowledge what it holds. On an
  // error nothing of the batch was applied and nothing may be acknowledged.
  // Concurrent commits from several threads are fine (RocksDB merges them
  // into one log write and one sync). An empty batch with wait_for::durable
  // makes the commits written before it as durable as the policy says.
  [[nodiscard]] virtual storage_result<void> commit(const write_batch& b, wait_for w = wait_for::durable) = 0;
  // Makes everything committed so far durable, whatever the policy (with
  // durability batch, call it periodically; the store starts no thread).
  [[nodiscard]] virtual storage_result<void> sync() = 0;
  virtual store_stats stats() const = 0;
};

// Everything in memory: lost when the process ends (storage = "memory").
// commit() never fails and never touches a disk.
std::unique_ptr<store> make_memory_store();

}  // namespace tern::storage

template <>
struct std::is_error_code_enum<tern::storage::errc> : std::true_type {};
