#include "tern/client/uri.hpp"

#include <gtest/gtest.h>

#include "tern/client/error.hpp"

namespace tern {
namespace {

TEST(BrokerUri, SchemesAndDefaultPorts) {
  auto u = parse_broker_uri("mqtt://broker.example");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->transport, broker_uri::kind::tcp);
  EXPECT_EQ(u->host, "broker.example");
  EXPECT_EQ(u->port, 1883);
  EXPECT_EQ(parse_broker_uri("tcp://h")->port, 1883);
  EXPECT_EQ(parse_broker_uri("mqtts://h")->port, 8883);
  EXPECT_EQ(parse_broker_uri("mqtts://h")->transport, broker_uri::kind::tls);
  EXPECT_EQ(parse_broker_uri("ws://h")->port, 80);
  EXPECT_EQ(parse_broker_uri("ws://h")->path, "/mqtt");
  EXPECT_EQ(parse_broker_uri("wss://h:8443/mqtt/v1")->path, "/mqtt/v1");
  EXPECT_EQ(parse_broker_uri("wss://h:8443/mqtt/v1")->port, 8443);
}

TEST(BrokerUri, PortsAndIpv6) {
  auto u = parse_broker_uri("mqtt://127.0.0.1:18830");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 18830);
  auto v6 = parse_broker_uri("mqtt://[::1]:1884");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 1884);
  EXPECT_EQ(v6->to_string(), "mqtt://[::1]:1884");
  EXPECT_EQ(parse_broker_uri("mqtt://[::1]")->port, 1883);
  EXPECT_EQ(parse_broker_uri("mqtt://h:1/")->port, 1);
}

TEST(BrokerUri, Refusals) {
  for (const char* bad : {"127.0.0.1:1883", "mqtt://", "mqtt://:1883", "mqtt://h:", "mqtt://h:0", "mqtt://h:65536",
                          "mqtt://h:12x", "mqtt://[::1", "mqtt://[::1]x", "mqtt://::1", "mqtt://u:p@h",
                          "mqtt://h/path"}) {
    auto u = parse_broker_uri(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().code, client_error::invalid_uri) << bad;
    EXPECT_FALSE(u.error().detail.empty()) << bad;
  }
  auto u = parse_broker_uri("http://h");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, client_error::unsupported_scheme);
}

TEST(ClientError, Category) {
  std::error_code ec = client_error::queue_full;
  EXPECT_STREQ(ec.category().name(), "tern.client");
  EXPECT_EQ(ec.message(), "the offline queue is full");
}

}  // namespace
}  // namespace tern
