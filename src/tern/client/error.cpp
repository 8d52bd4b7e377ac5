#include "tern/client/error.hpp"

#include <string>

namespace tern {
namespace {

class client_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.client"; }
  std::string message(int v) const override {
    switch (static_cast<client_error>(v)) {
      case client_error::not_connected: return "not connected";
      case client_error::already_connected: return "already connecting or connected";
      case client_error::queue_full: return "the offline queue is full";
      case client_error::dropped: return "dropped from the offline queue for a newer message";
      case client_error::message_expired: return "the message expired in the offline queue";
      case client_error::invalid_uri: return "invalid broker URI";
      case client_error::unsupported_scheme:
        return "unsupported URI scheme (this build: mqtt, tcp, mqtts, ssl, tls; not yet ws, wss)";
      case client_error::connection_lost: return "the connection was lost";
      case client_error::kept_in_store: return "the client stopped; the message is kept in its store for the next connect";
      case client_error::no_client_id: return "a client store needs a client id";
    }
    return "unknown client error " + std::to_string(v);
  }
};

}  // namespace

const std::error_category& client_error_category() noexcept {
  static const client_category c;
  return c;
}

}  // namespace tern
