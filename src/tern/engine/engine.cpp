#include "tern/engine/engine.hpp"

#include "tern/engine/client_session.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/topic/topic.hpp"

namespace tern::engine {

// Per idle connection (see engine.hpp): the endpoint adds 32 bytes to its
// connection (and the session, client_session.hpp, is at most 88 bytes).
static_assert(sizeof(endpoint) <= sizeof(session::connection) + 32);

// ---------------------------------------------------------------- worker

worker::worker(engine& e, std::size_t index, std::size_t workers, time_point now)
    : engine_(e), engine_access_(e.config().access), index_(index), last_sys_(now), last_sync_(now) {
  outboxes_.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    outboxes_.emplace_back(*this);
    targets_.push_back(i == index ? static_cast<delivery_target*>(&local_) : &outboxes_.back());
  }
}

std::uint64_t worker::next_seq() { return engine_.next_seq(); }

const session::options& worker::connection_options() const { return engine_.connection_options(); }

worker::~worker() = default;


// ---------------------------------------------------------------- engine

engine::engine(options o, hooks& h, storage::store& store, std::size_t workers, time_point now)
    : options_(std::move(o)), hooks_(h), store_(store), started_(now), index_(workers) {
  connection_options_ = options_.connection;
  connection_options_.auto_acknowledge = false;  // acknowledged once durable (commit)
  if (workers == 0) workers = 1;
  for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<worker>(*this, i, workers, now));
}

engine::~engine() = default;

bool engine::deliver_outboxes(time_point now) {
  bool moved = false;
  for (auto& w : workers_)
    w->hand_over_outbox([&](std::size_t target, batch& b) {
      workers_[target]->deliver(std::move(b), now);
      moved = true;
    });
  return moved;
}


std::size_t engine::owner_of(std::string_view client_id) const {
  return std::hash<std::string_view>{}(client_id) % workers_.size();
}

std::size_t engine::owner_of(const endpoint& ep) const {
  const connect_packet* c = ep.pending();
  if (!c || c->client_id.empty()) return ep.current_worker().index();
  return owner_of(c->client_id);
}


}  // namespace tern::engine
