#include "tern/core/error.hpp"

namespace tern {
namespace {

class reason_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mqtt5"; }
  std::string message(int value) const override {
    auto n = tern::name(static_cast<reason>(value));
    return n.empty() ? "unknown reason code " + std::to_string(value) : std::string(n);
  }
};

class connect_return_code_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mqtt3.connack"; }
  std::string message(int value) const override {
    switch (static_cast<connect_return_code>(value)) {
      case connect_return_code::accepted: return "Connection accepted";
      case connect_return_code::unacceptable_protocol_version: return "Unacceptable protocol version";
      case connect_return_code::identifier_rejected: return "Identifier rejected";
      case connect_return_code::server_unavailable: return "Server unavailable";
      case connect_return_code::bad_user_name_or_password: return "Bad user name or password";
      case connect_return_code::not_authorized: return "Not authorized";
    }
    return "unknown connect return code " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& reason_category() noexcept {
  static const reason_category_impl instance;
  return instance;
}

const std::error_category& connect_return_code_category() noexcept {
  static const connect_return_code_category_impl instance;
  return instance;
}

std::string_view name(reason r) noexcept {
  switch (r) {
    case reason::success: return "Success";
    case reason::granted_qos_1: return "Granted QoS 1";
    case reason::granted_qos_2: return "Granted QoS 2";
    case reason::disconnect_with_will_message: return "Disconnect with Will Message";
    case reason::no_matching_subscribers: return "No matching subscribers";
    case reason::no_subscription_existed: return "No subscription existed";
    case reason::continue_authentication: return "Continue authentication";
    case reason::re_authenticate: return "Re-authenticate";
    case reason::unspecified_error: return "Unspecified error";
    case reason::malformed_packet: return "Malformed Packet";
    case reason::protocol_error: return "Protocol Error";
    case reason::implementation_specific_error: return "Implementation specific error";
    case reason::unsupported_protocol_version: return "Unsupported Protocol Version";
    case reason::client_identifier_not_valid: return "Client Identifier not valid";
    case reason::bad_user_name_or_password: return "Bad User Name or Password";
    case reason::not_authorized: return "Not authorized";
    case reason::server_unavailable: return "Server unavailable";
    case reason::server_busy: return "Server busy";
    case reason::banned: return "Banned";
    case reason::server_shutting_down: return "Server shutting down";
    case reason::bad_authentication_method: return "Bad authentication method";
    case reason::keep_alive_timeout: return "Keep Alive timeout";
    case reason::session_taken_over: return "Session taken over";
    case reason::topic_filter_invalid: return "Topic Filter invalid";
    case reason::topic_name_invalid: return "Topic Name invalid";
    case reason::packet_identifier_in_use: return "Packet Identifier in use";
    case reason::packet_identifier_not_found: return "Packet Identifier not found";
    case reason::receive_maximum_exceeded: return "Receive Maximum exceeded";
    case reason::topic_alias_invalid: return "Topic Alias invalid";
    case reason::packet_too_large: return "Packet too large";
    case reason::message_rate_too_high: return "Message rate too high";
    case reason::quota_exceeded: return "Quota exceeded";
    case reason::administrative_action: return "Administrative action";
    case reason::payload_format_invalid: return "Payload format invalid";
    case reason::retain_not_supported: return "Retain not supported";
    case reason::qos_not_supported: return "QoS not supported";
    case reason::use_another_server: return "Use another server";
    case reason::server_moved: return "Server moved";
    case reason::shared_subscriptions_not_supported: return "Shared Subscriptions not supported";
    case reason::connection_rate_exceeded: return "Connection rate exceeded";
    case reason::maximum_connect_time: return "Maximum connect time";
    case reason::subscription_identifiers_not_supported: return "Subscription Identifiers not supported";
    case reason::wildcard_subscriptions_not_supported: return "Wildcard Subscriptions not supported";
  }
  return {};
}

bool is_defined(reason r) noexcept { return !name(r).empty(); }

connect_return_code to_connect_return_code(reason r) noexcept {
  switch (r) {
    case reason::success: return connect_return_code::accepted;
    case reason::unsupported_protocol_version: return connect_return_code::unacceptable_protocol_version;
    case reason::client_identifier_not_valid: return connect_return_code::identifier_rejected;
    case reason::bad_user_name_or_password:
    case reason::bad_authentication_method: return connect_return_code::bad_user_name_or_password;
    case reason::not_authorized:
    case reason::banned: return connect_return_code::not_authorized;
    default: return connect_return_code::server_unavailable;
  }
}

reason to_reason(connect_return_code c) noexcept {
  switch (c) {
    case connect_return_code::accepted: return reason::success;
    case connect_return_code::unacceptable_protocol_version: return reason::unsupported_protocol_version;
    case connect_return_code::identifier_rejected: return reason::client_identifier_not_valid;
    case connect_return_code::server_unavailable: return reason::server_unavailable;
    case connect_return_code::bad_user_name_or_password: return reason::bad_user_name_or_password;
    case connect_return_code::not_authorized: return reason::not_authorized;
  }
  return reason::unspecified_error;
}

std::string error::message() const {
  if (!detail.empty()) return std::string(detail);
  return code.message();
}

}  // namespace tern
