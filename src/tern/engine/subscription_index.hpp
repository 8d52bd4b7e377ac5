// tern/engine/subscription_index.hpp: every subscription of the broker, as
// routing reads it: a trie of plain subscriptions (topic filter -> client
// id -> subscriber) and a trie of shared-subscription groups, with the lock
// that guards both (index_lock: a reader lock per worker). Each entry names
// its session by handle (the owning worker, a slot and a serial), so a
// router can reach the session without a lookup by client id.
//
//   tern::engine::subscription_index idx(workers);
//   { auto w = idx.writer(); idx.add("c1", {owner, slot, serial}, {"a/+", opts, 0}, false); }
//   { auto r = idx.reader(worker);
//     idx.match("a/b", [](const std::string& id, const subscriber& s, std::string_view filter) { ... });
//     idx.match_shared("a/b", [](const share_member& m, std::uint32_t origin) { ... }); }
//
// Thread safety: change under writer(), read under a reader(i) lock (any
// worker's; worker i takes its own). References match() hands out stay
// valid while version() is unchanged (the plain trie's own count).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/engine/index_lock.hpp"
#include "tern/codec/packet.hpp"
#include "tern/storage/storage.hpp"
#include "tern/topic/trie.hpp"

namespace tern::engine {

// A session's handle: worker `owner`'s session in `slot`, the one with this
// serial number (a later session in the same slot has another).
struct session_handle {
  std::uint32_t owner = 0;
  std::uint32_t slot = 0;
  std::uint64_t serial = 0;
};

// A plain subscription in the index. A session is removed from the index
// (under the writer lock) before it is destroyed, so an entry found under a
// reader lock names a live session; only its owner destroys it, so the
// owner's own sessions found while it routes stay alive. Another worker's
// sessions may end before a batch reaches them: the serial number tells.
struct subscriber {
  subscribe_options options;
  std::uint32_t identifier = 0;
  bool persistent = false;  // the session journals: a router stores QoS 1/2 for it
  session_handle session;
};

// A member of a shared subscription's group.
struct share_member {
  std::string client_id;
  subscribe_options options;
  std::uint32_t identifier = 0;
  bool persistent = false;
  session_handle session;
};

class subscription_index {
 public:
  // `workers`: one reader lock each.
  explicit subscription_index(std::size_t workers) : lock_(workers) {}

  [[nodiscard]] index_lock::reader_guard reader(std::size_t worker) { return lock_.reader(worker); }
  [[nodiscard]] index_lock::writer_guard writer() { return lock_.writer(); }

  // ---- under writer() ----
  // Adds (or updates) `client_id`'s subscription `r` ("$share/..." included).
  void add(std::string_view client_id, session_handle h, const storage::subscription_record& r, bool persistent);
  // Removes `client_id`'s subscription `filter` ("$share/..." included).
  void remove(std::string_view filter, std::string_view client_id);

  // ---- under a reader lock ----
  // Counts the plain trie's changes: what match() handed out is valid while it holds.
  std::uint64_t version() const noexcept { return plain_.version(); }
  // f(client id, subscriber, filter) for every plain subscription matching `topic`.
  template <class F>
  void match(std::string_view topic, F&& f) const {
    plain_.match(topic, std::forward<F>(f));
  }
  // f(member, origin) for one member (round robin) of every shared group matching `topic`.
  template <class F>
  void match_shared(std::string_view topic, F&& f) const {
    if (shared_.empty()) return;
    shared_.match(topic, [&](const std::string&, const std::shared_ptr<group>& g, std::string_view) {
      if (g->members.empty()) return;
      f(g->members[g->next.fetch_add(1, std::memory_order_relaxed) % g->members.size()], g->origin);
    });
  }
  // A member of group `origin` other than `leaving` (round robin), if any is left.
  std::optional<share_member> other_member(std::uint32_t origin, std::string_view leaving) const;

 private:
  struct group {
    std::vector<share_member> members;  // changed under the writer lock
    mutable std::atomic<std::size_t> next{0};
    std::uint32_t origin = 0;  // tags the messages it delivers (session::connection::publish)
  };

  index_lock lock_;
  topic::subscription_trie<std::string, subscriber> plain_;              // key: client id
  topic::subscription_trie<std::string, std::shared_ptr<group>> shared_;  // key: share name
  std::unordered_map<std::uint32_t, std::weak_ptr<group>> origins_;      // by group::origin
  std::uint32_t next_origin_ = 0;
};

}  // namespace tern::engine
