#include "tern/core/error.hpp"

#include <gtest/gtest.h>

#include "tern/core/result.hpp"

namespace tern {
namespace {

TEST(Reason, IsAnErrorCodeInTheMqtt5Category) {
  std::error_code ec = reason::packet_too_large;
  EXPECT_EQ(ec.value(), 0x95);
  EXPECT_STREQ(ec.category().name(), "mqtt5");
  EXPECT_EQ(ec.message(), "Packet too large");
  EXPECT_FALSE(std::error_code(reason::success));
}

TEST(Reason, EveryDefinedCodeHasAName) {
  int defined = 0;
  for (int v = 0; v < 256; ++v) {
    auto r = static_cast<reason>(v);
    if (is_defined(r)) {
      ++defined;
      EXPECT_FALSE(name(r).empty());
    }
  }
  EXPECT_EQ(defined, 43);  // the reason codes of MQTT 5.0 table 2-6, 0x00 counted once
  EXPECT_EQ(make_error_code(static_cast<reason>(0x7F)).message(), "unknown reason code 127");
}

TEST(Reason, FailuresStartAt0x80) {
  EXPECT_FALSE(is_failure(reason::granted_qos_2));
  EXPECT_FALSE(is_failure(reason::no_matching_subscribers));
  EXPECT_TRUE(is_failure(reason::unspecified_error));
  EXPECT_TRUE(is_failure(reason::wildcard_subscriptions_not_supported));
}

TEST(ConnectReturnCode, IsAnErrorCodeInItsOwnCategory) {
  std::error_code ec = connect_return_code::not_authorized;
  EXPECT_EQ(ec.value(), 5);
  EXPECT_STREQ(ec.category().name(), "mqtt3.connack");
  EXPECT_EQ(ec.message(), "Not authorized");
  EXPECT_NE(ec, std::error_code(reason::not_authorized));
}

TEST(ConnectReturnCode, MapsToAndFromReasonCodes) {
  for (int v = 0; v <= 5; ++v) {
    auto c = static_cast<connect_return_code>(v);
    EXPECT_EQ(to_connect_return_code(to_reason(c)), c);
  }
  EXPECT_EQ(to_connect_return_code(reason::banned), connect_return_code::not_authorized);
  EXPECT_EQ(to_connect_return_code(reason::server_busy), connect_return_code::server_unavailable);
}

TEST(Error, MessagePrefersTheRule) {
  error e{reason::protocol_error, "MQTT-3.1.0-2: second CONNECT"};
  EXPECT_EQ(e.message(), "MQTT-3.1.0-2: second CONNECT");
  EXPECT_EQ(error{reason::protocol_error}.message(), "Protocol Error");
}

TEST(Result, CarriesValueOrError) {
  result<int> ok = 3;
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  result<int> bad = error{reason::malformed_packet, "rule"};
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, reason::malformed_packet);
  EXPECT_THROW((void)bad.value(), system_error);
  try {
    (void)bad.value();
  } catch (const system_error& x) {
    EXPECT_NE(std::string(x.what()).find("rule"), std::string::npos);
  }
}

}  // namespace
}  // namespace tern
