// tern/engine/access.hpp: the engine's one question about access control:
// may this client read, write or subscribe to this topic? One interface,
// several answers: an ACL file (tern::server's file policy), a program's own
// rules, a future plugin.
//
//   struct only_own_tree : tern::engine::access_policy {
//     bool allowed(const tern::engine::client_info& c, std::string_view topic,
//                  tern::engine::access what) const override {
//       return what == tern::engine::access::read || topic.starts_with(c.client_id);
//     }
//   } policy;
//   tern::engine::options o;
//   o.access = &policy;   // must outlive the engine; nullptr (the default): everything allowed
//
// The engine asks it on SUBSCRIBE (each filter: access::subscribe; refused:
// SUBACK 0x87, 0x80 on 3.1.1), on PUBLISH and when a will is published
// (the topic: access::write; refused: not routed, not retained, PUBACK or
// PUBREC 0x87 on 5.0, a silent drop on 3.1.1 as mosquitto does), and before
// each delivery to a subscriber, retained messages included (access::read;
// refused: that subscriber does not get it). It runs before the hooks
// (on_subscribe, on_publish), which may refuse further.
//
// Each answer is remembered per client session and topic (auth::decision_cache,
// on the session's worker), so allowed() is asked once per client, topic and
// access until generation() changes (a reload): then every client's
// remembered answers are dropped. Without a policy the engine asks nothing
// and remembers nothing.
//
// Thread safety: allowed() and generation() run on the io threads, several at
// once: they must be thread-safe and must not block.
#pragma once

#include <cstdint>
#include <string_view>

#include "tern/auth/acl.hpp"
#include "tern/engine/hooks.hpp"

namespace tern::engine {

// read: receive a message published to a topic name; write: publish to it;
// subscribe: subscribe to a topic filter.
using access = auth::access;

class access_policy {
 public:
  virtual ~access_policy() = default;
  // True when the client may do `what` with `topic` (a topic name for read
  // and write, a topic filter for subscribe).
  [[nodiscard]] virtual bool allowed(const client_info& client, std::string_view topic, access what) const = 0;
  // Changes whenever earlier answers may no longer hold (a new ACL in force).
  [[nodiscard]] virtual std::uint64_t generation() const { return 0; }
};

}  // namespace tern::engine
