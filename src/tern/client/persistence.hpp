// tern/client/persistence.hpp (internal to the client): the client's side of
// an MQTT session kept in a storage::store, so that it survives a restart of
// the process. AsyncClient drives it (see "Persistence" in docs/client.md
// for what is guaranteed); it does no I/O of its own but the store's, reads
// no clock and starts no thread.
//
//   auto s = client_detail::persistent_session::open(opts.persistence, log, now);
//   auto r = s->load("sensor-7", processed);    // what the last run left
//   for (auto& o : r.inflight) state.restore_outgoing(o);  ...
//   state.set_journal(s.get());                 // in-flight changes go to the batch
//   s->queue(seq, msg, now);                    // a publish joined the offline queue
//   auto n = s->received(msg, now);             // a QoS 1/2 message arrived
//   if (auto c = s->commit(); !c) ...           // one synced write: then send, then deliver
//   s->delivered(n);                            // the application took it
//
// Records, all in the store's "messages" family:
//   key <client id>          the MQTT session: outgoing QoS 1/2 in flight (by
//                            packet id, with seq and phase), the offline queue
//                            (queued, by seq = the publish's tag), incoming
//                            QoS 2 packet ids (PUBREC sent, PUBREL not yet).
//   key <client id> "\0inbox" received QoS 1/2 messages not yet handed to the
//                            application (queued, by delivery number), and one
//                            "outgoing" record with packet id 0 whose seq is
//                            the last delivery number given: numbers keep
//                            increasing across restarts even when the inbox
//                            is empty.
// Every change goes into one write_batch, committed by commit(): a loop turn's
// changes cost one write and (durability fsync) one sync.
//
// Thread safety: none; the client's executor only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tern/client/offline_queue.hpp"
#include "tern/client/options.hpp"
#include "tern/log/log.hpp"
#include "tern/session/state.hpp"
#include "tern/storage/batch_journal.hpp"
#include "tern/storage/rocksdb_store.hpp"

namespace tern::client_detail {

// A received message waiting to be handed to the application.
struct inbox_entry {
  publish_packet message;
  std::uint64_t number = 0;   // its delivery number
  bool redelivered = false;   // loaded from the store (an earlier run received it)
};

// What a store held for a client id.
struct restored_session {
  std::vector<session::outgoing> inflight;    // seq order (the order they were first sent)
  std::vector<offline_queue::entry> queued;   // seq order; tag = seq
  std::vector<std::uint16_t> incoming_qos2;
  std::vector<inbox_entry> inbox;             // number order, those after `processed`
  std::uint64_t skipped = 0;                  // inbox messages up to `processed`, erased
};

class persistent_session final : public storage::batch_journal {
 public:
  // Opens (or creates) the RocksDB store in o.dir. `now` anchors the
  // store's Unix-time records (Message Expiry of queued messages).
  static storage::storage_result<std::unique_ptr<persistent_session>> open(const persistence_options& o,
                                                                           const log::logger& log,
                                                                           session::time_point now,
                                                                           std::int64_t unix_ms);
  // Over a store of the caller's (tests: a memory store).
  explicit persistent_session(std::unique_ptr<storage::store> s) : store_(std::move(s)) {}

  // Reads what the store holds for `client_id` and keys records by it from
  // now on. Inbox messages numbered up to `processed` are erased (in the
  // batch: commit() next). Forgets any uncommitted change of an earlier id.
  restored_session load(std::string client_id, std::uint64_t processed);

  // ---- session::journal (the state's in-flight messages) ----
  // Numbers are shared with queue(): a publish's tag is its seq.
  std::uint64_t next_seq() override { return next_seq_++; }
  storage::write_batch& journal_batch() override { return batch_; }
  std::string_view journal_key() const override { return key_; }

  // ---- the client's offline queue ----
  // A QoS 1/2 publish (tag `seq`, from next_seq()) joined the offline queue.
  void queue(std::uint64_t seq, const publish_packet& m, session::time_point now);
  // Before a Clean Start: the state's in-flight messages and incoming ids
  // are about to be forgotten (state::clear is not journaled).
  void forget_session(const session::state& s);

  // ---- received messages ----
  // A QoS 1/2 message arrived (not a resend of one recorded): stores it and
  // returns its delivery number.
  std::uint64_t received(const publish_packet& m, session::time_point now);
  // The application took message `number` (or it was dropped by the receive
  // queue's bound): erased at once, with an unsynced write to the store's
  // log (survives a kill of the process; the next commit() syncs it).
  storage::storage_result<void> delivered(std::uint64_t number);

  // Writes the changes since the last commit as one batch, durable per the
  // store's policy; also syncs what delivered() wrote. On an error nothing
  // was written and the changes stay for the next try.
  storage::storage_result<void> commit();
  // Changes (or unsynced writes) wait for commit().
  bool dirty() const noexcept { return !batch_.empty() || unsynced_ || marker_dirty_; }

  storage::store& store() noexcept { return *store_; }
  const std::string& client_id() const noexcept { return key_; }

 private:
  std::unique_ptr<storage::store> store_;
  storage::write_batch batch_;
  std::string key_;        // the client id: the MQTT session's records
  std::string inbox_key_;  // the client id + "\0inbox": received messages
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_number_ = 1;
  bool marker_dirty_ = false;  // next_number_ moved: write the marker with the next commit
  bool unsynced_ = false;      // delivered() wrote without a sync
};

}  // namespace tern::client_detail
