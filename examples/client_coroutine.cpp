// examples/client_coroutine.cpp: tern::AsyncClient in a C++20 coroutine
// (asio::use_awaitable). Connects, subscribes, publishes one message per QoS,
// prints what arrives until nothing comes for two seconds, and disconnects.
//
//   client_coroutine [mqtt://127.0.0.1:1883]
#include <iostream>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tern/client/async_client.hpp"

int main(int argc, char** argv) {
  namespace asio = boost::asio;
  const std::string uri = argc > 1 ? argv[1] : "mqtt://127.0.0.1:1883";
  asio::io_context io;
  tern::AsyncClient client(io.get_executor());

  // (A capturing lambda, not a free function: for the latter g++ 12 -O2 warns
  // wrongly about Asio's coroutine frames, -Wmismatched-new-delete.)
  auto run = [&]() -> asio::awaitable<void> {
    tern::connect_options options{.version = tern::protocol_version::v5, .client_id = "tern-example-coroutine"};
    auto ack = co_await client.async_connect(uri, options, asio::use_awaitable);  // throws when refused
    std::cout << "connected, session present: " << ack.session_present << "\n";

    std::vector<tern::subscription> subs{{"tern/example/#", {.max_qos = tern::qos::exactly_once}}};
    auto granted = co_await client.async_subscribe(subs, asio::use_awaitable);
    std::cout << "granted QoS " << static_cast<int>(granted.at(0)) << "\n";

    for (int q = 0; q <= 2; ++q) {
      tern::publish_packet m("tern/example/q" + std::to_string(q), tern::shared_bytes::copy("hello"),
                             static_cast<tern::qos>(q));
      auto rc = co_await client.async_publish(std::move(m), asio::use_awaitable);  // after PUBACK / PUBCOMP
      std::cout << "published QoS " << q << ": " << tern::name(rc) << "\n";
    }

    for (;;) {
      auto [ec, m] = co_await client.async_receive(std::chrono::seconds(2), asio::as_tuple(asio::use_awaitable));
      if (ec) break;  // asio::error::timed_out: nothing more
      std::cout << m.topic() << " (QoS " << static_cast<int>(m.qos) << "): " << m.payload().view() << "\n";
    }
    co_await client.async_disconnect(tern::reason::normal_disconnection, asio::use_awaitable);
  };

  asio::co_spawn(io, run, [](std::exception_ptr e) {
    try {
      if (e) std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::cerr << "error: " << x.what() << "\n";
    }
  });
  io.run();
}
