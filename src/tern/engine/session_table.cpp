// A worker's sessions, by client id and by handle (slot and serial).
#include "tern/engine/session_table.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"

namespace tern::engine {

std::size_t session_table::by_client_id::operator()(std::string_view id) const noexcept {
  return std::hash<std::string_view>{}(id);
}
std::size_t session_table::by_client_id::operator()(const client_session* s) const noexcept {
  return (*this)(s->client_id());
}
bool session_table::by_client_id::operator()(const client_session* a, const client_session* b) const noexcept {
  return a->client_id() == b->client_id();
}
bool session_table::by_client_id::operator()(std::string_view id, const client_session* s) const noexcept {
  return id == s->client_id();
}
bool session_table::by_client_id::operator()(const client_session* s, std::string_view id) const noexcept {
  return s->client_id() == id;
}

session_table::~session_table() {
  for (client_session* s : sessions_) delete s;
}

client_session* session_table::find(std::string_view client_id) const {
  auto it = sessions_.find(client_id);
  return it == sessions_.end() ? nullptr : *it;
}

client_session& session_table::add(worker& home, std::string_view client_id) {
  std::unique_ptr<client_session> p(client_session::make(home, client_id));
  auto& s = *p;
  if (free_slots_.empty()) {
    s.slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(&s);
  } else {
    s.slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[s.slot] = &s;
  }
  s.serial = next_serial_++;
  sessions_.insert(p.release());
  return s;
}

void session_table::remove(client_session& s) {
  slots_[s.slot] = nullptr;
  free_slots_.push_back(s.slot);
  sessions_.erase(&s);
  delete &s;
}

client_session* session_table::at(std::uint32_t slot, std::uint64_t serial) const noexcept {
  if (slot >= slots_.size()) return nullptr;
  client_session* s = slots_[slot];
  return s && s->serial == serial ? s : nullptr;
}

}  // namespace tern::engine
