// tern/net/admission.hpp: what a listener asks of its connections before the
// engine sees them: at most max_connections open at once, and a CONNECT's
// credentials checked by an admission object, which may answer later (a
// password hash verified off the io threads) without holding the io thread.
//
//   struct files : tern::net::admission {
//     std::optional<tern::reason> check(const request& r, answer later) override {
//       if (!r.username) return tern::reason::not_authorized;        // now: refused
//       pool.submit([=, later = std::move(later)] { later(verify(*r.username, ...)); });
//       return std::nullopt;                                         // later, from any thread
//     }
//   };
//   auto gate = std::make_shared<tern::net::listener_gate>();
//   gate->check = std::make_shared<files>();
//   gate->max_connections = 1000;
//   options.listeners.push_back({"0.0.0.0", 1883, nullptr, gate});
//
// While a CONNECT waits for its answer its connection reads nothing more
// (what the client sent after it is held); the io thread serves every other
// connection. On success the engine admits it (its on_connect hook runs
// then, after this check); on failure the client gets CONNACK with the
// reason (5.0; 3.1.1 maps it: 0x86 to 4, 0x87 to 5) and the connection
// closes. A connection that closes while it waits ignores the answer.
//
// Thread safety: check() runs on the io threads, several at once; `later`
// may be called from any thread, once, and only while the runtime exists
// (whoever runs the verification stops before the runtime is destroyed).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tern/core/error.hpp"

namespace tern::net {

class admission {
 public:
  virtual ~admission() = default;

  // A CONNECT's credentials.
  struct request {
    const std::optional<std::string>& username;
    const std::optional<std::string>& password;
    // The transport named the user (TLS use_identity_as_username): no
    // password to check.
    bool identity_proven = false;
  };
  using answer = std::function<void(reason)>;

  // reason::success: admit; a failure: refuse with it; nullopt: `later`
  // will be called with one of those.
  [[nodiscard]] virtual std::optional<reason> check(const request& r, answer later) = 0;
};

// One listener's policy, shared by every socket it binds and every thread.
// At most 255 listeners of a runtime have one.
struct listener_gate {
  std::shared_ptr<net::admission> check;  // nullptr: no check before the engine
  std::uint32_t max_connections = 0;      // of this listener at once; 0: no limit
  std::atomic<std::uint32_t> open{0};     // its connections now
  std::uint8_t slot = 0;                  // set by the runtime: its connections' name for it
};

}  // namespace tern::net
