// tern/storage/storage.hpp: what the broker keeps beyond a connection, as
// interfaces: retained messages and persistent sessions (subscriptions,
// expiry, will). A backend implements them; `memory` here, RocksDB later.
//
//   auto store = tern::storage::make_memory_store();
//   store->retained().put(msg, now);
//   store->retained().match("sensors/#", now, [](const tern::publish_packet& m) { ... });
//
// Time is an argument (for Message Expiry of retained messages); backends
// never read a clock. Thread safety: every method of a backend may be called
// from any thread; backends lock internally.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/codec/packet.hpp"

namespace tern::storage {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

class retain_store {
 public:
  virtual ~retain_store() = default;
  // Stores `m` as the retained message of its topic, replacing any; a message
  // with an empty payload removes the topic's retained message instead.
  virtual void put(const publish_packet& m, time_point now) = 0;
  // Calls f for each retained message whose topic matches `filter`, skipping
  // (and forgetting) those whose Message Expiry Interval has passed; the
  // messages given carry the remaining interval.
  virtual void match(std::string_view filter, time_point now,
                     const std::function<void(const publish_packet&)>& f) = 0;
  virtual std::size_t size() const = 0;
};

// One subscription of a persistent session.
struct subscription_record {
  std::string filter;  // as the client sent it, "$share/g/f" included
  subscribe_options options;
  std::uint32_t identifier = 0;  // Subscription Identifier, 0 for none
};

// A session that outlives its connection (Session Expiry Interval > 0).
struct session_record {
  std::string client_id;
  protocol_version version = protocol_version::v5;
  std::uint32_t expiry_interval = 0;  // seconds; 0xFFFFFFFF never expires
  std::vector<subscription_record> subscriptions;
};

class session_store {
 public:
  virtual ~session_store() = default;
  virtual void save(const session_record& s) = 0;
  virtual std::optional<session_record> load(std::string_view client_id) = 0;
  virtual void erase(std::string_view client_id) = 0;
  virtual void for_each(const std::function<void(const session_record&)>& f) = 0;
};

class store {
 public:
  virtual ~store() = default;
  virtual retain_store& retained() = 0;
  virtual session_store& sessions() = 0;
};

// Everything in memory: lost when the process ends (storage = "memory").
std::unique_ptr<store> make_memory_store();

}  // namespace tern::storage
