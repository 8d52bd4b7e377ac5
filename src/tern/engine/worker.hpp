// tern/engine/worker.hpp: the part of the engine that runs on one io
// thread: its sessions (session_table), what its endpoints report (one file
// per action: connect.cpp, publish.cpp, subscribe.cpp, delivery.cpp,
// lifecycle.cpp, sys.cpp, recovery.cpp, hold.cpp), routing (route.cpp, through
// delivery_target.hpp: its own sessions, an outbox per other worker) and its
// turn's store batch (commit.cpp). See engine.hpp for how a network layer
// drives it.
//
// It owns its sessions, its outboxes and its write batch; it reads the
// engine's shared parts (options, hooks, store, subscription index).
// Thread safety: its own thread (one at a time), except where said.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tern/engine/client_session.hpp"
#include "tern/core/string_hash.hpp"
#include "tern/engine/delivery_target.hpp"
#include "tern/engine/endpoint.hpp"
#include "tern/engine/hooks.hpp"
#include "tern/engine/options.hpp"
#include "tern/engine/session_table.hpp"
#include "tern/storage/storage.hpp"
#include "tern/topic/trie.hpp"

namespace tern::engine {

class engine;

class worker {
 public:
  // Worker `index` of `workers`, on an engine started at `now`.
  worker(engine& e, std::size_t index, std::size_t workers, time_point now);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  std::size_t index() const { return index_; }
  // This loop turn's changes to the store (committed by commit()).
  storage::write_batch& store_batch() { return batch_; }
  // A number for a QoS 1/2 message of a persistent session (any worker's).
  std::uint64_t next_seq();

  // A new network connection on this worker's thread.
  // Takes over an endpoint whose CONNECT is pending and whose client id this
  // worker owns (call on this worker's thread; the endpoint may come from
  // another worker). Accepts or refuses it.
  void admit(endpoint& ep, time_point now);
  // Messages other workers routed to this worker's clients.
  void deliver(batch&& b, time_point now);
  // Periodic work: wills and sessions that expire, $SYS (worker 0).
  void tick(time_point now);
  std::optional<time_point> next_tick() const;
  // Batches for other workers, produced since the last call, handed in
  // place to f(target worker, batch&), which moves them out (to post each to
  // its worker's thread, and call deliver() there) or delivers them on the
  // target's behalf (deliver(std::move(b)) under the target's turn). Each is
  // cleared after: one delivered in place keeps its capacity, so that at low
  // load a turn hands its messages to another worker without allocating.
  template <class F>
  void hand_over_outbox(F&& f);

  // The broker is stopping: every connected client of this worker gets
  // DISCONNECT 0x8B (5.0) and its connection closes; sessions persist.
  void shutdown(time_point now);

  std::size_t sessions() const { return sessions_.size(); }

  // Commits this turn's changes to the store (with durability fsync: one
  // disk sync). Call at the end of every loop turn, before writing any
  // connection's output. On an error the connections that sent QoS 1/2
  // messages this turn lose their unsent output (their acknowledgements)
  // and are disconnected (0x80): their clients send those messages again.
  storage::storage_result<void> commit();
  // Changes waiting for commit().
  bool uncommitted() const { return !batch_.empty() || written_; }

  // ---- what its endpoints report (endpoint.cpp), on this worker's thread ----
  // An input of one of its endpoints begins (`bytes` received, or 0).
  void input(std::size_t bytes, time_point now) {
    now_ = now;
    received_bytes_ += bytes;
  }
  time_point now() const { return now_; }
  const session::options& connection_options() const;
  // A PUBLISH from the client of `ep` (admitted): checked, routed, acknowledged.
  void publish(endpoint& ep, publish_packet&& m);
  void subscribe(endpoint& ep, subscribe_packet&& s);
  void unsubscribe(endpoint& ep, unsubscribe_packet&& u);
  // The client sent DISCONNECT.
  void disconnect(endpoint& ep, const disconnect_packet& d);
  // The connection ended (for any reason): wills, the session's end or expiry.
  void closed(endpoint& ep, const error& why, time_point now);
  // A message to `s` completed its QoS flow: room for what waits in the store.
  void delivered(client_session& s);
  // A message to one of its clients was dropped (too large for it, expired).
  void dropped();
  // `ep` acknowledged a QoS 1/2 message this turn: commit() must sync first.
  void track_unsynced(endpoint& ep);
  // `ep` is being destroyed.
  void forget(endpoint& ep);

  // ---- acknowledgements held for full subscribers (queue_full_policy::hold_acks) ----
  // While routing a client's QoS 1/2 PUBLISH: the hold its acknowledgement
  // now also waits for, taken by a delivery to another worker's clean
  // subscriber (outbox_target); 0 when its acknowledgement is not held.
  std::uint64_t hold_remote();
  // `ep` closed: its held acknowledgements are given now, which sends
  // nothing but records a QoS 2 packet id as received (a resend of it on
  // the next connection is not routed again), and are forgotten.
  void settle_held(endpoint& ep);
  // `ep` is being destroyed: its held acknowledgements are forgotten.
  void forget_held(const endpoint& ep);
  // Acknowledgements held, waiting for subscribers to have room.
  std::size_t held_acknowledgements() const { return held_acks_.size(); }

  // ---- recovery (engine::recover), before any connection ----
  // Rebuilds persistent session `rec` here; false when it had ended (discarded).
  // `last_seq` grows to the largest message number seen.
  bool restore(const storage::session_record& rec, time_point now, recovery& out, std::uint64_t& last_seq);
  // A delayed will found in the store: its session's, or published now if that ended.
  void restore_will(const storage::will_record& r, time_point now, recovery& out);
  // Forgets what the store holds for `client_id` unless a session of it lives here.
  void forget_if_gone(std::string_view client_id);

 private:
  // Routes `m` to every matching subscription; returns how many clients it went to.
  std::size_t route(const client_info& from, publish_packet m, time_point now);
  struct cached_match {
    const std::string* client_id;
    const struct subscriber* subscriber;
    const char* filter;  // the filter's text in the index: one filter, one pointer
  };
  // The index's subscriptions (not the shared ones) matching `topic`, from
  // route_cache_ or added to it. Call holding this worker's reader lock; the
  // span is valid until the next call.
  std::span<const cached_match> cached_matches(std::string_view topic);
  void deliver_local(client_session& s, const publish_packet& m, const subscribe_options& o,
                     std::span<const std::uint32_t> ids, time_point now, std::uint32_t origin = 0);
  // The bounds a session's state enforces itself: options::queue, or none
  // with hold_acks, where place() bounds the queue and lets a held message
  // past it.
  session::queue_limits session_limits() const;
  // One delivery of batch `b` (deliver()).
  void deliver_one(batch& b, const delivery& d, time_point now);
  // Sends `m` to one member of the shared subscription `origin` other than
  // `leaving` (here or through the outbox); false when none is left.
  bool redeliver_shared(std::uint32_t origin, std::string_view leaving, const publish_packet& m, time_point now);
  // Publishes `s`'s will, if any, as coming from the client of `from` (a
  // will published after its client left: nullptr).
  void publish_will(client_session& s, time_point now, const endpoint* from);
  void end_session(client_session& s, time_point now);
  void save(const client_session& s);
  void publish_sys(time_point now);
  // Places a prepared message for session `s`: in flight, in the memory
  // queue, or (persistent session offline, or any session whose memory
  // queue is full) in the store; with hold_acks, a connected clean
  // session's past its full memory queue, taking the hold of the PUBLISH
  // being placed (take_hold).
  void place(client_session& s, publish_packet out, time_point now, std::uint32_t origin, std::uint64_t stored_seq);
  // Stores QoS 1/2 message `out` in `s`'s queue in the store (already there
  // when `stored_seq`), or drops it visibly when that queue is full.
  void store_queued(client_session& s, const publish_packet& out, time_point now, std::uint64_t stored_seq);
  // Ends (and logs) an episode of drops once `s`'s stored queue has drained to half.
  void stored_has_room(client_session& s);
  // Reads the next page of a persistent session's stored queue back.
  void refill(client_session& s, time_point now);
  // Starts journaling a session that became persistent (writes its state).
  void journal(client_session& s);
  // Writes the batch without waiting for a sync, so reads see it.
  void write_through();
  // True when the access policy (options::access) lets `s` do `what` with
  // `topic`; remembered per session (access.cpp). No policy: true.
  bool permitted(client_session& s, std::string_view topic, access what, const endpoint* via) {
    return !engine_access_ || ask_policy(s, topic, what, via);
  }
  bool ask_policy(client_session& s, std::string_view topic, access what, const endpoint* via);
  // Counts a PUBLISH of `s`: true past `rate` in its current one-second window.
  bool too_fast(client_session& s, std::uint32_t rate);
  // The refusal of a PUBLISH no client may make (too deep, into $SYS), if it is one.
  bool refused(endpoint& ep, const publish_packet& m);
  // Adds the deliveries counted since the last call to the engine's statistics.
  void flush_stats();

  // ---- hold_acks: a publisher's acknowledgement waits for full subscribers ----
  // A full subscriber of this worker takes the hold of the PUBLISH being
  // placed (holding_), if any: kept in its session until it has room.
  void take_hold(client_session& s);
  // `s` has room again, or is gone: what it held is released.
  void release_holds(client_session& s);
  // One wait of hold `h` is over (here, or sent back to its worker).
  void release(ack_hold h);
  // One wait of this worker's hold `id` is over; the last sends the acknowledgement.
  void release_local(std::uint64_t id);
  // Whether `s`'s memory queue is below its bounds once its client's freed
  // window slot takes the front message (called from delivered()).
  bool has_room_after_pump(const client_session& s) const;
  // The PUBLISH being routed (here) or placed (from another worker's batch).
  struct hold_context {
    bool active = false;
    ack_hold hold;           // whose: {this worker, 0 until taken} while routing
    std::uint32_t taken = 0;  // subscribers (local and remote) that hold it
  };
  hold_context holding_;
  // A client's acknowledgement withheld until its `waits` are released.
  struct held_ack {
    endpoint* ep;  // nullptr once its connection closed
    std::uint16_t packet_id;
    reason code;
    std::uint32_t waits;
  };
  boost::unordered_flat_map<std::uint64_t, held_ack> held_acks_;
  std::uint64_t last_hold_ = 0;

  // This worker's own sessions as a delivery target.
  class local_target final : public delivery_target {
   public:
    explicit local_target(worker& w) : w_(w) {}
    void deliver(std::uint64_t route, const publish_packet& m, const route_target& t, std::string_view client_id,
                 std::span<const std::uint32_t> ids, time_point now) override;
    // The route is over: the copies made for it go.
    void finish() noexcept {
      plain_[0].reset();
      plain_[1].reset();
    }

   private:
    worker& w_;
    std::uint64_t route_ = 0;
    // A QoS 0 copy of the route's message per RETAIN flag, made once and
    // sent to every subscriber that gets it as it is, without identifiers.
    std::optional<publish_packet> plain_[2];
  };
  local_target local_{*this};
  // Per worker: where routing hands a message for that worker's clients
  // (local_ for this one, an outbox for each other).
  std::vector<outbox_target> outboxes_;
  std::vector<delivery_target*> targets_;
  std::uint64_t routes_ = 0;  // numbers routes (delivery_target::deliver)

  // route()'s working space, kept between calls so that routing allocates
  // nothing once they have grown (see route()).
  std::vector<route_target> route_targets_;
  std::vector<std::uint32_t> route_ids_;
  std::vector<std::uint32_t> route_merged_ids_;
  std::vector<std::string> route_client_ids_;  // ids of stored deliveries to other workers
  // What the index matched for the topics this worker routed since the index
  // last changed (its version()): a topic published again costs one hash
  // lookup, not a walk of the trie with a map probe per level. Entries point
  // into the index, valid while its version holds. Emptied when it has grown
  // past a few thousand topics or tens of thousands of matches
  // (cached_matches()).
  struct cached_route {
    std::uint32_t begin;  // route_cache_matches_[begin, +count)
    std::uint32_t count;
  };
  boost::unordered_flat_map<std::string, cached_route, tern::string_hash, std::equal_to<>> route_cache_;
  std::vector<cached_match> route_cache_matches_;
  std::uint64_t route_cache_version_ = 0;
  // Counted locally, added to engine::stats() by flush_stats() (at commit,
  // once per loop turn, and after a batch): not one shared atomic per message.
  std::uint64_t received_messages_ = 0;
  std::uint64_t received_bytes_ = 0;
  std::uint64_t sent_messages_ = 0;
  std::uint64_t sent_bytes_ = 0;
  std::uint64_t dropped_messages_ = 0;
  std::uint64_t stored_dropped_ = 0;
  std::uint64_t held_messages_ = 0;  // statistics::acknowledgements_held

  engine& engine_;
  const access_policy* engine_access_;  // options::access, read on every publish
  std::size_t index_;
  // The time of the input being handled on this worker's thread (set by
  // every input: an endpoint's, admit, deliver, tick, shutdown).
  time_point now_{};
  // Its sessions: by client id and by handle.
  session_table sessions_;
  // Sends a QoS 0 message as it is (no copy) to session `s`, if connected.
  void place_qos0(client_session& s, const publish_packet& m, time_point now, std::uint32_t origin);

  storage::write_batch batch_;  // this turn's changes, committed by commit()
  bool written_ = false;        // write_through() wrote changes commit() must make durable
  std::optional<storage::storage_error> write_error_;
  std::vector<endpoint*> unsynced_;  // endpoints that acknowledged QoS 1/2 this turn
  std::vector<endpoint*> committed_;  // commit()'s spare for unsynced_
  time_point last_sys_{};
  time_point last_sync_{};
  std::uint64_t assigned_ids_ = 0;
};

template <class F>
void worker::hand_over_outbox(F&& f) {
  for (std::size_t i = 0; i < outboxes_.size(); ++i) {
    if (i == index_) continue;
    auto& b = outboxes_[i].pending();
    if (b.empty()) continue;
    const auto messages = b.messages.size();
    const auto deliveries = b.deliveries.size();
    f(i, b);
    b.clear();
    // Moved out: the next turn's batch starts as large as this one was.
    if (b.messages.capacity() < messages) b.messages.reserve(messages);
    if (b.deliveries.capacity() < deliveries) b.deliveries.reserve(deliveries);
  }
}

}  // namespace tern::engine
