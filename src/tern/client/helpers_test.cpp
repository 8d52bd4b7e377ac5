// The one-call helpers against an in-process tern::Broker and mosquitto:
// publish_one/publish_many to a receive() or for_each_message() running in
// another thread, retained messages, timeouts, refusals.
#include "tern/client/helpers.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include <boost/asio/error.hpp>

#include "support/mosquitto.hpp"
#include "tern/server/broker.hpp"

namespace tern {
namespace {

using namespace std::chrono_literals;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

std::string text(const publish_packet& m) { return std::string(m.payload().view()); }

class HelpersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::config c;
    c.listeners = {server::listener_config{}};
    c.listeners[0].address = "127.0.0.1";
    c.listeners[0].port = 0;
    c.io_threads = 1;
    c.sys_interval = 0;
    c.storage.backend = server::storage_backend::memory;
    broker_ = std::make_unique<Broker>(std::move(c));
    broker_->start();
    uri_ = "mqtt://127.0.0.1:" + std::to_string(broker_->ports().at(0));
  }
  // Waits (bounded) until the broker holds `n` subscriptions: a receiver in
  // another thread is subscribed.
  bool subscribed(std::uint64_t n) const {
    const auto deadline = clock::now() + 5s;
    while (broker_->stats().subscriptions.load() < n) {
      if (clock::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  std::unique_ptr<Broker> broker_;
  std::string uri_;
};

TEST_F(HelpersTest, PublishOneAndPublishManyReachReceive) {
  // Retained before the receiver subscribes: it arrives with the retain flag.
  ASSERT_FALSE(publish_one(uri_, "h/one", "1", {.qos = qos::at_least_once, .retain = true}));
  auto rx = std::async(std::launch::async, [&] { return receive(uri_, {"h/#"}, 4, 5s, {.qos = qos::exactly_once}); });
  ASSERT_TRUE(subscribed(1));
  std::vector<publish_packet> batch;
  batch.emplace_back("h/two", shared_bytes::copy("2"), qos::exactly_once);
  batch.emplace_back("h/three", shared_bytes::copy("3"), qos::at_most_once);
  batch.emplace_back("h/four", shared_bytes::copy("4"), qos::at_least_once);
  ASSERT_FALSE(publish_many(uri_, std::move(batch), {.connect = {.version = protocol_version::v3_1_1}}));
  auto got = rx.get();
  EXPECT_FALSE(got.error) << got.error.message();
  ASSERT_EQ(got.messages.size(), 4u);
  std::vector<std::string> texts;
  for (auto& m : got.messages) texts.push_back(text(m));
  EXPECT_EQ(texts, (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_TRUE(got.messages[0].retain);
  // Retained messages can be left out.
  auto fresh = receive(uri_, {"h/one"}, 1, 300ms, {.retained = false});
  EXPECT_EQ(fresh.error, boost::asio::error::timed_out);
  EXPECT_TRUE(fresh.messages.empty());
  ASSERT_FALSE(publish_one(uri_, "h/one", "", {.retain = true}));  // clears it
}

TEST_F(HelpersTest, ReceiveTimesOutWithWhatArrived) {
  auto rx = std::async(std::launch::async, [&] { return receive(uri_, {"few/#"}, 3, 1500ms); });
  ASSERT_TRUE(subscribed(1));
  ASSERT_FALSE(publish_one(uri_, "few/1", "only one", {.qos = qos::at_least_once}));
  const auto start = clock::now();
  auto got = rx.get();
  EXPECT_LT(clock::now() - start, 3s);
  EXPECT_EQ(got.error, std::errc::timed_out);
  ASSERT_EQ(got.messages.size(), 1u);
  EXPECT_EQ(text(got.messages[0]), "only one");
}

TEST_F(HelpersTest, ATimeoutOfMillisecondsMaxWaitsForEver) {
  // "No timeout" as milliseconds::max(): a deadline at the clock's end (the
  // helpers' now + timeout overflowed: UBSan).
  auto rx = std::async(std::launch::async,
                       [&] { return receive(uri_, {"ever/#"}, 1, std::chrono::milliseconds::max()); });
  ASSERT_TRUE(subscribed(1));
  ASSERT_FALSE(publish_one(uri_, "ever/1", "late", {.qos = qos::at_least_once,
                                                    .timeout = std::chrono::milliseconds::max()}));
  auto got = rx.get();
  EXPECT_FALSE(got.error) << got.error.message();
  ASSERT_EQ(got.messages.size(), 1u);
}

TEST_F(HelpersTest, ForEachMessageRunsUntilTheCallbackSaysStop) {
  std::vector<std::string> seen;
  std::atomic<bool> stop_publishing{false};
  std::thread publisher([&] {
    for (int i = 0; !stop_publishing && i < 200; ++i) {
      (void)publish_one(uri_, "each/" + std::to_string(i), std::to_string(i), {.qos = qos::at_least_once});
      std::this_thread::sleep_for(10ms);
    }
  });
  const auto ec = for_each_message(uri_, {"each/#", "other"}, [&](const publish_packet& m) {
    seen.push_back(text(m));
    return seen.size() < 3;
  });
  stop_publishing = true;
  publisher.join();
  EXPECT_FALSE(ec) << ec.message();
  ASSERT_EQ(seen.size(), 3u);  // not one more after it said stop
  EXPECT_EQ(std::stoi(seen[1]), std::stoi(seen[0]) + 1);
}

TEST_F(HelpersTest, FailuresAreValues) {
  const auto dead = "mqtt://127.0.0.1:" + std::to_string(testing::free_port());
  EXPECT_EQ(publish_one(dead, "t", "x"), boost::asio::error::connection_refused);
  EXPECT_EQ(receive(dead, {"t"}, 1, 1s).error, boost::asio::error::connection_refused);
  EXPECT_EQ(for_each_message(dead, {"t"}, [](const publish_packet&) { return false; }),
            boost::asio::error::connection_refused);
  EXPECT_EQ(publish_one(uri_, "bad/+", "x"), reason::topic_name_invalid);
  EXPECT_EQ(receive(uri_, {"bad/#/x"}, 1, 1s).error, reason::topic_filter_invalid);
  EXPECT_EQ(publish_one("http://127.0.0.1", "t", "x"), client_error::unsupported_scheme);
  EXPECT_EQ(publish_one("127.0.0.1:1883", "t", "x"), client_error::invalid_uri);
  // A refusing broker: 3.1.1 without a client id and without clean session.
  EXPECT_EQ(publish_one(uri_, "t", "x", {.connect = {.version = protocol_version::v3_1_1, .clean_start = false}}),
            connect_return_code::identifier_rejected);
}

TEST(HelpersMosquitto, PublishOneToReceiveThroughMosquitto) {
  testing::mosquitto broker;
  ASSERT_TRUE(broker.start());
  auto rx = std::async(std::launch::async, [&] { return receive(broker.uri(), {"m/#"}, 1, 5s); });
  std::this_thread::sleep_for(300ms);
  for (int i = 0; i < 20 && rx.wait_for(0ms) != std::future_status::ready; ++i) {
    ASSERT_FALSE(publish_one(broker.uri(), "m/x", "via mosquitto", {.qos = qos::exactly_once}));
    rx.wait_for(100ms);
  }
  auto got = rx.get();
  ASSERT_FALSE(got.error) << got.error.message();
  EXPECT_EQ(text(got.messages.at(0)), "via mosquitto");
}

}  // namespace
}  // namespace tern
