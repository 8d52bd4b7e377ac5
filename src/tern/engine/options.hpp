// tern/engine/options.hpp: what a broker engine is told (options), what it
// counts (statistics) and what it found in its store at start (recovery).
// The embedding layer (tern::Broker) needs these and nothing else of the
// engine's insides.
//
//   tern::engine::options o;
//   o.max_topic_levels = 64;
//   o.queue.max_messages = 10'000;
//   tern::engine::engine eng(o, hooks, store, workers, now);
//   eng.stats().clients_connected.load();
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tern/log/log.hpp"
#include "tern/engine/access.hpp"
#include "tern/session/connection.hpp"

namespace tern::engine {

// What a clean session's QoS 1/2 message does when its client reads more
// slowly than messages arrive (its memory queue, options::queue, is full).
enum class queue_full_policy : std::uint8_t {
  // It waits in the store (up to options::max_stored_messages), as a
  // persistent session's does; the publishers go on at their own pace.
  store,
  // It joins the memory queue beyond the bound, and the PUBACK/PUBREC of
  // its PUBLISH is withheld until every full subscriber it went to has room
  // again (or is gone): the publishers slow to the subscriber's pace, within
  // their Receive Maximum, which bounds what waits in memory. No disk.
  hold_acks,
};

struct options {
  // Per connection: Maximum Packet Size, Receive Maximum, Topic Alias
  // Maximum, Maximum QoS, Retain Available, connect timeout. auto_acknowledge
  // is ignored: the engine acknowledges.
  session::options connection;
  // Largest keep alive a client may use, announced as Server Keep Alive (0: any).
  std::uint16_t max_keep_alive = 0;
  // Largest Session Expiry Interval granted (seconds).
  std::uint32_t max_session_expiry_interval = 0xFFFFFFFF;
  bool allow_zero_length_client_id = true;
  // Per session: queued messages (count, payload bytes), and QoS 1/2
  // messages in flight to the client at once (also bounded by its Receive
  // Maximum).
  session::queue_limits queue;
  std::uint16_t max_inflight = 65'535;
  // Per session: QoS 1/2 messages kept in the store beyond the queue above
  // (a persistent session offline, or any session whose client reads
  // slower than messages arrive); past it they are dropped, counted
  // (statistics::stored_dropped) and logged.
  std::uint64_t max_stored_messages = 1'000'000;
  // A clean session whose memory queue is full: its QoS 1/2 messages wait in
  // the store, or its publishers' acknowledgements wait (queue_full_policy).
  // Persistent sessions always use the store.
  queue_full_policy queue_full = queue_full_policy::store;
  // With a store that does not sync every commit (durability batch): how
  // often worker 0 makes everything durable (0: never).
  std::chrono::milliseconds store_sync_interval{0};
  // A connection with more unwritten output than this is congested: QoS 0
  // messages to it are dropped (and counted); QoS 1/2 wait in its queue.
  std::size_t max_output_backlog = 1 << 20;
  // Topic filters no client may subscribe to (matched as filters: a
  // subscription is refused when it equals or is covered by one).
  std::vector<std::string> denied_filters;
  // Levels a topic name or filter may have ("a/b" has 2): every level costs
  // the matcher. A deeper PUBLISH topic is refused (5.0: PUBACK/PUBREC 0x90
  // at QoS 1/2, else DISCONNECT 0x90; 3.1.1: the connection closes), a
  // deeper filter gets SUBACK 0x8F (3.1.1: 0x80), a deeper will topic CONNACK
  // 0x90 (3.1.1: the connection closes).
  std::uint32_t max_topic_levels = 200;
  // PUBLISHes a client may send per second (counted in one-second windows);
  // past it: DISCONNECT 0x96 Message rate too high (5.0), closed (3.1.1).
  // 0: no limit (and nothing counted).
  std::uint32_t max_publish_rate = 0;
  // How often to publish $SYS/broker/... (0: never).
  std::chrono::seconds sys_interval{10};
  std::string version = "tern 0.1.0";
  // Where the engine says what an operator must know (messages dropped past
  // the last bound). Default: nowhere.
  // Who may read, write and subscribe where (access.hpp); must outlive the
  // engine. nullptr: everything allowed, and the publish path asks nothing.
  const access_policy* access = nullptr;
  log::logger log;
};

// Counters, read by $SYS and tests. The message and byte counts are
// added by each worker once per loop turn (worker::commit), so they may
// lag by one turn.
struct statistics {
  std::atomic<std::uint64_t> clients_connected{0};
  std::atomic<std::uint64_t> clients_total{0};  // sessions, connected or not
  std::atomic<std::uint64_t> messages_received{0};
  std::atomic<std::uint64_t> messages_sent{0};
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> messages_dropped{0};
  // QoS 1/2 messages (acknowledged to their publisher) dropped because a
  // session's queue in the store was full (options::max_stored_messages).
  std::atomic<std::uint64_t> stored_dropped{0};
  // QoS 1/2 messages a full subscriber took beyond its memory queue's bound,
  // withholding their publisher's acknowledgement (queue_full_policy::hold_acks).
  std::atomic<std::uint64_t> acknowledgements_held{0};
  std::atomic<std::uint64_t> subscriptions{0};
};

// What engine::recover() found in the store.
struct recovery {
  std::size_t sessions = 0;
  std::size_t subscriptions = 0;
  std::size_t queued = 0;     // messages waiting in offline queues (left on disk)
  std::size_t inflight = 0;   // outgoing QoS 1/2 messages in flight
  std::size_t incoming = 0;   // incoming QoS 2 packet ids not yet released
  std::size_t wills = 0;      // delayed wills
  std::size_t discarded = 0;  // sessions that had ended (expired while down)
};

}  // namespace tern::engine
