// tern/client/offline_queue.hpp: the bounded queue of publishes a client
// holds until it can send them (disconnected, or the broker's Receive
// Maximum window full). Bounded in messages and bytes; when full it refuses
// the new message or drops the oldest ones, as configured.
//
//   tern::offline_queue q({.max_messages = 2, .on_full = overflow::drop_oldest});
//   auto r = q.push({msg, now, /*tag=*/7});
//   if (!r.accepted) fail(7, client_error::queue_full);
//   for (auto tag : r.dropped) fail(tag, client_error::dropped);
//
// Why not session::state's queue: that one drops QoS 0 messages first and
// refuses QoS 1/2 (a broker's policy for a subscriber), cannot drop the
// oldest, and hides which caller a message came from until its packet id is
// assigned. The client keeps its own, with a tag per message that links it to
// the caller's completion handler, and hands a message to the session only
// when it can go out at once. Pure: no clock, no I/O. Thread safety: none.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "tern/client/options.hpp"
#include "tern/session/state.hpp"

namespace tern {

class offline_queue {
 public:
  struct entry {
    publish_packet message;
    session::time_point enqueued_at{};  // for the Message Expiry Interval
    std::uint64_t tag = 0;              // the caller's: identifies the publish
  };
  struct push_result {
    bool accepted = false;
    std::vector<std::uint64_t> dropped;  // tags of older entries dropped to make room
  };

  explicit offline_queue(offline_queue_options o = {}) : options_(o) {}

  // Adds `e` at the back within the bounds. A message larger than max_bytes
  // on its own is refused whatever the policy.
  push_result push(entry e);
  // Adds `e` at the front, whatever the bounds (a message taken back from
  // the session, which was accepted once already).
  void push_front(entry e);
  entry pop_front();
  const entry& front() const { return entries_.front(); }
  const entry& back() const { return entries_.back(); }

  bool empty() const noexcept { return entries_.empty(); }
  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }
  const offline_queue_options& options() const noexcept { return options_; }
  // Empties the queue, returning what it held, oldest first.
  std::deque<entry> take_all();

  // What a message counts against max_bytes: topic, payload and properties.
  static std::size_t cost(const publish_packet& m) noexcept {
    return m.topic().size() + m.payload().size() + m.props().size();
  }

 private:
  offline_queue_options options_;
  std::deque<entry> entries_;
  std::size_t bytes_ = 0;
};

}  // namespace tern
