// tests/support/threaded_client.hpp: an AsyncClient on an io
// thread of its own, so that a test thread can play the broker (blocking
// sockets) or another process's part while the client runs.
//
//   tern::testing::threaded_client t(options);
//   auto ec = t.connect(uri, {.client_id = "c1"});        // waits for the CONNACK
//   auto done = t.publish(msg);                           // a future of (ec, reason)
//   t.run([](tern::AsyncClient& c) { c.on_message(...); });   // on the io thread, waited for
//   t.destroy();                                          // the object goes, on its thread (no DISCONNECT)
//   t.make(options);                                      // a new one, e.g. on the same store
#pragma once

#include <chrono>
#include <future>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "tern/client/async_client.hpp"

namespace tern::testing {

class threaded_client {
 public:
  using error_code = boost::system::error_code;

  explicit threaded_client(client_options o = {}) : work_(io_.get_executor()) {
    c_.emplace(io_.get_executor(), std::move(o));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~threaded_client() {
    destroy();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  threaded_client(const threaded_client&) = delete;
  threaded_client& operator=(const threaded_client&) = delete;

  // Runs `f(client)` on the io thread and waits for it.
  template <class F>
  void run(F f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f(*c_);
      done.set_value();
    });
    done.get_future().wait();
  }

  // Destroys the client on its thread (like the end of a process, but the
  // store is closed: the destructor closes the socket, no DISCONNECT).
  void destroy() {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      c_.reset();
      done.set_value();
    });
    done.get_future().wait();
  }
  void make(client_options o) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      c_.emplace(io_.get_executor(), std::move(o));
      done.set_value();
    });
    done.get_future().wait();
  }

  // async_connect, waited for (up to 10 s: then timed_out).
  error_code connect(std::string uri, connect_options co) {
    auto p = std::make_shared<std::promise<error_code>>();
    auto f = p->get_future();
    run([&](AsyncClient& c) {
      c.async_connect(std::move(uri), std::move(co), [p](error_code ec, const connack_packet&) { p->set_value(ec); });
    });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      return make_error_code(boost::system::errc::timed_out);
    return f.get();
  }
  std::future<std::pair<error_code, reason>> publish(publish_packet m) {
    auto p = std::make_shared<std::promise<std::pair<error_code, reason>>>();
    auto f = p->get_future();
    run([&](AsyncClient& c) {
      c.async_publish(std::move(m), [p](error_code ec, reason r) { p->set_value({ec, r}); });
    });
    return f;
  }
  error_code subscribe(std::vector<subscription> subs) {
    auto p = std::make_shared<std::promise<error_code>>();
    auto f = p->get_future();
    run([&](AsyncClient& c) {
      c.async_subscribe(std::move(subs), [p](error_code ec, std::vector<reason>) { p->set_value(ec); });
    });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      return make_error_code(boost::system::errc::timed_out);
    return f.get();
  }
  error_code persist() {
    auto p = std::make_shared<std::promise<error_code>>();
    auto f = p->get_future();
    run([&](AsyncClient& c) { c.async_persist([p](error_code ec) { p->set_value(ec); }); });
    return f.get();
  }
  error_code disconnect() {
    auto p = std::make_shared<std::promise<error_code>>();
    auto f = p->get_future();
    run([&](AsyncClient& c) {
      c.async_disconnect(reason::normal_disconnection, [p](error_code ec) { p->set_value(ec); });
    });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      return make_error_code(boost::system::errc::timed_out);
    return f.get();
  }

  boost::asio::io_context& io() { return io_; }
  AsyncClient& client() { return *c_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::optional<AsyncClient> c_;
  std::thread thread_;
};

}  // namespace tern::testing
