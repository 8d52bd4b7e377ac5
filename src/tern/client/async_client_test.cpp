// tern::AsyncClient against a real mosquitto 2.0 on 127.0.0.1 (started per
// test on a free port): connect, publish, subscribe, receive, ping,
// disconnect. Reconnection and the offline queue: async_client_reconnect_test.cpp.
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

#include "support/async_client_fixture.hpp"
#include "support/mosquitto.hpp"
#include "tern/log/capture_sink.hpp"

namespace tern {
namespace {

using namespace tern::async_client_test;

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
  c.async_connect("http://127.0.0.1:1", {}, [&](error_code ec, connack_packet) { bad = ec; });
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

// A full receive queue holds the broker back (the client stops reading)
// instead of dropping messages it acknowledged: a subscriber with a queue of
// 3 that reads nothing while 300 QoS 1 messages are published gets every
// one, in order, once it reads. (It dropped all but the last 3 before.)
TEST_F(AsyncClientTest, AFullReceiveQueueHoldsTheBrokerBackAndLosesNothing) {
  client_options o;
  o.receive_queue = 3;
  AsyncClient c(io.get_executor(), o);
  connect(c, {.client_id = "bounded"});
  subscribe(c, {{"b/#", {.max_qos = qos::at_least_once}}});
  AsyncClient pub(io.get_executor());
  connect(pub, {.client_id = "bounded-pub"});
  constexpr int n = 300;
  int acked = 0;
  for (int i = 0; i < n; ++i)
    pub.async_publish(msg("b/x", std::to_string(i), qos::at_least_once), [&](error_code, reason) { ++acked; });
  ASSERT_TRUE(run_until(io, [&] { return acked == n; }));
  for (int i = 0; i < n; ++i) {
    auto m = receive(c);
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(text(*m), std::to_string(i));
  }
  EXPECT_EQ(c.received_dropped(), 0u);
  disconnect(pub);
  disconnect(c);
}

// A queue of 0: what no handler or receive takes is dropped and counted.
TEST_F(AsyncClientTest, AReceiveQueueOfZeroDropsWhatNobodyTakes) {
  client_options o;
  o.receive_queue = 0;
  AsyncClient c(io.get_executor(), o);
  connect(c, {.client_id = "no-queue"});
  subscribe(c, {{"z/#", {.max_qos = qos::at_least_once}}});
  int acked = 0;
  for (int i = 0; i < 3; ++i)
    c.async_publish(msg("z/x", std::to_string(i), qos::at_least_once), [&](error_code, reason) { ++acked; });
  ASSERT_TRUE(run_until(io, [&] { return acked == 3 && c.received_dropped() == 3; }));
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

}  // namespace
}  // namespace tern
