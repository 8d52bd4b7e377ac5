// tern/storage/batch_journal.hpp: a session::journal that writes a session
// state's QoS 1/2 changes into a write_batch under one key: queued
// messages, messages in flight and their phase, incoming QoS 2 packet ids.
// The broker's persistent sessions and the client's session directory both
// keep their state this way; the derived class says which batch and key.
//
//   struct my_session final : tern::storage::batch_journal {
//     std::uint64_t next_seq() override;
//     tern::storage::write_batch& journal_batch() override { return batch; }
//     std::string_view journal_key() const override { return id; }
//   };
//   state.set_journal(&s);   // every change lands in `batch`, committed by its owner
//
// Thread safety: the state's (none of its own).
#pragma once

#include <cstdint>
#include <string_view>

#include "tern/session/state.hpp"
#include "tern/storage/storage.hpp"

namespace tern::storage {

class batch_journal : public session::journal {
 public:
  void queued(const session::queued& q) final;
  void unqueued(std::uint64_t seq) final;
  void sent(const session::outgoing& o, bool was_queued) final;
  void released(const session::outgoing& o) final;
  void completed(std::uint16_t packet_id) final;
  void incoming_added(std::uint16_t packet_id) final;
  void incoming_removed(std::uint16_t packet_id) final;

 protected:
  ~batch_journal() = default;
  // Where the changes go, asked at each change.
  virtual write_batch& journal_batch() = 0;
  virtual std::string_view journal_key() const = 0;
};

}  // namespace tern::storage
