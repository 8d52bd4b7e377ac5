#include "tern/gateway/error.hpp"

#include <string>

namespace tern::gateway {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.gateway"; }
  std::string message(int v) const override {
    switch (static_cast<gateway_error>(v)) {
      case gateway_error::wrong_levels:
        return "the topic has not 7 levels (root/function/gateway/location/device/sender/type)";
      case gateway_error::unknown_type: return "the topic's type level is neither C (command) nor S (status)";
      case gateway_error::empty_payload: return "empty payload";
      case gateway_error::bad_json: return "the payload is not valid JSON";
      case gateway_error::payload_not_object: return "the payload is JSON but not an object";
      case gateway_error::no_action: return "the payload has no action";
      case gateway_error::bad_action: return "the payload's action is not a string";
      case gateway_error::bad_argument: return "an argument's value is not a string, a number or a boolean";
      case gateway_error::bad_token: return "a topic level would contain '/', '+', '#' or NUL";
      case gateway_error::bad_utf8: return "not valid UTF-8 (or holds U+0000)";
      case gateway_error::unmapped: return "a token is not in its strict map";
      case gateway_error::wrong_root: return "the topic's root is not the map's";
      case gateway_error::bad_line: return "the line is not a message object";
      case gateway_error::own_message: return "the gateway's own message (sender is its name)";
    }
    return "unknown gateway error " + std::to_string(v);
  }
};

}  // namespace

const std::error_category& gateway_error_category() noexcept {
  static const category c;
  return c;
}

}  // namespace tern::gateway
