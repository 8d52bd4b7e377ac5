// tern::AsyncClient against a real mosquitto 2.0 on 127.0.0.1 (started per
// test on a free port): connect, publish, subscribe, receive, ping,
// disconnect, reconnection across a broker restart, offline queue bounds.
// Every wait is bounded; the file runs in a few seconds.
#include "tern/client/async_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "support/mosquitto.hpp"
#include "tern/log/capture_sink.hpp"

namespace tern {
namespace {

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
void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  if (io.stopped()) io.restart();
  io.run_for(d);
}

publish_packet msg(std::string_view topic, std::string_view payload, qos q = qos::at_most_once, bool retain = false,
                   properties props = {}) {
  return publish_packet(topic, shared_bytes::copy(payload), q, retain, std::move(props));
}

std::string text(const publish_packet& m) { return std::string(m.payload().view()); }

client_options fast_options() {
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

// ---------------------------------------------------------------- connect

TEST_F(AsyncClientTest, ConnectsWith311And5) {
  for (auto v : {v311, v5}) {
    AsyncClient c(io.get_executor());
    auto ack = connect(c, {.version = v, .client_id = "connect-" + std::to_string(static_cast<int>(v))});
    EXPECT_EQ(ack.reason_code, reason::success);
    EXPECT_FALSE(ack.session_present);
    EXPECT_TRUE(c.connected());
    EXPECT_EQ(c.version(), v);
    EXPECT_EQ(c.connects(), 1u);
    disconnect(c);
  }
}

TEST_F(AsyncClientTest, V5ServerAssignsAClientId) {
  AsyncClient c(io.get_executor());
  auto ack = connect(c, {.version = v5, .client_id = ""});
  ASSERT_TRUE(ack.props.get<property_id::assigned_client_identifier>());
  EXPECT_EQ(c.client_id(), *ack.props.get<property_id::assigned_client_identifier>());
  EXPECT_FALSE(c.client_id().empty());
  disconnect(c);
}

TEST_F(AsyncClientTest, RefusedConnectCarriesTheReturnCodeOrReasonCode) {
  {  // 3.1.1: an empty client id without Clean Session: return code 2.
    AsyncClient c(io.get_executor());
    std::optional<error_code> got;
    connack_packet ack;
    c.async_connect(broker.uri(), {.version = v311, .client_id = "", .clean_start = false},
                    [&](error_code ec, connack_packet a) {
                      got = ec;
                      ack = a;
                    });
    ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
    EXPECT_EQ(*got, connect_return_code::identifier_rejected) << got->message();
    EXPECT_EQ(std::error_code(*got).category(), connect_return_code_category());
    EXPECT_EQ(ack.reason_code, reason::client_identifier_not_valid);
    EXPECT_FALSE(c.connected());
  }
  {  // 5.0: an Authentication Method mosquitto does not know: reason code 0x8C.
    AsyncClient c(io.get_executor());
    std::optional<error_code> got;
    connect_options o{.version = v5, .client_id = "auth"};
    o.props = properties::builder{}.add<property_id::authentication_method>("TERN-UNSUPPORTED").build();
    c.async_connect(broker.uri(), o, [&](error_code ec, connack_packet) { got = ec; });
    ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
    EXPECT_EQ(*got, reason::bad_authentication_method) << got->message();
    EXPECT_EQ(std::error_code(*got).category(), reason_category());
    EXPECT_FALSE(c.connected());
  }
}

TEST_F(AsyncClientTest, UnreachableBrokerFailsTheConnectAndStops) {
  AsyncClient c(io.get_executor(), fast_options());
  std::optional<error_code> got;
  c.async_connect("mqtt://127.0.0.1:" + std::to_string(tern::testing::free_port()), {.client_id = "nobody"},
                  [&](error_code ec, connack_packet) { got = ec; });
  ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
  EXPECT_EQ(*got, asio::error::connection_refused) << got->message();
  std::optional<error_code> pub;
  c.async_publish(msg("t", "x"), [&](error_code ec, reason) { pub = ec; });
  ASSERT_TRUE(run_until(io, [&] { return pub.has_value(); }));
  EXPECT_EQ(*pub, client_error::not_connected);

  std::optional<error_code> bad;
  c.async_connect("ws://127.0.0.1:1", {}, [&](error_code ec, connack_packet) { bad = ec; });
  ASSERT_TRUE(run_until(io, [&] { return bad.has_value(); }));
  EXPECT_EQ(*bad, client_error::unsupported_scheme);
  c.async_connect("127.0.0.1:1", {}, [&](error_code ec, connack_packet) { bad = ec; });
  ASSERT_TRUE(run_until(io, [&] { return *bad == client_error::invalid_uri; }));
}

// ---------------------------------------------------------------- publish

TEST_F(AsyncClientTest, PublishesQos012WithCallbacks) {
  for (auto v : {v311, v5}) {
    const std::string prefix = v == v5 ? "p5/" : "p3/";
    AsyncClient sub(io.get_executor()), pub(io.get_executor());
    connect(sub, {.version = v, .client_id = prefix + "sub"});
    connect(pub, {.version = v, .client_id = prefix + "pub"});
    subscribe(sub, {{prefix + "#", {.max_qos = qos::exactly_once}}});
    std::map<int, std::pair<error_code, reason>> done;
    for (int q = 0; q <= 2; ++q) {
      pub.async_publish(msg(prefix + std::to_string(q), "m" + std::to_string(q), static_cast<qos>(q)),
                        [&, q](error_code ec, reason rc) { done[q] = {ec, rc}; });
    }
    ASSERT_TRUE(run_until(io, [&] { return done.size() == 3; }));
    for (auto& [q, r] : done) {
      EXPECT_FALSE(r.first) << q << " " << r.first.message();
      EXPECT_FALSE(is_failure(r.second)) << q;
    }
    std::map<std::string, qos> got;
    for (int i = 0; i < 3; ++i) {
      auto m = receive(sub);
      ASSERT_TRUE(m);
      got[std::string(m->topic())] = m->qos;
      EXPECT_EQ(text(*m), "m" + std::string(m->topic()).substr(3));
    }
    EXPECT_EQ(got, (std::map<std::string, qos>{{prefix + "0", qos::at_most_once},
                                               {prefix + "1", qos::at_least_once},
                                               {prefix + "2", qos::exactly_once}}));
    disconnect(sub);
    disconnect(pub);
  }
}

TEST_F(AsyncClientTest, PublishesWithFuturesFromAnotherThread) {
  AsyncClient c(io.get_executor());
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  auto ack = c.async_connect(broker.uri(), {.client_id = "future"}, asio::use_future);
  ASSERT_EQ(ack.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(ack.get().reason_code, reason::success);
  auto granted = c.async_subscribe({{"fut/#", {.max_qos = qos::exactly_once}}}, asio::use_future);
  ASSERT_EQ(granted.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(granted.get(), std::vector<reason>{reason::granted_qos_2});
  auto p1 = c.async_publish(msg("fut/1", "one", qos::at_least_once), asio::use_future);
  auto p2 = c.async_publish(msg("fut/2", "two", qos::exactly_once), asio::use_future);
  ASSERT_EQ(p1.wait_for(5s), std::future_status::ready);
  ASSERT_EQ(p2.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(is_failure(p1.get()));
  EXPECT_FALSE(is_failure(p2.get()));
  auto m = c.async_receive(5s, asio::use_future);
  ASSERT_EQ(m.wait_for(6s), std::future_status::ready);
  EXPECT_EQ(text(m.get()), "one");
  auto bad = c.async_publish(msg("fut/+", "x"), asio::use_future);
  ASSERT_EQ(bad.wait_for(5s), std::future_status::ready);
  try {
    (void)bad.get();
    ADD_FAILURE() << "an invalid topic was published";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), reason::topic_name_invalid);
  }
  auto bye = c.async_disconnect(reason::normal_disconnection, asio::use_future);
  ASSERT_EQ(bye.wait_for(5s), std::future_status::ready);
  bye.get();
  work.reset();
  runner.join();
}

TEST_F(AsyncClientTest, WorksOnAStrandWithTwoIoThreadsAndCallsFromAThird) {
  AsyncClient c(asio::make_strand(io));
  auto work = asio::make_work_guard(io);
  std::thread t1([&] { io.run(); }), t2([&] { io.run(); });
  std::atomic<int> received{0}, published{0}, failed{0};
  c.on_message("st/#", [&](const publish_packet&) { ++received; });
  auto ack = c.async_connect(broker.uri(), {.client_id = "strand"}, asio::use_future);
  ASSERT_EQ(ack.wait_for(5s), std::future_status::ready);
  auto granted = c.async_subscribe({{"st/#", {.max_qos = qos::at_least_once}}}, asio::use_future);
  ASSERT_EQ(granted.wait_for(5s), std::future_status::ready);
  constexpr int n = 300;
  for (int i = 0; i < n; ++i)
    c.async_publish(msg("st/" + std::to_string(i % 3), "x", static_cast<qos>(i % 3)),
                    [&](error_code ec, reason) { ec ? ++failed : ++published; });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((published + failed < n || received < n) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(published.load(), n);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(received.load(), n);
  auto bye = c.async_disconnect(reason::normal_disconnection, asio::use_future);
  ASSERT_EQ(bye.wait_for(5s), std::future_status::ready);
  work.reset();
  t1.join();
  t2.join();
}

TEST_F(AsyncClientTest, PublishesWithCoroutines) {
  AsyncClient c(io.get_executor());
  std::vector<std::string> log;
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // (GCC 12 cannot have braced initialisers inside a co_await expression.)
        connect_options opts{.version = v5, .client_id = "coro"};
        auto ack = co_await c.async_connect(broker.uri(), opts, asio::use_awaitable);
        log.push_back("connack " + std::string(name(ack.reason_code)));
        std::vector<subscription> subs{{"co/#", {.max_qos = qos::exactly_once}}};
        auto granted = co_await c.async_subscribe(subs, asio::use_awaitable);
        log.push_back("granted " + std::to_string(static_cast<int>(granted.at(0))));
        for (int q = 0; q <= 2; ++q) {
          auto rc = co_await c.async_publish(msg("co/" + std::to_string(q), "x", static_cast<qos>(q)),
                                             asio::use_awaitable);
          log.push_back("published q" + std::to_string(q) + (is_failure(rc) ? " failed" : " ok"));
        }
        for (int i = 0; i < 3; ++i) {
          auto m = co_await c.async_receive(asio::use_awaitable);
          log.push_back("received " + std::string(m.topic()));
        }
        co_await c.async_ping();  // the default token: asio::deferred
        log.push_back("pong");
        co_await c.async_disconnect();
        log.push_back("disconnected");
        finished = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ASSERT_TRUE(run_until(io, [&] { return finished; }));
  EXPECT_EQ(log, (std::vector<std::string>{"connack Success", "granted 2", "published q0 ok", "published q1 ok",
                                           "published q2 ok", "received co/0", "received co/1", "received co/2",
                                           "pong", "disconnected"}));
}

TEST_F(AsyncClientTest, ManyPublishesInFlightStayWithinTheReceiveMaximum) {
  // The broker's max_inflight_messages 10 is its Receive Maximum (5.0).
  client_options o;
  o.offline_queue.max_messages = 5000;
  AsyncClient sub(io.get_executor()), pub(io.get_executor(), o);
  connect(sub, {.version = v5, .client_id = "many-sub"});
  auto ack = connect(pub, {.version = v5, .client_id = "many-pub"});
  EXPECT_EQ(ack.props.get<property_id::receive_maximum>().value_or(65535), 10u);
  subscribe(sub, {{"many/#", {.max_qos = qos::at_least_once}}});
  constexpr int n = 2000;
  int ok = 0, failed = 0;
  std::size_t max_inflight = 0, max_queued = 0;
  for (int i = 0; i < n; ++i) {
    pub.async_publish(msg("many/" + std::to_string(i % 7), std::to_string(i), i % 2 ? qos::exactly_once : qos::at_least_once),
                      [&](error_code ec, reason) {
                        ec ? ++failed : ++ok;
                        max_inflight = std::max(max_inflight, pub.inflight());
                        max_queued = std::max(max_queued, pub.queued());
                      });
  }
  std::vector<int> order;
  sub.on_message("many/#", [&](const publish_packet& m) { order.push_back(std::stoi(text(m))); });
  ASSERT_TRUE(run_until(io, [&] { return ok + failed == n && order.size() == static_cast<std::size_t>(n); }, 15000ms))
      << ok << " " << failed << " " << order.size();
  EXPECT_EQ(failed, 0);
  EXPECT_LE(max_inflight, 10u);
  EXPECT_GE(max_inflight, 2u);
  EXPECT_GE(max_queued, static_cast<std::size_t>(n) / 2);  // the rest waited in the client's queue
  // In order per QoS (mosquitto forwards a QoS 2 message at PUBREL, a QoS 1 one at once).
  std::vector<int> q1, q2;
  for (int i : order) (i % 2 ? q2 : q1).push_back(i);
  ASSERT_EQ(q1.size(), static_cast<std::size_t>(n / 2));
  ASSERT_EQ(q2.size(), static_cast<std::size_t>(n / 2));
  for (int i = 0; i < n / 2; ++i) {
    ASSERT_EQ(q1[static_cast<std::size_t>(i)], 2 * i);
    ASSERT_EQ(q2[static_cast<std::size_t>(i)], 2 * i + 1);
  }
  disconnect(sub);
  disconnect(pub);
}

TEST_F(AsyncClientTest, InvalidTopicsAndFiltersAreRefusedLocally) {
  AsyncClient c(io.get_executor());
  connect(c, {.client_id = "invalid"});
  std::optional<error_code> pub, sub, unsub;
  c.async_publish(msg("a/#", "x"), [&](error_code ec, reason) { pub = ec; });
  c.async_subscribe({{"a/#/b", {}}}, [&](error_code ec, std::vector<reason>) { sub = ec; });
  c.async_unsubscribe({"a/+b"}, [&](error_code ec, std::vector<reason>) { unsub = ec; });
  ASSERT_TRUE(run_until(io, [&] { return pub && sub && unsub; }));
  EXPECT_EQ(*pub, reason::topic_name_invalid);
  EXPECT_EQ(*sub, reason::topic_filter_invalid);
  EXPECT_EQ(*unsub, reason::topic_filter_invalid);
  EXPECT_TRUE(c.connected());
  disconnect(c);
}

// ---------------------------------------------------------------- subscribe, receive

TEST_F(AsyncClientTest, UnsubscribeStopsDelivery) {
  for (auto v : {v311, v5}) {
    AsyncClient c(io.get_executor());
    connect(c, {.version = v, .client_id = "unsub"});
    subscribe(c, {{"u/#", {.max_qos = qos::at_least_once}}, {"w/#", {}}});
    c.async_publish(msg("u/1", "before", qos::at_least_once), [](error_code, reason) {});
    auto m = receive(c);
    ASSERT_TRUE(m);
    EXPECT_EQ(text(*m), "before");
    std::optional<std::vector<reason>> codes;
    c.async_unsubscribe({"u/#", "nothing/#"}, [&](error_code ec, std::vector<reason> r) {
      EXPECT_FALSE(ec);
      codes = r;
    });
    ASSERT_TRUE(run_until(io, [&] { return codes.has_value(); }));
    if (v == v5) EXPECT_EQ(*codes, (std::vector<reason>{reason::success, reason::no_subscription_existed}));
    else EXPECT_EQ(*codes, (std::vector<reason>{reason::success, reason::success}));
    bool acked = false;
    c.async_publish(msg("u/1", "after", qos::at_least_once), [&](error_code, reason) { acked = true; });
    c.async_publish(msg("w/1", "still", qos::at_least_once), [](error_code, reason) {});
    ASSERT_TRUE(run_until(io, [&] { return acked; }));
    m = receive(c);
    ASSERT_TRUE(m);
    EXPECT_EQ(text(*m), "still");  // "after" never arrived
    disconnect(c);
  }
}

TEST_F(AsyncClientTest, PerFilterHandlersTakeWhatMatches) {
  AsyncClient c(io.get_executor());
  connect(c, {.client_id = "handlers"});
  std::vector<std::string> a, b;
  c.on_message("h/a/#", [&](const publish_packet& m) { a.push_back(std::string(m.topic())); });
  c.on_message("$share/g/h/+/b", [&](const publish_packet& m) { b.push_back(std::string(m.topic())); });
  subscribe(c, {{"h/#", {.max_qos = qos::at_least_once}}});
  for (auto t : {"h/a/b", "h/x/b", "h/c", "h/a"})
    c.async_publish(msg(t, "x", qos::at_least_once), [](error_code, reason) {});
  ASSERT_TRUE(run_until(io, [&] { return a.size() == 2 && b.size() == 2; }));
  EXPECT_EQ(a, (std::vector<std::string>{"h/a/b", "h/a"}));
  EXPECT_EQ(b, (std::vector<std::string>{"h/a/b", "h/x/b"}));
  auto m = receive(c);  // the one no handler took
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic(), "h/c");
  c.on_message("h/a/#", nullptr);  // removed: now it goes to async_receive
  c.async_publish(msg("h/a/z", "x", qos::at_least_once), [](error_code, reason) {});
  m = receive(c);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic(), "h/a/z");
  disconnect(c);
}

TEST_F(AsyncClientTest, ReceiveTimesOutAndCanBeCancelledWithoutLosingAMessage) {
  AsyncClient c(io.get_executor());
  connect(c, {.client_id = "timeouts"});
  subscribe(c, {{"rt/#", {}}});
  std::optional<error_code> got;
  const auto t0 = std::chrono::steady_clock::now();
  c.async_receive(100ms, [&](error_code ec, publish_packet) { got = ec; });
  ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(*got, asio::error::timed_out);
  EXPECT_GE(waited, 100ms);
  EXPECT_LT(waited, 2000ms);

  // A race with a timer through asio's awaitable operators: the timer wins,
  // the receive is cancelled, and the next message still arrives.
  std::vector<std::string> log;
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer timer(io, 50ms);
        auto r = co_await (c.async_receive(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
        log.push_back(r.index() == 1 ? "timer won" : "receive won");
        co_await c.async_publish(msg("rt/1", "kept", qos::at_least_once), asio::use_awaitable);
        auto m = co_await c.async_receive(asio::use_awaitable);
        log.push_back(text(m));
        finished = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ASSERT_TRUE(run_until(io, [&] { return finished; }));
  EXPECT_EQ(log, (std::vector<std::string>{"timer won", "kept"}));
  disconnect(c);
}

TEST_F(AsyncClientTest, ReceiveQueueIsBounded) {
  client_options o;
  o.receive_queue = 3;
  AsyncClient c(io.get_executor(), o);
  connect(c, {.client_id = "bounded"});
  subscribe(c, {{"b/#", {.max_qos = qos::at_least_once}}});
  int acked = 0;
  for (int i = 0; i < 5; ++i)
    c.async_publish(msg("b/x", std::to_string(i), qos::at_least_once), [&](error_code, reason) { ++acked; });
  ASSERT_TRUE(run_until(io, [&] { return acked == 5 && c.received_dropped() == 2; }));
  for (auto want : {"2", "3", "4"}) {
    auto m = receive(c);
    ASSERT_TRUE(m);
    EXPECT_EQ(text(*m), want);
  }
  disconnect(c);
}

// ---------------------------------------------------------------- ping, disconnect

TEST_F(AsyncClientTest, Ping) {
  AsyncClient c(io.get_executor());
  std::optional<error_code> early;
  c.async_ping([&](error_code ec) { early = ec; });
  ASSERT_TRUE(run_until(io, [&] { return early.has_value(); }));
  EXPECT_EQ(*early, client_error::not_connected);
  connect(c, {.version = v311, .client_id = "ping"});
  int pongs = 0;
  for (int i = 0; i < 3; ++i)
    c.async_ping([&](error_code ec) {
      EXPECT_FALSE(ec);
      ++pongs;
    });
  ASSERT_TRUE(run_until(io, [&] { return pongs == 3; }));
  disconnect(c);
}

TEST_F(AsyncClientTest, DisconnectWithReasonSendsTheWill) {
  AsyncClient watcher(io.get_executor());
  connect(watcher, {.client_id = "watcher"});
  subscribe(watcher, {{"will/#", {}}});
  for (auto code : {reason::normal_disconnection, reason::disconnect_with_will_message}) {
    AsyncClient c(io.get_executor());
    std::vector<error_code> ends;
    c.on_disconnect([&](error_code ec) { ends.push_back(ec); });
    connect(c, {.version = v5,
                .client_id = "willing",
                .will = will_message{"will/willing", shared_bytes::copy("gone"), qos::at_most_once, false, {}}});
    disconnect(c, code);
    ASSERT_TRUE(run_until(io, [&] { return ends.size() == 1; }));
    EXPECT_EQ(ends[0], code);
    auto m = receive(watcher, 300ms);
    if (code == reason::normal_disconnection) {
      EXPECT_FALSE(m) << "a will after a normal disconnection";
    } else {
      ASSERT_TRUE(m);
      EXPECT_EQ(m->topic(), "will/willing");
      EXPECT_EQ(text(*m), "gone");
    }
  }
  std::optional<error_code> twice;
  AsyncClient idle(io.get_executor());
  idle.async_disconnect(reason::normal_disconnection, [&](error_code ec) { twice = ec; });
  ASSERT_TRUE(run_until(io, [&] { return twice.has_value(); }));
  EXPECT_EQ(*twice, client_error::not_connected);
  disconnect(watcher);
}

TEST_F(AsyncClientTest, DestroyingTheClientAbortsItsOperations) {
  std::optional<error_code> received, published;
  {
    AsyncClient c(io.get_executor());
    connect(c, {.client_id = "destroyed"});
    c.async_receive([&](error_code ec, publish_packet) { received = ec; });
    broker.kill();  // so the QoS 1 publish stays in flight or queued
    c.async_publish(msg("d", "x", qos::at_least_once), [&](error_code ec, reason) { published = ec; });
  }
  ASSERT_TRUE(run_until(io, [&] { return received && published; }));
  EXPECT_EQ(*received, asio::error::operation_aborted);
  EXPECT_EQ(*published, asio::error::operation_aborted);
}

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
