// The end of a worker's loop turn: the store batch committed (group commit), the counters added.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;

void worker::flush_stats() {
  auto& st = engine_.stats();
  if (received_messages_)
    st.messages_received.fetch_add(std::exchange(received_messages_, 0), std::memory_order_relaxed);
  if (received_bytes_) st.bytes_received.fetch_add(std::exchange(received_bytes_, 0), std::memory_order_relaxed);
  if (sent_messages_) st.messages_sent.fetch_add(std::exchange(sent_messages_, 0), std::memory_order_relaxed);
  if (sent_bytes_) st.bytes_sent.fetch_add(std::exchange(sent_bytes_, 0), std::memory_order_relaxed);
  if (dropped_messages_)
    st.messages_dropped.fetch_add(std::exchange(dropped_messages_, 0), std::memory_order_relaxed);
  if (stored_dropped_) st.stored_dropped.fetch_add(std::exchange(stored_dropped_, 0), std::memory_order_relaxed);
  if (held_messages_)
    st.acknowledgements_held.fetch_add(std::exchange(held_messages_, 0), std::memory_order_relaxed);
}


void worker::write_through() {
  if (batch_.empty()) return;
  if (auto r = engine_.store().commit(batch_, storage::wait_for::written); !r && !write_error_)
    write_error_ = r.error();
  batch_.clear();
  written_ = true;
}

storage::storage_result<void> worker::commit() {
  // Once per loop turn: the counters every worker adds to share a cache line.
  flush_stats();
  storage::storage_result<void> r;
  if (!batch_.empty() || written_) r = engine_.store().commit(batch_, storage::wait_for::durable);
  batch_.clear();
  written_ = false;
  if (r && write_error_) r = *std::exchange(write_error_, std::nullopt);
  // (Swapped with a spare, not moved out: both keep their capacity.)
  std::swap(unsynced_, committed_);
  for (auto* ep : committed_) ep->set_unsynced(false);
  if (!r) {
    // Nothing of this turn may be acknowledged: the clients send it again.
    for (auto* ep : committed_) {
      ep->output().clear();
      ep->protocol().disconnect(reason::unspecified_error);
      ep->wake();
    }
  }
  committed_.clear();
  return r;
}

}  // namespace tern::engine
