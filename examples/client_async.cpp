// examples/client_async.cpp: tern::AsyncClient with callbacks. Connects,
// subscribes to tern/example/#, publishes one message per QoS, prints what
// arrives, and disconnects once the three are back (or on Ctrl-C).
//
//   client_async [mqtt://127.0.0.1:1883]
#include <csignal>
#include <iostream>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "tern/client/async_client.hpp"
#include "tern/log/stderr_sink.hpp"

int main(int argc, char** argv) {
  namespace asio = boost::asio;
  using boost::system::error_code;
  const std::string uri = argc > 1 ? argv[1] : "mqtt://127.0.0.1:1883";

  asio::io_context io;
  tern::client_options options;
  options.log = tern::log::logger{tern::log::make_stderr_sink(), "client", tern::log::level::info};
  tern::AsyncClient client(io.get_executor(), options);

  int arrived = 0, published = 0;  // done when both reach 3
  auto bye = [&] { client.async_disconnect(tern::reason::normal_disconnection, [](error_code) {}); };
  client.on_message("tern/example/#", [&](const tern::publish_packet& m) {
    std::cout << m.topic() << " (QoS " << static_cast<int>(m.qos) << "): " << m.payload().view() << "\n";
    if (++arrived == 3 && published == 3) bye();
  });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](error_code ec, int) {
    if (!ec) bye();
  });

  client.async_connect(uri, {.client_id = "tern-example-async"}, [&](error_code ec, const tern::connack_packet&) {
    if (ec) {
      std::cerr << "connect: " << ec.message() << "\n";
      signals.cancel();
      return;
    }
    client.async_subscribe(
        {{"tern/example/#", {.max_qos = tern::qos::exactly_once}}}, [&](error_code ec, std::vector<tern::reason> granted) {
          if (ec || tern::is_failure(granted.at(0))) {
            std::cerr << "subscribe failed\n";
            return bye();
          }
          for (int q = 0; q <= 2; ++q) {
            tern::publish_packet m("tern/example/q" + std::to_string(q), tern::shared_bytes::copy("hello"),
                                   static_cast<tern::qos>(q));
            client.async_publish(std::move(m), [&, q](error_code ec, tern::reason rc) {
              std::cout << "published QoS " << q << ": " << (ec ? ec.message() : std::string(tern::name(rc))) << "\n";
              if (++published == 3 && arrived == 3) bye();
            });
          }
        });
  });
  client.on_disconnect([&](error_code) { signals.cancel(); });

  io.run();
}
