// dispatch tests: where a received message goes (handlers, a waiting
// receive, the bounded queue) and when a numbered message counts as taken,
// on an io_context with no socket and no timer waited for.
#include "tern/client/dispatch.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tern::client_detail {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

publish_packet message(std::string topic) { return publish_packet(topic, shared_bytes::copy("m"), qos::at_least_once); }

class Dispatch : public ::testing::Test {
 protected:
  explicit Dispatch(std::size_t limit = 2) : d(std::make_shared<dispatch>(io.get_executor(), limit)) {
    d->bind(d, [this](std::uint64_t n) { taken.push_back(n); });
  }
  // Runs what was posted.
  void run() {
    io.restart();
    io.run();
  }
  // An async_receive() whose outcome lands in `got`.
  void receive(bool idle = false) {
    d->receive({}, [this](error_code ec, publish_packet m) { got.push_back(ec ? ec.message() : std::string(m.topic())); },
               idle);
  }

  asio::io_context io;
  std::shared_ptr<dispatch> d;
  std::vector<std::uint64_t> taken;
  std::vector<std::string> got;
};

TEST_F(Dispatch, EveryMatchingHandlerGetsTheMessageThenItIsTaken) {
  std::vector<std::string> seen;
  d->set_handler("$share/g/a/#", std::make_shared<const AsyncClient::message_handler>(
                                     [&](const publish_packet& m) { seen.push_back("shared " + std::string(m.topic())); }),
                 nullptr);
  d->set_handler("a/b", nullptr,
                 std::make_shared<const AsyncClient::delivery_handler>([&](const publish_packet&, const delivery& x) {
                   seen.push_back("numbered " + std::to_string(x.number));
                 }));
  d->route(message("a/b"), delivery{5, false});
  EXPECT_TRUE(seen.empty());  // posted, never inline
  EXPECT_TRUE(taken.empty());
  run();
  EXPECT_EQ(seen, (std::vector<std::string>{"shared a/b", "numbered 5"}));
  EXPECT_EQ(taken, std::vector<std::uint64_t>{5});  // after the handlers returned
  d->route(message("x"), delivery{});               // no handler: queued
  receive();
  run();
  EXPECT_EQ(got, std::vector<std::string>{"x"});
}

TEST_F(Dispatch, PastItsBoundTheQueueDropsNothingAndSaysItIsFull) {
  d->route(message("1"), delivery{1, false});
  EXPECT_FALSE(d->full());
  d->route(message("2"), delivery{2, false});
  EXPECT_TRUE(d->full());                     // the client stops reading
  d->route(message("3"), delivery{3, false});  // what the last read brought
  EXPECT_EQ(d->dropped(), 0u);
  EXPECT_TRUE(taken.empty());
  receive();
  receive();
  run();
  EXPECT_FALSE(d->full());
  receive();
  run();
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(taken, (std::vector<std::uint64_t>{1, 2, 3}));  // once each completion handler returned
}

TEST(DispatchNoQueue, WhatNobodyTakesIsDroppedAndCounted) {
  asio::io_context io;
  auto d = std::make_shared<dispatch>(io.get_executor(), 0);
  std::vector<std::uint64_t> taken;
  d->bind(d, [&](std::uint64_t n) { taken.push_back(n); });
  d->route(message("1"), delivery{1, false});
  EXPECT_EQ(d->dropped(), 1u);
  EXPECT_FALSE(d->full());
  EXPECT_EQ(taken, std::vector<std::uint64_t>{1});  // the dropped one is done with
}

TEST_F(Dispatch, AWaitingReceiveTakesTheNextMessageAndACancelledOneTakesNone) {
  asio::cancellation_signal cancel;
  d->receive({},
             asio::bind_cancellation_slot(cancel.slot(), [this](error_code ec, publish_packet) {
               got.push_back(ec == asio::error::operation_aborted ? "aborted" : "other");
             }),
             false);
  cancel.emit(asio::cancellation_type::terminal);
  run();
  receive();
  d->route(message("t"), delivery{});
  run();
  EXPECT_EQ(got, (std::vector<std::string>{"aborted", "t"}));
}

TEST_F(Dispatch, ReceiveWhileIdleFailsAndStoppingFailsTheWaiting) {
  receive(true);
  receive(false);
  d->fail_waiting(error_code(asio::error::operation_aborted));
  run();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[0].find("not connected"), std::string::npos) << got[0];
  EXPECT_EQ(got[1], error_code(asio::error::operation_aborted).message());
}

TEST_F(Dispatch, NothingRunsAfterShutdown) {
  bool ran = false;
  d->set_handler("#", std::make_shared<const AsyncClient::message_handler>([&](const publish_packet&) { ran = true; }),
                 nullptr);
  d->route(message("a"), delivery{7, false});
  d->shutdown();
  run();
  EXPECT_FALSE(ran);
  EXPECT_TRUE(taken.empty());  // stays stored for the next run
}

}  // namespace
}  // namespace tern::client_detail
