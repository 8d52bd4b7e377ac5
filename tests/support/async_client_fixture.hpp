// tests/support/async_client_fixture.hpp: what the black-box tests of
// tern::AsyncClient against mosquitto share (async_client_test.cpp,
// async_client_reconnect_test.cpp): a mosquitto per test on a free port, an
// io_context run until a condition or for a while (every wait bounded), and
// connect/subscribe/receive/disconnect helpers that run it.
//
//   TEST_F(AsyncClientTest, Something) {
//     AsyncClient c(io.get_executor(), fast_options());
//     connect(c, {.client_id = "x"});
//     auto m = receive(c);
//   }
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "support/mosquitto.hpp"
#include "tern/client/async_client.hpp"

// A named namespace: GoogleTest wants one fixture class for the suite across
// both files. The test files say `using namespace tern::async_client_test;`.
namespace tern::async_client_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using error_code = boost::system::error_code;
using tern::testing::mosquitto;

constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

// Runs `io` until `done()` or `limit` passes; true when done.
template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(5ms);
  }
  return true;
}

// Runs `io` for `d` (to let things that should not happen, not happen).
inline void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  if (io.stopped()) io.restart();
  io.run_for(d);
}

inline publish_packet msg(std::string_view topic, std::string_view payload, qos q = qos::at_most_once,
                          bool retain = false, properties props = {}) {
  return publish_packet(topic, shared_bytes::copy(payload), q, retain, std::move(props));
}

inline std::string text(const publish_packet& m) { return std::string(m.payload().view()); }

inline client_options fast_options() {
  client_options o;
  o.reconnect = {.min_delay = 20ms, .max_delay = 200ms, .jitter = 0.5, .seed = 7};
  o.session.connect_timeout = 3000ms;
  return o;
}

class AsyncClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker.start()) << "cannot start /usr/sbin/mosquitto"; }

  // Connects `c` and runs until the CONNACK; the CONNACK.
  connack_packet connect(AsyncClient& c, connect_options o) {
    std::optional<error_code> got;
    connack_packet ack;
    c.async_connect(broker.uri(), std::move(o), [&](error_code ec, connack_packet a) {
      got = ec;
      ack = std::move(a);
    });
    EXPECT_TRUE(run_until(io, [&] { return got.has_value(); }));
    EXPECT_FALSE(got.value_or(error_code{})) << got.value_or(error_code{}).message();
    return ack;
  }
  void subscribe(AsyncClient& c, std::vector<subscription> subs) {
    std::optional<error_code> got;
    std::vector<reason> codes;
    const auto n = subs.size();
    c.async_subscribe(std::move(subs), [&](error_code ec, std::vector<reason> r) {
      got = ec;
      codes = std::move(r);
    });
    ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
    ASSERT_FALSE(*got) << got->message();
    ASSERT_EQ(codes.size(), n);
    for (auto r : codes) EXPECT_FALSE(is_failure(r)) << name(r);
  }
  // The next message for async_receive, within `limit`.
  std::optional<publish_packet> receive(AsyncClient& c, std::chrono::milliseconds limit = 3000ms) {
    std::optional<error_code> got;
    publish_packet m;
    c.async_receive(limit, [&](error_code ec, publish_packet p) {
      got = ec;
      m = std::move(p);
    });
    EXPECT_TRUE(run_until(io, [&] { return got.has_value(); }, limit + 2000ms));
    if (!got || *got) return std::nullopt;
    return m;
  }
  void disconnect(AsyncClient& c, reason code = reason::normal_disconnection) {
    std::optional<error_code> got;
    c.async_disconnect(code, [&](error_code ec) { got = ec; });
    ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
    EXPECT_FALSE(*got) << got->message();
    EXPECT_FALSE(c.connected());
  }

  mosquitto broker{"max_inflight_messages 10\nmax_queued_messages 100000\n"};
  asio::io_context io;
};

}  // namespace tern::async_client_test
