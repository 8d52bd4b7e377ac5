// examples/client_threaded.cpp: tern::Client, the threaded API in paho's
// style. Subscribes in on_connect (so a reconnect subscribes again),
// publishes a heartbeat every 500 ms from a timer and three messages from
// worker threads, prints what arrives on the loop thread, and disconnects
// once six messages came back.
//
//   client_threaded [mqtt://127.0.0.1:1883]
#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tern/client/client.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const std::string uri = argc > 1 ? argv[1] : "mqtt://127.0.0.1:1883";

  tern::Client client;
  std::atomic<int> arrived{0};
  client.on_connect([&](auto ec, const tern::connack_packet&) {
    if (ec) return;  // connect() below reports it
    client.subscribe("tern/threaded/#", tern::qos::at_least_once);  // a callback may call the client
  });
  client.on_message([&](const tern::publish_packet& m) {
    std::cout << m.topic() << ": " << m.payload().view() << std::endl;
    if (++arrived == 6) client.disconnect();
  });
  client.on_disconnect([](auto ec) { std::cout << "disconnected" << (ec ? ": " + ec.message() : "") << std::endl; });

  if (auto ec = client.connect(uri, {.client_id = "tern-example-threaded"})) {
    std::cerr << "connect " << uri << ": " << ec.message() << "\n";
    return 1;
  }
  client.loop_start();  // the network, callbacks and timers run on one thread from here

  int beats = 0;
  client.new_event(500ms, [&] {
    client.publish("tern/threaded/heartbeat", std::to_string(++beats));
    return beats < 3;  // false: the timer stops
  });

  std::vector<std::thread> workers;  // publish from any thread
  for (int i = 0; i < 3; ++i)
    workers.emplace_back([&, i] {
      auto t = client.publish("tern/threaded/worker", "job " + std::to_string(i), tern::qos::at_least_once);
      if (!t.wait_for_publish(5s) || t.error()) std::cerr << "publish " << t.mid() << " failed\n";
    });
  for (auto& w : workers) w.join();

  for (int i = 0; i < 100 && client.connected(); ++i) std::this_thread::sleep_for(50ms);  // up to 5 s
  client.disconnect().wait();
  client.loop_stop();
  return arrived == 6 ? 0 : 1;
}
