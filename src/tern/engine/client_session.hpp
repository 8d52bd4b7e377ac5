// tern/engine/client_session.hpp: a session as the broker keeps it: MQTT
// session state (session::state), subscriptions, will, expiry, a queue in
// the store, and the connection it is attached to, if any. Owned by the
// worker that owns its client id, on that worker's thread.
//
//   client_session* s = client_session::make(w, client_id);  // delete s frees it
//   s->ext().subscriptions.set({filter, options, identifier});
//   if (s->persistent()) ... ;                               // Session Expiry Interval > 0
//
// It journals its QoS 1/2 state (session::journal) into its worker's
// write batch when the session is persistent.
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/auth/acl.hpp"
#include "tern/engine/hooks.hpp"
#include "tern/engine/subscription_index.hpp"
#include "tern/core/fifo.hpp"
#include "tern/session/state.hpp"
#include "tern/storage/batch_journal.hpp"
#include "tern/storage/storage.hpp"

namespace tern::engine {

class worker;
class endpoint;
using session::time_point;

// A publisher's acknowledgement that waits for a full subscriber
// (queue_full_policy::hold_acks): hold `id` of worker `worker`.
struct ack_hold {
  std::uint32_t worker = 0;
  std::uint64_t id = 0;
};

// A session's subscriptions, sorted by filter: one block for all of them
// (a std::map allocates a node per subscription).
class subscription_list {
 public:
  using record = storage::subscription_record;
  bool empty() const noexcept { return v_.empty(); }
  std::size_t size() const noexcept { return v_.size(); }
  auto begin() const noexcept { return v_.begin(); }
  auto end() const noexcept { return v_.end(); }
  bool contains(std::string_view filter) const {
    auto it = lower_bound(filter);
    return it != v_.end() && it->filter == filter;
  }
  // Adds `r`, or replaces the subscription with its filter.
  void set(record r) {
    auto it = lower_bound(r.filter);
    if (it != v_.end() && it->filter == r.filter) *it = std::move(r);
    else v_.insert(it, std::move(r));
  }
  // False when there was none.
  bool erase(std::string_view filter) {
    auto it = lower_bound(filter);
    if (it == v_.end() || it->filter != filter) return false;
    v_.erase(it);
    if (v_.empty()) v_.shrink_to_fit();
    return true;
  }
  void clear() noexcept { std::vector<record>().swap(v_); }

 private:
  std::vector<record>::iterator lower_bound(std::string_view filter) {
    return std::lower_bound(v_.begin(), v_.end(), filter, [](const record& r, std::string_view f) { return r.filter < f; });
  }
  std::vector<record>::const_iterator lower_bound(std::string_view filter) const {
    return std::lower_bound(v_.begin(), v_.end(), filter, [](const record& r, std::string_view f) { return r.filter < f; });
  }
  std::vector<record> v_;
};

// No time: the sentinel of client_session's deadlines.
constexpr time_point no_time = time_point::max();

// A session as the broker keeps it: MQTT session state, subscriptions, will
// and expiry, and the connection it is attached to, if any. Lives on the
// worker that owns its client id.
//
// Small, since a broker keeps one per client: the client id is stored right
// after the object, in the same block (make() allocates it; delete frees
// it), and what an idle session rarely has (user name, subscriptions, will,
// a queue in the store) sits in `extras`, allocated when first needed.
struct client_session final : storage::batch_journal {
  // What idle sessions rarely have, allocated when one of them is set.
  struct extras {
    std::optional<std::string> username;
    subscription_list subscriptions;
    std::unique_ptr<will_message> will;
    time_point will_at = no_time;  // a delayed will is due
    time_point expires_at = no_time;  // the session ends, if still disconnected
    // The seqs of queued messages kept in the store only (offline, or
    // behind), ascending: 8 bytes in memory per message, the message itself
    // on disk. Only these are read back: the store may also hold messages
    // other workers stored for this session that have not arrived here yet.
    fifo<std::uint64_t> stored;
    // QoS 1/2 messages dropped since `stored` reached options::max_stored_messages
    // (0: not dropping); logged when it starts and once it has drained to half.
    std::uint64_t dropping = 0;
    // Publishers' acknowledgements this session holds up: it took messages
    // beyond its memory queue's bound (queue_full_policy::hold_acks).
    std::vector<ack_hold> holds;
    // The access policy's remembered answers (engine/access.cpp), with the
    // policy generation they belong to. A cache: empty() ignores it.
    std::unique_ptr<auth::decision_cache> decisions;
    std::uint64_t decisions_generation = 0;
    // options::max_publish_rate: PUBLISHes received in the window that began then.
    time_point rate_window{};
    std::uint32_t rate_count = 0;
    bool empty() const noexcept {
      return !username && subscriptions.empty() && !will && stored.empty() && expires_at == no_time && dropping == 0 &&
             holds.empty();
    }
  };

  static client_session* make(worker& w, std::string_view id) {
    void* block = ::operator new(sizeof(client_session) + id.size());
    auto* s = new (block) client_session(w, id.size());
    if (!id.empty()) std::memcpy(s->id_chars(), id.data(), id.size());
    return s;
  }
  // `delete s` frees the block make() allocated, client id included.
  void operator delete(client_session* s, std::destroying_delete_t) {
    const std::size_t size = sizeof(client_session) + s->id_size_;
    s->~client_session();
    ::operator delete(s, size);
  }
  client_session(const client_session&) = delete;
  client_session& operator=(const client_session&) = delete;

  std::string_view client_id() const noexcept { return {id_chars(), id_size_}; }

  worker* home;
  session::state state;
  endpoint* connection = nullptr;
  std::uint64_t serial = 0;  // with `slot`: its handle on `home` (worker::session_at)
  std::uint32_t slot = 0;
  std::uint32_t expiry_interval = 0;  // seconds; 0xFFFFFFFF: never
  std::unique_ptr<extras> more;
  protocol_version version = protocol_version::v5;
  // Journaling to the store (persistent): its QoS 1/2 messages, subscriptions and will are there.
  bool journaled = false;
  // Not journaling, but QoS 1/2 messages its client was too slow for wait in
  // the store (`stored`), under a session record that recovery discards.
  bool spilled = false;

  // ---- extras ----
  extras& ext() {
    if (!more) more = std::make_unique<extras>();
    return *more;
  }
  // Frees the extras once nothing is in them.
  void trim() {
    if (more && more->empty()) more.reset();
  }
  void set_username(std::optional<std::string>&& u) {
    if (u) ext().username = std::move(u);
    else if (more) more->username.reset();
  }
  static const subscription_list& no_subscriptions() {
    static const subscription_list none;
    return none;
  }
  const subscription_list& subscriptions() const { return more ? more->subscriptions : no_subscriptions(); }
  will_message* will() const { return more ? more->will.get() : nullptr; }
  void set_will(std::unique_ptr<will_message> w) {
    if (w) ext().will = std::move(w);
    else if (more) more->will.reset();
  }
  time_point will_at() const { return more ? more->will_at : no_time; }
  // When the session ends if still disconnected (no_time: not while connected, or never).
  time_point expires_at() const { return more ? more->expires_at : no_time; }
  void set_expires_at(time_point t) {
    if (t != no_time) ext().expires_at = t;
    else if (more) more->expires_at = no_time;
  }
  bool has_stored() const { return more && !more->stored.empty(); }
  void add_stored(std::uint64_t seq) { ext().stored.add(seq); }

  client_info info(const endpoint* via) const {
    return {client_id(), more && more->username ? std::optional<std::string_view>(*more->username) : std::nullopt,
            version, via};
  }
  bool persistent() const { return expiry_interval != 0; }
  // How the index and other workers name it.
  session_handle handle() const;

  // session::journal: the state's changes go to the worker's batch, under the client id.
  std::uint64_t next_seq() override;
  storage::write_batch& journal_batch() override;
  std::string_view journal_key() const override { return client_id(); }

 private:
  client_session(worker& w, std::size_t id_size) : home(&w), id_size_(static_cast<std::uint32_t>(id_size)) {}
  char* id_chars() noexcept { return reinterpret_cast<char*>(this) + sizeof(client_session); }
  const char* id_chars() const noexcept { return reinterpret_cast<const char*>(this) + sizeof(client_session); }

  std::uint32_t id_size_;  // the client id's, in the bytes that follow
};

// The session is at most 88 bytes (32 of them its session::state): an idle
// connection's cost (alloc_test.cpp measures it).
static_assert(sizeof(client_session) <= 88);

}  // namespace tern::engine
