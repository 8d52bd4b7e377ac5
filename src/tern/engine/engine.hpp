// tern/engine/engine.hpp: the broker engine, without I/O. Sessions, takeover,
// routing, retained messages, wills, session expiry, shared subscriptions,
// limits and $SYS, driven by a network layer that feeds it bytes and time.
//
//   tern::engine::engine eng(opts, hooks, store, /*workers=*/2, now);
//   // on io thread i, for a new socket, the network layer's connection (an
//   // endpoint that implements wake() and peer_address()):
//   auto ep = std::make_unique<my_connection>(eng.worker_at(i), now, socket);
//   ep->receive(bytes, now);          // output: ep->output(), ep->next_timeout(), ep->closing()
//   if (ep->connect_pending()) {      // its CONNECT arrived: hand it to the owning thread
//     auto w = eng.owner_of(*ep);     // move ep (and the socket) to io thread w, then there:
//     eng.worker_at(w).admit(*ep, now);
//   }
//   // after every event, on each io thread:
//   eng.worker_at(i).hand_over_outbox([&](std::size_t target, batch& b) { post_to(target, std::move(b)); });  // -> deliver()
//   eng.worker_at(i).tick(now) when eng.worker_at(i).next_tick() passes.
//   // at the end of every loop turn, before writing any output:
//   if (auto r = eng.worker_at(i).commit(); !r) log(r.error().message);
//
// Durability: what must outlive a connection goes to the store, through one
// write_batch per worker that commit() writes with one disk sync per loop
// turn (group commit). PUBACK/PUBREC are put in a connection's output when
// the PUBLISH is read (with options::queue_full hold_acks, later if a full
// subscriber holds them: hold.cpp), and the network layer writes outputs
// only after commit(): an acknowledgement never leaves before its message is
// durable.
// Persistent sessions (Session Expiry Interval > 0) journal their QoS 1/2
// messages (queued, in flight, incoming QoS 2 ids), subscriptions and
// delayed wills; retained messages are stored. Clean sessions cost no disk
// write. A persistent session's offline queue lives in the store only, and
// is read back in pages when its client returns. engine::recover() rebuilds
// sessions, subscriptions, in-flight state and wills at start.
//
// Threading: one engine, one worker per io thread. A client id belongs to
// one worker (owner_of): its session, its connection after CONNECT, its
// offline queue and its will live there, so takeover and resume never cross
// threads. Messages routed to clients of other workers leave in per-worker
// batches (hand_over_outbox), one post per target thread per loop turn. The
// subscription index is shared: read on every publish under the reading
// worker's own lock (index_lock: no cache line shared with other readers),
// changed ((un)subscribe, a session's end) under every worker's lock.
// "A worker's thread" means: one thread at a time, with happens-before
// between them. The network layer runs a worker on its io thread, or on
// another io thread that holds the first one's turn lock while it sleeps
// (to deliver a batch without waking it); reader(i) is then taken on that
// thread, which is correct, since it is keyed by worker, not by thread.
//
// Memory: an idle connection of a clean session costs its endpoint (the
// session::connection plus 32 bytes), its client_session (at most 88
// bytes, with the client id in the same block) and a pointer in each of its
// worker's two session tables; nothing else. What few idle sessions have
// (user name, subscriptions, will, a stored queue) is allocated when set.
// The peer's address is asked of the link when a hook wants it, not kept.
//
// The engine owns what its workers share: the options, the hooks (a
// reference), the store (a reference), the statistics, the subscription
// index and the message numbers; and its workers (worker.hpp), each with its
// sessions. The rooms: endpoint.hpp (a connection), worker.hpp (one io
// thread's part), session_table.hpp and client_session.hpp (sessions),
// subscription_index.hpp, delivery_target.hpp (where routing delivers),
// options.hpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tern/engine/endpoint.hpp"
#include "tern/engine/hooks.hpp"
#include "tern/engine/options.hpp"
#include "tern/engine/subscription_index.hpp"
#include "tern/engine/worker.hpp"
#include "tern/storage/storage.hpp"

namespace tern::engine {

class engine {
 public:
  engine(options o, hooks& h, storage::store& store, std::size_t workers, time_point now);
  ~engine();

  worker& worker_at(std::size_t i) { return *workers_[i]; }
  std::size_t workers() const { return workers_.size(); }
  // The worker that owns a client id (its CONNECT's, or one assigned by the
  // accepting worker when empty).
  std::size_t owner_of(const endpoint& ep) const;
  std::size_t owner_of(std::string_view client_id) const;

  const options& config() const { return options_; }
  statistics& stats() { return stats_; }
  storage::store& store() { return store_; }
  time_point started() const { return started_; }
  hooks& event_hooks() { return hooks_; }
  subscription_index& index() { return index_; }
  // What every endpoint's protocol machine uses (shared, not copied).
  const session::options& connection_options() const { return connection_options_; }
  // Numbers the QoS 1/2 messages of persistent sessions (one sequence for
  // all, so any worker can store a message for any session).
  std::uint64_t next_seq() { return next_seq_.fetch_add(1, std::memory_order_relaxed); }

  // Every worker's batches for other workers, delivered to them on this
  // thread (single-threaded use: recovery, tests, benchmarks; the network
  // layer hands them between threads itself). True when any moved.
  bool deliver_outboxes(time_point now);

  // Rebuilds the persistent sessions of the store (subscriptions, in-flight
  // messages, incoming QoS 2 ids, offline queues left on disk, delayed
  // wills) on the workers that own them. Call once, before any connection.
  // Fails only when the store cannot be written.
  storage::storage_result<recovery> recover(time_point now);

 private:
  options options_;
  // What every endpoint's protocol machine uses (shared, not copied).
  session::options connection_options_;
  hooks& hooks_;
  storage::store& store_;
  time_point started_;
  statistics stats_;
  std::vector<std::unique_ptr<worker>> workers_;

  // Every subscription, read on every publish under the reading worker's
  // own lock, changed ((un)subscribe, a session's end) under every worker's.
  subscription_index index_;
  // Numbers the QoS 1/2 messages of persistent sessions (one sequence for
  // all, so any worker can store a message for any session).
  std::atomic<std::uint64_t> next_seq_{1};
};

}  // namespace tern::engine
