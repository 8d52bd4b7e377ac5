// tern/client/error.hpp: the client library's own error codes, for what goes
// wrong on this side of the wire (the broker's answers are tern::reason codes,
// tern/core/error.hpp). A std::error_code category like tern's others:
//
//   c.async_publish(m, [](boost::system::error_code ec, tern::reason rc) {
//     if (ec == tern::client_error::queue_full) ...   // refused: the offline queue is full
//     else if (ec == tern::reason::quota_exceeded) ... // refused by the broker (rc too)
//   });
#pragma once

#include <cstdint>
#include <system_error>

#include "tern/net/tls_options.hpp"  // tls_verify_category()

namespace tern {

enum class client_error : std::uint8_t {
  not_connected = 1,      // no connection and none being made (async_connect not called, or stopped)
  already_connected,      // async_connect while connecting or connected
  queue_full,             // publish refused: the offline queue is at its bound (overflow::refuse)
  dropped,                // publish dropped from the offline queue for a newer one (overflow::drop_oldest)
  message_expired,        // its Message Expiry Interval ran out while it waited in the offline queue
  invalid_uri,            // not scheme://host[:port][/path]
  unsupported_scheme,     // a scheme this build cannot connect with (today: ws:// and wss://)
  connection_lost,        // the connection ended with no error of its own to report (e.g. the
                          // server's DISCONNECT 0x00) before the operation could complete
  kept_in_store,          // publish: the client stopped before its QoS flow completed; the message
                          // stays in the client's store (persistence) and goes out with the next
                          // async_connect with this client id and store, in this process or the next
  no_client_id,           // persistence needs a client id of the caller's (not one the server assigns)
};

// The category of client_error; name "tern.client".
const std::error_category& client_error_category() noexcept;

inline std::error_code make_error_code(client_error e) noexcept {
  return {static_cast<int>(e), client_error_category()};
}

}  // namespace tern

template <>
struct std::is_error_code_enum<tern::client_error> : std::true_type {};
