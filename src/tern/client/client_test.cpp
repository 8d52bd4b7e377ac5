// tern::Client, the threaded facade, against Debian's mosquitto and against
// an in-process tern::Broker (every test runs on both): callbacks, the three
// loop styles (loop_start, loop_forever, none), callbacks that call the
// client, 100 threads publishing at once, timers, receive with a timeout,
// reconnect, and what the destructor does. Every wait is bounded.
#include "tern/client/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/error.hpp>

#include "support/mosquitto.hpp"
#include "tern/server/broker.hpp"

namespace tern {
namespace {

using namespace std::chrono_literals;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

// Sleeps until `done()` or `limit`; true when done.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = clock::now() + limit;
  while (!done()) {
    if (clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string text(const publish_packet& m) { return std::string(m.payload().view()); }

client_options fast_options() {
  client_options o;
  o.reconnect = {.min_delay = 20ms, .max_delay = 200ms, .jitter = 0.5, .seed = 7};
  o.session.connect_timeout = 3000ms;
  return o;
}

// Thread-safe record of what callbacks saw.
class journal {
 public:
  void add(std::string s) {
    std::lock_guard lk(m_);
    lines_.push_back(std::move(s));
  }
  std::vector<std::string> lines() const {
    std::lock_guard lk(m_);
    return lines_;
  }
  std::size_t count(const std::string& s) const {
    std::lock_guard lk(m_);
    return static_cast<std::size_t>(std::count(lines_.begin(), lines_.end(), s));
  }
  bool has(const std::string& s) const { return count(s) > 0; }

 private:
  mutable std::mutex m_;
  std::vector<std::string> lines_;
};

enum class broker_kind { mosquitto, tern };

std::string kind_name(const ::testing::TestParamInfo<broker_kind>& i) {
  return i.param == broker_kind::mosquitto ? "mosquitto" : "tern";
}

class ClientTest : public ::testing::TestWithParam<broker_kind> {
 protected:
  void SetUp() override {
    if (GetParam() == broker_kind::mosquitto) {
      mosq_ = std::make_unique<testing::mosquitto>("max_inflight_messages 0\nmax_queued_messages 100000\n");
      ASSERT_TRUE(mosq_->start()) << "cannot start /usr/sbin/mosquitto";
      port_ = mosq_->port();
    } else {
      server::config c;
      c.listeners = {server::listener_config{}};
      c.listeners[0].address = "127.0.0.1";
      c.listeners[0].port = 0;
      c.io_threads = 2;
      c.sys_interval = 0;
      c.storage.backend = server::storage_backend::memory;
      c.limits.max_queued_messages = 200'000;  // a burst of QoS 0 to a subscriber: none dropped
      c.limits.max_queued_bytes = 64 * 1024 * 1024;
      tern_ = std::make_unique<Broker>(std::move(c));
      tern_->start();
      port_ = tern_->ports().at(0);
    }
  }
  std::string uri() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  // Stops the broker (mosquitto: SIGKILL; tern: graceful, 5.0 clients get 0x8B).
  void stop_broker() {
    if (mosq_) mosq_->kill();
    if (tern_) tern_->stop();
  }

  std::unique_ptr<testing::mosquitto> mosq_;
  std::unique_ptr<Broker> tern_;
  std::uint16_t port_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Brokers, ClientTest, ::testing::Values(broker_kind::mosquitto, broker_kind::tern),
                         kind_name);

// ---------------------------------------------------------------- callbacks, loop_start

TEST_P(ClientTest, EveryCallbackWithLoopStart) {
  for (auto v : {v311, v5}) {
    const std::string p = v == v5 ? "cb5/" : "cb3/";
    journal j;
    std::atomic<int> logs{0};
    Client c(fast_options());
    c.on_log([&](log::level, std::string_view) { ++logs; });
    c.on_connect([&](error_code ec, const connack_packet& a) {
      j.add("connect " + std::string(ec ? ec.message() : "ok") + (a.session_present ? " present" : ""));
      c.subscribe(p + "#", qos::exactly_once);  // from the callback, as paho programs do
    });
    c.on_subscribe([&](int mid, error_code ec, const std::vector<reason>& codes) {
      j.add("subscribe " + std::to_string(mid) + " " + (ec ? ec.message() : "ok") + " " +
            std::to_string(static_cast<int>(codes.at(0))));
    });
    c.on_message([&](const publish_packet& m) {
      j.add("message " + std::string(m.topic()) + " " + text(m) + " q" + std::to_string(static_cast<int>(m.qos)));
    });
    c.on_publish([&](int mid, error_code ec, reason) { j.add("publish " + std::to_string(mid) + (ec ? " failed" : " ok")); });
    c.on_unsubscribe([&](int mid, error_code ec, const std::vector<reason>&) {
      j.add("unsubscribe " + std::to_string(mid) + (ec ? " failed" : " ok"));
    });
    c.on_disconnect([&](error_code ec) { j.add("disconnect " + std::string(ec ? ec.message() : "ok")); });

    ASSERT_TRUE(c.loop_start());
    EXPECT_FALSE(c.loop_start());  // one loop thread
    ASSERT_FALSE(c.connect(uri(), {.version = v, .client_id = p + "c"}));
    EXPECT_TRUE(c.connected());
    EXPECT_EQ(c.client_id(), p + "c");
    // connect() returned after on_connect ran: mid 1 is its subscribe.
    ASSERT_TRUE(eventually([&] { return j.has("subscribe 1 ok 2"); }));
    std::vector<token> sent;
    for (int q = 0; q <= 2; ++q)
      sent.push_back(c.publish(p + std::to_string(q), "m" + std::to_string(q), static_cast<qos>(q)));
    for (auto& t : sent) {
      ASSERT_TRUE(t.wait_for_publish(5s));
      EXPECT_TRUE(t.is_published()) << t.error().message();
      EXPECT_EQ(t.reason_codes().size(), 1u);
    }
    EXPECT_EQ((std::vector<int>{sent[0].mid(), sent[1].mid(), sent[2].mid()}), (std::vector<int>{2, 3, 4}));
    ASSERT_TRUE(eventually([&] {
      return j.has("message " + p + "0 m0 q0") && j.has("message " + p + "1 m1 q1") &&
             j.has("message " + p + "2 m2 q2");
    }));
    auto u = c.unsubscribe(p + "#");
    ASSERT_TRUE(u.wait(5s));
    EXPECT_FALSE(u.error());
    EXPECT_EQ(u.mid(), 5);
    auto d = c.disconnect();
    ASSERT_TRUE(d.wait(5s));
    EXPECT_FALSE(d.error()) << d.error().message();
    EXPECT_FALSE(c.connected());
    ASSERT_TRUE(eventually([&] { return j.has("disconnect ok"); }));
    c.loop_stop();
    for (int i = 2; i <= 4; ++i) EXPECT_EQ(j.count("publish " + std::to_string(i) + " ok"), 1u) << i;
    EXPECT_EQ(j.count("unsubscribe 5 ok"), 1u);
    EXPECT_EQ(j.lines().front(), "connect ok");
    EXPECT_EQ(j.lines().back(), "disconnect ok");
    EXPECT_GT(logs.load(), 0);  // "connecting to ...", "connected to ..."
  }
}

// ---------------------------------------------------------------- loop_forever

TEST_P(ClientTest, LoopForeverRunsCallbacksInTheCallingThreadUntilDisconnect) {
  Client c;
  EXPECT_EQ(c.loop_forever(), client_error::not_connected);  // nothing to run yet
  const auto me = std::this_thread::get_id();
  std::atomic<bool> other_thread{false};
  int received = 0;
  c.on_connect([&](error_code ec, const connack_packet&) {
    if (std::this_thread::get_id() != me) other_thread = true;
    ASSERT_FALSE(ec);
    c.subscribe("lf/#", qos::at_least_once);
  });
  c.on_subscribe([&](int, error_code, const std::vector<reason>&) {
    for (int i = 0; i < 5; ++i) c.publish("lf/" + std::to_string(i), "x", qos::at_least_once);
  });
  c.on_message([&](const publish_packet&) {
    if (std::this_thread::get_id() != me) other_thread = true;
    if (++received == 5) c.disconnect();
  });
  auto t = c.connect_async(uri(), {.client_id = "forever"});
  EXPECT_FALSE(t.is_complete());  // no loop runs yet
  const auto start = clock::now();
  EXPECT_FALSE(c.loop_forever());
  EXPECT_LT(clock::now() - start, 5s);
  EXPECT_TRUE(t.is_complete());
  ASSERT_TRUE(t.connack());
  EXPECT_EQ(t.connack()->reason_code, reason::success);
  EXPECT_EQ(received, 5);
  EXPECT_FALSE(other_thread.load());
  EXPECT_FALSE(c.connected());
}

TEST_P(ClientTest, LoopStopEndsLoopForeverFromAnotherThread) {
  Client c;
  ASSERT_FALSE(c.connect(uri(), {.client_id = "stopper"}));
  std::atomic<bool> returned{false};
  std::thread stopper([&] {
    // loop_stop() ends a loop_forever() that runs: ask until it has returned
    // (a first ask may come before loop_forever() started).
    for (int i = 0; i < 200 && !returned.load(); ++i) {
      std::this_thread::sleep_for(25ms);
      c.loop_stop();
    }
  });
  const auto start = clock::now();
  EXPECT_FALSE(c.loop_forever());
  returned = true;
  EXPECT_LT(clock::now() - start, 2s);
  stopper.join();
  EXPECT_TRUE(c.connected());
  EXPECT_TRUE(c.disconnect().wait(5s));
}

// ---------------------------------------------------------------- no loop at all

TEST_P(ClientTest, BlockingCallsDriveTheClientWhenNoLoopRuns) {
  Client c;
  ASSERT_FALSE(c.connect(uri(), {.version = v5, .client_id = "sync"}));
  auto s = c.subscribe({{"sync/#", {.max_qos = qos::exactly_once}}, {"other/#", {.max_qos = qos::at_most_once}}});
  ASSERT_TRUE(s.wait(5s));
  EXPECT_EQ(s.reason_codes(), (std::vector<reason>{reason::granted_qos_2, reason::granted_qos_0}));
  auto p = c.publish(publish_packet("sync/a", shared_bytes::copy("hello"), qos::exactly_once, false,
                                    properties::builder{}.user_property("k", "v").build()));
  ASSERT_TRUE(p.wait(5s));
  EXPECT_FALSE(p.error());
  auto m = c.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic(), "sync/a");
  EXPECT_EQ(text(*m), "hello");
  EXPECT_EQ(m->qos, qos::exactly_once);
  EXPECT_EQ(m->props().user_properties().size(), 1u);
  // loop(): the caller runs the network in slices between its own work.
  int seen = 0;
  c.on_message([&](const publish_packet&) { ++seen; });
  c.message_callback_add("other/#", [&](const publish_packet&) { seen += 100; });
  c.message_callback_remove("other/#");
  c.publish("sync/b", "1", qos::at_least_once);
  c.publish("other/b", "2", qos::at_least_once);
  for (int i = 0; i < 100 && seen < 2; ++i) c.loop(20ms);
  EXPECT_EQ(seen, 2);  // both to on_message: the filter callback was removed
  c.disconnect().wait();
  EXPECT_FALSE(c.connected());
}

TEST_P(ClientTest, PingIsAnsweredAndFailsWhenNotConnected) {
  Client c;
  auto early = c.ping();
  ASSERT_TRUE(early.wait(5s));
  EXPECT_EQ(early.error(), client_error::not_connected);
  ASSERT_FALSE(c.connect(uri(), {.client_id = "pinger"}));
  c.loop_start();
  for (int i = 0; i < 3; ++i) {
    auto t = c.ping();
    ASSERT_TRUE(t.wait(5s));
    EXPECT_FALSE(t.error()) << t.error().message();
  }
  c.disconnect().wait();
  c.loop_stop();
}

TEST_P(ClientTest, ReceiveTimesOutAndAFullQueueLosesNothing) {
  client_options o;
  o.receive_queue = 3;
  Client c(o);
  ASSERT_FALSE(c.connect(uri(), {.client_id = "rx"}));
  ASSERT_TRUE(c.subscribe("rx/#", qos::at_least_once).wait(5s));
  // Nothing arrives: nullopt after the timeout, not before, not much later.
  auto start = clock::now();
  EXPECT_FALSE(c.receive(150ms));
  auto took = clock::now() - start;
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_FALSE(c.receive(0ms));
  // With a loop thread.
  c.loop_start();
  start = clock::now();
  EXPECT_FALSE(c.receive(100ms));
  took = clock::now() - start;
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 1500ms);
  std::thread later([&] {
    std::this_thread::sleep_for(50ms);
    c.publish("rx/late", "1", qos::at_least_once);
  });
  auto m = c.receive(5s);
  later.join();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(*m), "1");
  // 200 arrive, the queue holds three: the client stops reading until
  // receive() makes room, and nothing is lost (it dropped the oldest before).
  Client pub;
  ASSERT_FALSE(pub.connect(uri(), {.client_id = "rx-pub"}));
  pub.loop_start();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(pub.publish("rx/q", std::to_string(i), qos::at_least_once).wait(5s));
  std::this_thread::sleep_for(300ms);  // the broker's deliveries follow its PUBACKs
  std::vector<std::string> got, want;
  while (auto r = c.receive(500ms)) got.push_back(text(*r));
  for (int i = 0; i < 200; ++i) want.push_back(std::to_string(i));
  EXPECT_EQ(got, want);
  pub.disconnect().wait();
  pub.loop_stop();
  c.disconnect().wait();
  c.loop_stop();
}

// ---------------------------------------------------------------- reentrancy

TEST_P(ClientTest, CallbacksCallTheClientWithoutDeadlock) {
  Client c;
  journal j;
  std::atomic<bool> done{false};
  c.on_message([&](const publish_packet& m) {
    j.add("message " + std::string(m.topic()));
    if (m.topic() == "re/start") {
      // Subscribe and publish from inside the callback; waiting here must not block.
      auto s = c.subscribe("re2/#", qos::at_least_once);
      EXPECT_FALSE(s.wait(1s));  // the SUBACK cannot arrive while this callback runs
      EXPECT_FALSE(s.is_complete());
      EXPECT_EQ(c.connect(uri()), boost::system::errc::resource_deadlock_would_occur);
      EXPECT_EQ(c.reconnect(), boost::system::errc::resource_deadlock_would_occur);
      EXPECT_EQ(c.loop_forever(), boost::system::errc::resource_deadlock_would_occur);
      EXPECT_FALSE(c.receive(1s));
      c.on_subscribe([&](int, error_code ec, const std::vector<reason>&) {
        j.add("subscribed");
        EXPECT_FALSE(ec);
        // A timer added from a callback set inside a callback; the chain goes on from it, so the
        // test cannot finish before it fires.
        c.new_event(10ms, [&] {
          j.add("tick");
          c.publish("re2/echo", "e", qos::exactly_once);
          return false;
        });
      });
    }
    if (m.topic() == "re2/echo") {
      c.unsubscribe("re2/#");
      c.message_callback_add("re/cb", [&](const publish_packet&) {
        j.add("filter callback");
        c.disconnect();
      });
      c.publish("re/cb", "x", qos::at_least_once);
    }
  });
  c.on_disconnect([&](error_code) { done = true; });
  ASSERT_TRUE(c.loop_start());
  ASSERT_FALSE(c.connect(uri(), {.client_id = "reentrant"}));
  ASSERT_TRUE(c.subscribe("re/#", qos::at_least_once).wait(5s));
  const auto start = clock::now();
  c.publish("re/start", "go", qos::at_least_once);
  ASSERT_TRUE(eventually([&] { return done.load(); })) << ::testing::PrintToString(j.lines());
  EXPECT_LT(clock::now() - start, 5s);
  c.loop_stop();
  EXPECT_TRUE(j.has("message re/start"));
  EXPECT_TRUE(j.has("subscribed"));
  EXPECT_TRUE(j.has("message re2/echo"));
  EXPECT_TRUE(j.has("filter callback"));
  EXPECT_FALSE(j.has("message re/cb"));  // the filter callback took it
  EXPECT_TRUE(j.has("tick"));
}

TEST_P(ClientTest, LoopStopFromACallbackAndAThrowingCallback) {
  Client c;
  std::atomic<int> errors{0};
  std::atomic<bool> stopped{false};
  c.on_log([&](log::level l, std::string_view msg) {
    if (l == log::level::error && msg.find("boom") != std::string_view::npos) ++errors;
  });
  c.on_message([&](const publish_packet& m) {
    if (text(m) == "throw") throw std::runtime_error("boom");
    c.loop_stop();  // only asks: this callback runs on the loop thread
    stopped = true;
  });
  ASSERT_TRUE(c.loop_start());
  ASSERT_FALSE(c.connect(uri(), {.client_id = "stopself"}));
  ASSERT_TRUE(c.subscribe("ss", qos::at_least_once).wait(5s));
  c.publish("ss", "throw", qos::at_least_once);
  ASSERT_TRUE(eventually([&] { return errors.load() == 1; }));
  c.publish("ss", "stop", qos::at_least_once);
  ASSERT_TRUE(eventually([&] { return stopped.load(); }));
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(c.loop_start());  // the old thread ended; a new one starts
  EXPECT_TRUE(c.disconnect().wait(5s));
  c.loop_stop();
}

// ---------------------------------------------------------------- many threads

TEST_P(ClientTest, HundredThreadsPublishAtOnceAndEveryMessageArrives) {
  constexpr int threads = 100, each = 10;
  Client sub, pub;
  std::mutex m;
  std::set<std::string> got;
  std::atomic<int> duplicates{0};
  sub.on_message([&](const publish_packet& msg) {
    std::lock_guard lk(m);
    if (!got.insert(text(msg)).second) ++duplicates;
  });
  ASSERT_TRUE(sub.loop_start());
  ASSERT_TRUE(pub.loop_start());
  ASSERT_FALSE(sub.connect(uri(), {.client_id = "many-sub"}));
  ASSERT_TRUE(sub.subscribe("many/#", qos::at_least_once).wait(5s));
  ASSERT_FALSE(pub.connect(uri(), {.client_id = "many-pub"}));
  std::atomic<int> failed{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  std::mutex mids_m;
  std::set<int> mids;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      ++ready;
      while (ready.load() < threads) std::this_thread::yield();  // all start together
      std::vector<token> mine;
      for (int i = 0; i < each; ++i)
        mine.push_back(pub.publish("many/" + std::to_string(t), std::to_string(t) + "." + std::to_string(i),
                                   qos::at_least_once));
      for (auto& k : mine) {
        if (!k.wait(20s) || k.error()) ++failed;
        std::lock_guard lk(mids_m);
        mids.insert(k.mid());
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(mids.size(), std::size_t{threads * each});  // every mid distinct
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lk(m);
        return got.size() == std::size_t{threads * each};
      },
      20s));
  EXPECT_EQ(duplicates.load(), 0);
  pub.disconnect().wait();
  sub.disconnect().wait();
}

// Publishes from a thread that is not the loop's go to the loop in batches
// (one wake-up per burst, one write per batch, no handler per message):
// every one of a long burst still arrives, in order, and every token completes.
void burst(Client& sub, Client& pub, const std::string& topic, qos q, int n) {
  std::mutex m;
  std::vector<int> got;
  sub.on_message([&](const publish_packet& msg) {
    std::lock_guard lk(m);
    got.push_back(std::stoi(text(msg)));
  });
  ASSERT_TRUE(sub.subscribe(topic, qos::at_least_once).wait(5s));
  std::mutex pm;
  std::vector<int> published;  // on_publish's mids
  pub.on_publish([&](int mid, error_code ec, reason) {
    std::lock_guard lk(pm);
    if (!ec) published.push_back(mid);
  });
  std::vector<token> tokens;
  tokens.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) tokens.push_back(pub.publish(topic, std::to_string(i), q));
  int failed = 0;
  for (auto& t : tokens)
    if (!t.wait(30s) || t.error()) ++failed;
  EXPECT_EQ(failed, 0);
  EXPECT_TRUE(tokens.back().is_published());
  (void)eventually(
      [&] {
        std::lock_guard lk(m);
        return got.size() >= static_cast<std::size_t>(n);
      },
      30s);
  {
    std::lock_guard lk(m);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(n)) << "first " << (got.empty() ? -1 : got.front()) << " last "
                                                       << (got.empty() ? -1 : got.back());
    for (int i = 0; i < n; ++i)
      if (got[static_cast<std::size_t>(i)] != i) {
        ADD_FAILURE() << "message " << i << " arrived as " << got[static_cast<std::size_t>(i)];
        break;
      }
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(pm);
    return published.size() == static_cast<std::size_t>(n);
  }));
  std::lock_guard lk(pm);
  std::set<int> mids(published.begin(), published.end());
  EXPECT_EQ(mids.size(), static_cast<std::size_t>(n));  // each once
  for (auto& t : tokens) mids.erase(t.mid());
  EXPECT_TRUE(mids.empty());  // and those are the tokens' mids
}

// The subscriber's receive queue holds the whole burst: tern::Client hands
// messages to on_message() through it, and past its bound it drops the oldest.
client_options roomy() {
  client_options o;
  o.receive_queue = 200'000;
  return o;
}

TEST_P(ClientTest, AHundredThousandQos0PublishesFromAnotherThreadArriveInOrder) {
  Client sub(roomy()), pub;
  ASSERT_TRUE(sub.loop_start());
  ASSERT_TRUE(pub.loop_start());
  ASSERT_FALSE(sub.connect(uri(), {.client_id = "burst0-sub"}));
  ASSERT_FALSE(pub.connect(uri(), {.client_id = "burst0-pub"}));
  burst(sub, pub, "burst/0", qos::at_most_once, 100'000);
  pub.disconnect().wait();
  sub.disconnect().wait();
}

TEST_P(ClientTest, TwentyThousandQos1PublishesFromAnotherThreadAllComplete) {
  Client sub(roomy());
  client_options o;
  o.max_inflight = 100;  // most of them wait in the offline queue for the window
  o.offline_queue.max_messages = 100'000;
  Client pub(o);
  ASSERT_TRUE(sub.loop_start());
  ASSERT_TRUE(pub.loop_start());
  ASSERT_FALSE(sub.connect(uri(), {.client_id = "burst1-sub"}));
  ASSERT_FALSE(pub.connect(uri(), {.client_id = "burst1-pub"}));
  burst(sub, pub, "burst/1", qos::at_least_once, 20'000);
  pub.disconnect().wait();
  sub.disconnect().wait();
}

// ---------------------------------------------------------------- timers

TEST_P(ClientTest, TimersRepeatUntilTheHandlerSaysStopOrAreRemoved) {
  Client c;
  std::atomic<int> a{0}, b{0}, published{0};
  const auto start = clock::now();
  std::atomic<clock::duration::rep> fifth{0};
  c.on_publish([&](int, error_code ec, reason) {
    if (!ec) ++published;
  });
  ASSERT_FALSE(c.connect(uri(), {.client_id = "timers"}));
  const auto ida = c.new_event(20ms, [&] {
    if (++a == 5) {
      fifth = (clock::now() - start).count();
      return false;
    }
    c.publish("tick", std::to_string(a.load()));  // a timer may call the client
    return true;
  });
  const auto idb = c.new_event(10ms, [&] {
    ++b;
    return true;
  });
  EXPECT_NE(ida, idb);
  ASSERT_TRUE(c.loop_start());
  ASSERT_TRUE(eventually([&] { return a.load() == 5 && b.load() >= 5; }));
  EXPECT_TRUE(c.remove_event(idb));
  const int b_then = b.load();
  EXPECT_FALSE(c.remove_event(idb));
  EXPECT_FALSE(c.remove_event(ida));  // it stopped itself
  std::this_thread::sleep_for(80ms);
  EXPECT_EQ(a.load(), 5);
  EXPECT_LE(b.load(), b_then + 1);  // at most one that was already running
  EXPECT_GE(std::chrono::nanoseconds(fifth.load()), 100ms);  // 5 x 20 ms, fixed rate
  EXPECT_TRUE(eventually([&] { return published.load() == 4; }));
  c.disconnect().wait();
  c.loop_stop();
}

// Durations at the ends of milliseconds' range: no clock overflows (UBSan
// aborted on loop(), new_event() and their Python callers before).
TEST(Client, DurationsAtTheEndsOfTheRangeAreSafe) {
  Client c;
  std::atomic<int> calls{0};
  const auto t0 = clock::now();
  c.loop(std::chrono::milliseconds::min());  // returns at once
  EXPECT_FALSE(c.receive(std::chrono::milliseconds::min()));
  const auto never = c.new_event(std::chrono::milliseconds::max(), [&] {
    ++calls;
    return true;
  });
  c.loop(30ms);
  EXPECT_EQ(calls.load(), 0);
  EXPECT_TRUE(c.remove_event(never));
  EXPECT_FALSE(c.publish("t", "x").wait(std::chrono::milliseconds::min()));  // queued: not connected
  EXPECT_LT(clock::now() - t0, 5s);
}

// ---------------------------------------------------------------- failures, reconnect, shutdown

TEST_P(ClientTest, ConnectFailureReachesOnConnectAndLoopForever) {
  Client c;
  std::optional<error_code> seen;
  c.on_connect([&](error_code ec, const connack_packet&) { seen = ec; });
  const auto dead = "mqtt://127.0.0.1:" + std::to_string(testing::free_port());
  EXPECT_EQ(c.connect(dead, {.client_id = "nobody"}), boost::asio::error::connection_refused);
  ASSERT_TRUE(seen);
  EXPECT_EQ(*seen, boost::asio::error::connection_refused);
  EXPECT_EQ(c.loop_forever(), boost::asio::error::connection_refused);  // ended: returns at once
  // 3.1.1 refused by the broker: the CONNACK's return code.
  EXPECT_EQ(c.connect(uri(), {.version = v311, .client_id = "", .clean_start = false}),
            connect_return_code::identifier_rejected);
  EXPECT_FALSE(c.connected());
  auto p = c.publish("t", "x");
  ASSERT_TRUE(p.wait(5s));
  EXPECT_EQ(p.error(), client_error::not_connected);
  EXPECT_EQ(Client().reconnect(), client_error::not_connected);
}

TEST_P(ClientTest, ReconnectAndTheBrokerGoingAway) {
  journal j;
  auto o = fast_options();
  o.reconnect.enabled = false;
  Client c(o);
  c.on_connect([&](error_code ec, const connack_packet&) { j.add(ec ? "connect failed" : "connect"); });
  c.on_disconnect([&](error_code ec) { j.add(ec ? "lost" : "disconnect"); });
  ASSERT_FALSE(c.connect(uri(), {.version = v5, .client_id = "again"}));
  ASSERT_FALSE(c.reconnect());
  EXPECT_TRUE(c.connected());
  EXPECT_EQ(j.lines(), (std::vector<std::string>{"connect", "disconnect", "connect"}));
  // The broker goes: with reconnect disabled, loop_forever() returns why.
  error_code why;
  std::thread looper([&] { why = c.loop_forever(); });
  std::this_thread::sleep_for(50ms);
  stop_broker();  // from the thread that started it
  looper.join();
  EXPECT_TRUE(why);
  if (GetParam() == broker_kind::tern) {
    EXPECT_EQ(why, reason::server_shutting_down) << why.message();
  }
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(j.lines().back(), "lost");
}

TEST_P(ClientTest, DestroyingTheClientCompletesPendingTokensWithoutCallbacks) {
  token pending, subscribed;
  std::atomic<int> callbacks{0};
  {
    Client c;
    ASSERT_FALSE(c.connect(uri(), {.client_id = "short-lived"}));
    c.on_publish([&](int, error_code, reason) { ++callbacks; });
    c.on_subscribe([&](int, error_code, const std::vector<reason>&) { ++callbacks; });
    // No loop runs: these wait in the client until it goes.
    pending = c.publish("gone", "x", qos::at_least_once);
    subscribed = c.subscribe("gone/#");
  }
  ASSERT_TRUE(pending.wait(1s));
  ASSERT_TRUE(subscribed.wait(1s));
  EXPECT_EQ(pending.error(), boost::asio::error::operation_aborted);
  EXPECT_EQ(subscribed.error(), boost::asio::error::operation_aborted);
  EXPECT_EQ(callbacks.load(), 0);
  {
    Client c;  // with a loop thread running: the destructor stops it
    ASSERT_TRUE(c.loop_start());
    ASSERT_FALSE(c.connect(uri(), {.client_id = "short-lived-2"}));
    pending = c.publish("gone", "y", qos::at_least_once);
  }
  ASSERT_TRUE(pending.wait(1s));
  if (pending.error()) {
    EXPECT_EQ(pending.error(), boost::asio::error::operation_aborted);
  }
  EXPECT_TRUE(token().is_complete());
  EXPECT_TRUE(token().wait(0ms));
}

}  // namespace
}  // namespace tern
