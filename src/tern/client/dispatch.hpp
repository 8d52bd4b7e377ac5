// tern/client/dispatch.hpp (internal to the client): where a received
// message goes. Every on_message()/on_delivery() handler whose filter
// matches its topic (all of them, in one posted call), else the oldest
// waiting async_receive(), else the receive queue. Past the queue's bound
// nothing is dropped: full() tells the client to stop reading from the
// broker until async_receive() makes room (a bound of 0: messages nobody
// takes are dropped and counted).
// With a delivery number, the message counts as taken (`delivered`) once
// its handlers returned, or once the completion handler of the receive that
// took it returned.
//
//   client_detail::dispatch d(ex, options.receive_queue);
//   d.bind(owner, [&](std::uint64_t n) { session.delivered(n); });
//   d.set_handler("sensors/#", std::make_shared<const AsyncClient::message_handler>(h), nullptr);
//   d.route(message, delivery{});                // from the session's message() event
//   d.receive(timeout, std::move(handler), idle);
//
// Thread safety: none; the client's executor only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "tern/client/async_client.hpp"

namespace tern::client_detail {

class dispatch {
 public:
  using receive_handler = boost::asio::any_completion_handler<AsyncClient::receive_signature>;

  dispatch(boost::asio::any_io_executor ex, std::size_t receive_queue) : ex_(std::move(ex)), limit_(receive_queue) {}

  // What keeps the dispatch alive in posted calls, and who is told that the
  // application took a numbered message.
  void bind(std::weak_ptr<void> owner, std::function<void(std::uint64_t)> delivered) {
    owner_ = std::move(owner);
    delivered_ = std::move(delivered);
  }

  // Sets (or, both empty, removes) the handler of `filter` (wildcards; a
  // "$share/group/" prefix is ignored for matching).
  void set_handler(std::string filter, std::shared_ptr<const AsyncClient::message_handler> h,
                   std::shared_ptr<const AsyncClient::delivery_handler> hd);
  // Hands `m` over (see above).
  void route(publish_packet m, delivery d);
  // An async_receive(): a queued message at once; else not_connected when
  // `idle`; else it waits (at most `timeout` when > 0: timed_out).
  void receive(std::chrono::steady_clock::duration timeout, receive_handler h, bool idle);
  // Completes every waiting receive with `ec` (the client stopped).
  void fail_waiting(boost::system::error_code ec);
  // The client object goes: no handler runs from now on.
  void shutdown() {
    handlers_.clear();
    closed_ = true;
  }
  std::uint64_t dropped() const noexcept { return dropped_; }
  // The receive queue holds its bound or more: stop reading.
  bool full() const noexcept { return limit_ != 0 && queue_.size() >= limit_; }

 private:
  struct filter_handler {
    std::string filter;
    std::string match;
    std::shared_ptr<const AsyncClient::message_handler> h;  // one of these two
    std::shared_ptr<const AsyncClient::delivery_handler> hd;
  };
  struct receive_op {
    std::uint64_t id = 0;
    receive_handler h;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  struct received_message {  // waiting for async_receive()
    publish_packet m;
    delivery d;
  };

  void finish_receive(std::uint64_t id, boost::system::error_code ec);
  void complete_receive(receive_handler& h, publish_packet m, std::uint64_t number);
  void taken(std::uint64_t number) {
    if (delivered_) delivered_(number);
  }

  boost::asio::any_io_executor ex_;
  std::size_t limit_;
  std::weak_ptr<void> owner_;
  std::function<void(std::uint64_t)> delivered_;
  bool closed_ = false;
  std::vector<filter_handler> handlers_;
  std::list<receive_op> waiting_;  // a list: erased from the middle (see completion.hpp's assign())
  std::uint64_t next_id_ = 1;
  std::deque<received_message> queue_;
  std::uint64_t dropped_ = 0;
};

}  // namespace tern::client_detail
