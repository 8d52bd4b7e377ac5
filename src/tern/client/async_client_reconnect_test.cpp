// tern::AsyncClient against a real mosquitto 2.0 on 127.0.0.1 (started per
// test on a free port): reconnection across a broker restart, messages in
// flight sent again, keep alive, the connect timeout, offline queue bounds,
// disconnect while reconnecting. Every wait is bounded.
#include "tern/client/async_client.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "support/async_client_fixture.hpp"
#include "tern/log/capture_sink.hpp"

namespace tern {
namespace {

using namespace tern::async_client_test;

// ---------------------------------------------------------------- reconnect, offline queue

TEST_F(AsyncClientTest, ReconnectsAfterABrokerRestartAndSendsWhatWasQueued) {
  for (auto v : {v311, v5}) {
    auto o = fast_options();
    auto logged = std::make_shared<log::capture_sink>();
    o.log = log::logger{logged, "client", log::level::info};
    AsyncClient c(io.get_executor(), o);
    std::vector<connack_packet> connacks;
    std::vector<error_code> ends;
    c.on_connect([&](const connack_packet& a) { connacks.push_back(a); });
    c.on_disconnect([&](error_code ec) { ends.push_back(ec); });
    connect(c, {.version = v, .client_id = "phoenix", .keep_alive = 5});
    subscribe(c, {{"r/#", {.max_qos = qos::exactly_once}}});
    ASSERT_TRUE(run_until(io, [&] { return connacks.size() == 1; }));

    broker.kill();
    ASSERT_TRUE(run_until(io, [&] { return ends.size() == 1; }));
    EXPECT_TRUE(ends[0]);
    EXPECT_FALSE(c.connected());
    std::vector<std::pair<std::string, error_code>> done;
    auto track = [&](std::string what) { return [&, what](error_code ec, reason) { done.emplace_back(what, ec); }; };
    c.async_publish(msg("r/0", "q0", qos::at_most_once), track("q0"));
    c.async_publish(msg("r/1", "q1", qos::at_least_once), track("q1"));
    c.async_publish(msg("r/2", "q2", qos::exactly_once), track("q2"));
    c.async_publish(msg("r/1", "q1b", qos::at_least_once), track("q1b"));
    std::optional<std::vector<reason>> later;
    c.async_subscribe({{"s/#", {.max_qos = qos::at_least_once}}},
                      [&](error_code ec, std::vector<reason> r) {
                        EXPECT_FALSE(ec);
                        later = r;
                      });
    run_for(io, 100ms);  // a few refused attempts
    EXPECT_EQ(c.queued(), 4u);
    EXPECT_TRUE(done.empty());

    ASSERT_TRUE(broker.start());
    ASSERT_TRUE(run_until(io, [&] { return connacks.size() == 2 && done.size() == 4 && later; }));
    EXPECT_FALSE(connacks[1].session_present);
    EXPECT_EQ(c.connects(), 2u);
    for (auto& [what, ec] : done) EXPECT_FALSE(ec) << what << ": " << ec.message();
    // The restored r/# subscription went out before the queued publishes.
    std::vector<std::string> got;
    for (int i = 0; i < 4; ++i) {
      auto m = receive(c);
      ASSERT_TRUE(m) << i;
      got.push_back(text(*m));
    }
    // (mosquitto forwards a QoS 2 message at PUBREL, so q2 may come after q1b.)
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"q0", "q1", "q1b", "q2"}));
    // The subscription made while disconnected was made after the reconnect.
    c.async_publish(msg("s/1", "new", qos::at_least_once), [](error_code, reason) {});
    auto m = receive(c);
    ASSERT_TRUE(m);
    EXPECT_EQ(text(*m), "new");
    disconnect(c);
    EXPECT_EQ(ends.size(), 2u);
    const auto lines = logged->text();
    EXPECT_NE(lines.find("info client: reconnecting to " + broker.uri() + " in "), std::string::npos) << lines;
    EXPECT_NE(lines.find("info client: restoring 1 subscription(s) on " + broker.uri()), std::string::npos) << lines;
  }
}

TEST_F(AsyncClientTest, MessagesInFlightWhenTheBrokerDiesAreSentAgain) {
  // 5.0 reconnects with Clean Start 0 (the session state resends them); 3.1.1
  // with Clean Session 1 (the client puts them back in its queue first).
  for (auto v : {v5, v311}) {
    AsyncClient c(io.get_executor(), fast_options());
    std::optional<std::size_t> inflight_at_loss;
    int connacks = 0;
    c.on_connect([&](const connack_packet&) { ++connacks; });
    c.on_disconnect([&](error_code) { inflight_at_loss = c.inflight(); });
    connect(c, {.version = v, .client_id = "inflight"});
    broker.kill();  // before the client runs again: what it sends now goes nowhere
    std::map<int, std::pair<error_code, reason>> done;
    const std::string prefix = v == v5 ? "f5/" : "f3/";
    for (int i = 0; i < 6; ++i)
      c.async_publish(msg(prefix + std::to_string(i), "x", i % 2 ? qos::exactly_once : qos::at_least_once, true),
                      [&, i](error_code ec, reason rc) { done[i] = {ec, rc}; });
    ASSERT_TRUE(run_until(io, [&] { return inflight_at_loss.has_value(); }));
    EXPECT_GT(*inflight_at_loss, 0u);  // sent on the dead connection, not acknowledged
    EXPECT_TRUE(done.empty());
    ASSERT_TRUE(broker.start());
    ASSERT_TRUE(run_until(io, [&] { return connacks == 2 && done.size() == 6; }));
    for (auto& [i, r] : done) EXPECT_FALSE(r.first) << i << ": " << r.first.message();
    // They reached the broker: each left its retained message.
    AsyncClient check(io.get_executor());
    connect(check, {.version = v, .client_id = "check"});
    subscribe(check, {{prefix + "#", {}}});
    std::set<std::string> got;
    while (got.size() < 6) {
      auto m = receive(check);
      ASSERT_TRUE(m);
      EXPECT_TRUE(m->retain);
      got.emplace(m->topic());
    }
    disconnect(check);
    disconnect(c);
  }
}

TEST_F(AsyncClientTest, KeepAliveKeepsAnIdleConnectionUp) {
  AsyncClient c(io.get_executor());
  int ends = 0;
  c.on_disconnect([&](error_code) { ++ends; });
  connect(c, {.version = v311, .client_id = "idle", .keep_alive = 1});
  run_for(io, 1600ms);  // mosquitto closes after 1.5 s without a packet
  EXPECT_TRUE(c.connected());
  EXPECT_EQ(ends, 0);
  EXPECT_EQ(c.connects(), 1u);
  disconnect(c);
}

TEST_F(AsyncClientTest, NoConnackWithinTheConnectTimeout) {
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});  // listens, never answers
  auto o = fast_options();
  o.session.connect_timeout = 200ms;
  AsyncClient c(io.get_executor(), o);
  std::optional<error_code> got;
  const auto t0 = std::chrono::steady_clock::now();
  c.async_connect("mqtt://127.0.0.1:" + std::to_string(silent.local_endpoint().port()), {.client_id = "silent"},
                  [&](error_code ec, connack_packet) { got = ec; });
  ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
  EXPECT_EQ(std::error_code(*got), std::errc::timed_out) << got->message();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
  EXPECT_FALSE(c.connected());
}

TEST_F(AsyncClientTest, OfflineQueueRefusesPastItsBounds) {
  auto o = fast_options();
  o.offline_queue = {.max_messages = 3, .max_bytes = 1000, .on_full = offline_queue_options::overflow::refuse};
  AsyncClient c(io.get_executor(), o);
  bool down = false;
  c.on_disconnect([&](error_code) { down = true; });
  connect(c, {.client_id = "refuser"});
  broker.kill();
  ASSERT_TRUE(run_until(io, [&] { return down; }));
  std::map<int, error_code> done;
  for (int i = 0; i < 5; ++i)
    c.async_publish(msg("o/" + std::to_string(i), "x", qos::at_least_once),
                    [&, i](error_code ec, reason) { done[i] = ec; });
  // A message larger than max_bytes on its own is refused at any time.
  c.async_publish(msg("o/big", std::string(2000, 'x'), qos::at_least_once),
                  [&](error_code ec, reason) { done[9] = ec; });
  ASSERT_TRUE(run_until(io, [&] { return done.size() == 3; }));
  EXPECT_EQ(done[3], client_error::queue_full);
  EXPECT_EQ(done[4], client_error::queue_full);
  EXPECT_EQ(done[9], client_error::queue_full);
  EXPECT_EQ(c.queued(), 3u);
  ASSERT_TRUE(broker.start());
  ASSERT_TRUE(run_until(io, [&] { return done.size() == 6; }));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(done[i]) << i << ": " << done[i].message();
  disconnect(c);
}

TEST_F(AsyncClientTest, OfflineQueueDropsTheOldestPastItsBounds) {
  auto o = fast_options();
  // Each message costs 3 bytes (topic "o/N", empty payload): 4 fit in 12 bytes, 3 in count.
  o.offline_queue = {.max_messages = 3, .max_bytes = 12, .on_full = offline_queue_options::overflow::drop_oldest};
  AsyncClient c(io.get_executor(), o);
  bool down = false;
  c.on_disconnect([&](error_code) { down = true; });
  connect(c, {.client_id = "dropper"});
  subscribe(c, {{"o/#", {.max_qos = qos::at_least_once}}});
  broker.kill();
  ASSERT_TRUE(run_until(io, [&] { return down; }));
  std::map<int, error_code> done;
  for (int i = 0; i < 5; ++i)
    c.async_publish(msg("o/" + std::to_string(i), "", qos::at_least_once), [&, i](error_code ec, reason) { done[i] = ec; });
  ASSERT_TRUE(run_until(io, [&] { return done.size() == 2; }));
  EXPECT_EQ(done[0], client_error::dropped);
  EXPECT_EQ(done[1], client_error::dropped);
  // The byte bound: a 7-byte message makes room by dropping two more.
  c.async_publish(msg("o/9", "1234", qos::at_least_once), [&](error_code ec, reason) { done[9] = ec; });
  ASSERT_TRUE(run_until(io, [&] { return done.size() == 4; }));
  EXPECT_EQ(done[2], client_error::dropped);
  EXPECT_EQ(done[3], client_error::dropped);
  EXPECT_EQ(c.queued(), 2u);
  ASSERT_TRUE(broker.start());
  ASSERT_TRUE(run_until(io, [&] { return done.size() == 6; }));
  EXPECT_FALSE(done[4]);
  EXPECT_FALSE(done[9]);
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto m = receive(c);
    ASSERT_TRUE(m);
    got.emplace_back(m->topic());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"o/4", "o/9"}));
  disconnect(c);
}

TEST_F(AsyncClientTest, DisconnectWhileReconnectingAbortsWhatWaits) {
  AsyncClient c(io.get_executor(), fast_options());
  int ends = 0;
  c.on_disconnect([&](error_code) { ++ends; });
  connect(c, {.client_id = "quitter"});
  broker.kill();
  ASSERT_TRUE(run_until(io, [&] { return ends == 1; }));
  std::optional<error_code> pub, sub, bye;
  c.async_publish(msg("q", "x", qos::at_least_once), [&](error_code ec, reason) { pub = ec; });
  c.async_subscribe({{"q/#", {}}}, [&](error_code ec, std::vector<reason>) { sub = ec; });
  c.async_disconnect(reason::normal_disconnection, [&](error_code ec) { bye = ec; });
  ASSERT_TRUE(run_until(io, [&] { return pub && sub && bye; }));
  EXPECT_FALSE(*bye);
  EXPECT_EQ(*pub, asio::error::operation_aborted);
  EXPECT_EQ(*sub, asio::error::operation_aborted);
  ASSERT_TRUE(broker.start());
  run_for(io, 300ms);  // no reconnect happens
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.connects(), 1u);
}

TEST_F(AsyncClientTest, WithoutReconnectALostConnectionStopsTheClient) {
  auto o = fast_options();
  o.reconnect.enabled = false;
  AsyncClient c(io.get_executor(), o);
  connect(c, {.client_id = "once"});
  std::optional<error_code> received;
  c.async_receive([&](error_code ec, publish_packet) { received = ec; });
  broker.kill();
  ASSERT_TRUE(run_until(io, [&] { return received.has_value(); }));
  EXPECT_TRUE(*received);
  EXPECT_NE(*received, asio::error::operation_aborted);
  ASSERT_TRUE(broker.start());
  connect(c, {.client_id = "once"});  // an explicit async_connect works again
  EXPECT_EQ(c.connects(), 2u);
  disconnect(c);
}

}  // namespace
}  // namespace tern
