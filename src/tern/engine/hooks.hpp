// tern/engine/hooks.hpp: the embedding program's say in what the broker
// does: accept or refuse a CONNECT, allow, discard, refuse, redirect or
// rewrite a PUBLISH, grant, downgrade or refuse a subscription, and learn of
// disconnections.
//
//   struct my_hooks : tern::engine::hooks {
//     tern::reason on_connect(const tern::engine::connect_request& r) override {
//       return r.username == "admin" ? tern::reason::success : tern::reason::not_authorized;
//     }
//     tern::engine::publish_verdict on_publish(const tern::engine::client_info&, tern::publish_packet& m) override {
//       if (m.topic().starts_with("raw/")) m.set_topic("clean/" + std::string(m.topic().substr(4)));  // redirect
//       return {};
//     }
//   };
//
// Hooks run on the broker's io threads, several at once: they must be
// thread-safe and must not block. In tern::Broker, on_connect runs after the
// password file's check (a client it refused never reaches the hook), and
// on_subscribe and on_publish after the access policy (engine/access.hpp);
// custom authentication without a password file is on_connect's alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tern/codec/packet.hpp"
#include "tern/core/error.hpp"

namespace tern::engine {

struct connect_request {
  std::string_view client_id;
  const std::optional<std::string>& username;
  const std::optional<std::string>& password;
  const properties& props;
  protocol_version version;
  bool clean_start;
  std::string_view peer;  // "address:port" of the network peer
};

class endpoint;

// Who did something: the client of a session.
struct client_info {
  std::string_view client_id;
  std::optional<std::string_view> username;  // as its CONNECT gave it
  protocol_version version = protocol_version::v5;
  // The "address:port" of the client's network peer, asked of the network
  // layer at each call (not kept: it may cost a system call, so a hook asks
  // only when it needs it). Empty for a session without a connection: a
  // delayed will published after its client left, $SYS.
  std::string peer() const;
  const endpoint* connection = nullptr;  // set by the engine
};

enum class publish_action : std::uint8_t {
  allow,    // route the message (as the hook may have changed it)
  discard,  // acknowledge it, route nothing
  refuse,   // acknowledge it with `code` (5.0), route nothing
};

struct publish_verdict {
  publish_action action = publish_action::allow;
  reason code = reason::not_authorized;
};

class hooks {
 public:
  virtual ~hooks() = default;
  // reason::success accepts; a failure code refuses the connection with it.
  virtual reason on_connect(const connect_request&) { return reason::success; }
  // May change the message's topic (redirect), payload or properties.
  virtual publish_verdict on_publish(const client_info&, publish_packet&) { return {}; }
  // May lower s.options.max_qos; a failure code refuses the subscription.
  virtual reason on_subscribe(const client_info&, subscription&) { return reason::success; }
  // The connection ended; `why` is success for a normal DISCONNECT.
  virtual void on_disconnect(const client_info&, const error& /*why*/) {}
};

}  // namespace tern::engine
