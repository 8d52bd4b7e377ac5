// tern/engine/session_table.hpp: a worker's sessions (it owns them), found
// by client id (without allocating: a std::string_view will do) and by
// handle (a slot and a serial number that tells a session from a later one
// in the same slot), which is how the subscription index and other workers'
// batches name them.
//
//   session_table t;
//   client_session& s = t.add(worker, "c1");      // s.slot, s.serial set
//   t.find("c1") == &s; t.at(s.slot, s.serial) == &s;
//   t.remove(s);                                   // destroys it
//
// Thread safety: its worker's thread only.
#pragma once

#include <boost/unordered/unordered_flat_set.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

#include "tern/engine/client_session.hpp"

namespace tern::engine {

class session_table {
 public:
  session_table() = default;
  ~session_table();
  session_table(const session_table&) = delete;
  session_table& operator=(const session_table&) = delete;

  client_session* find(std::string_view client_id) const;
  // A new session of `home` (the id must not be in the table).
  client_session& add(worker& home, std::string_view client_id);
  void remove(client_session& s);  // destroys `s`
  client_session* at(std::uint32_t slot, std::uint64_t serial) const noexcept;

  std::size_t size() const noexcept { return sessions_.size(); }
  auto begin() const noexcept { return sessions_.begin(); }
  auto end() const noexcept { return sessions_.end(); }

 private:
  // Hashes and compares sessions by client id; finds them by a string_view.
  struct by_client_id {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const noexcept;
    std::size_t operator()(const client_session* s) const noexcept;
    bool operator()(const client_session* a, const client_session* b) const noexcept;
    bool operator()(std::string_view id, const client_session* s) const noexcept;
    bool operator()(const client_session* s, std::string_view id) const noexcept;
  };
  // One pointer per session (owned).
  boost::unordered_flat_set<client_session*, by_client_id, by_client_id> sessions_;
  std::vector<client_session*> slots_;  // by slot (nullptr: free)
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t next_serial_ = 1;
};

}  // namespace tern::engine
