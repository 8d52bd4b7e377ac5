#include "tern/engine/client_session.hpp"

#include "tern/engine/engine.hpp"

namespace tern::engine {

session_handle client_session::handle() const { return {static_cast<std::uint32_t>(home->index()), slot, serial}; }

// The state's changes go to the worker's batch (committed once per loop turn).

std::uint64_t client_session::next_seq() { return home->next_seq(); }

storage::write_batch& client_session::journal_batch() { return home->store_batch(); }

}  // namespace tern::engine
