// examples/client_oneshot.cpp: the one-call helpers. A thread waits for two
// messages with tern::receive(); the main thread publishes them with
// tern::publish_one() and tern::publish_many(), then for_each_message()
// reads a retained message and stops.
//
//   client_oneshot [mqtt://127.0.0.1:1883]
#include <chrono>
#include <future>
#include <iostream>
#include <string>
#include <thread>

#include "tern/client/helpers.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const std::string uri = argc > 1 ? argv[1] : "mqtt://127.0.0.1:1883";

  auto got = std::async(std::launch::async, [&] { return tern::receive(uri, {"tern/oneshot/#"}, 3, 5s); });
  std::this_thread::sleep_for(200ms);  // let it subscribe

  if (auto ec = tern::publish_one(uri, "tern/oneshot/a", "one", {.qos = tern::qos::at_least_once})) {
    std::cerr << "publish_one: " << ec.message() << "\n";
    return 1;
  }
  std::vector<tern::publish_packet> batch;
  batch.emplace_back("tern/oneshot/b", tern::shared_bytes::copy("two"), tern::qos::exactly_once);
  batch.emplace_back("tern/oneshot/c", tern::shared_bytes::copy("three"), tern::qos::at_least_once);
  if (auto ec = tern::publish_many(uri, std::move(batch))) std::cerr << "publish_many: " << ec.message() << "\n";

  auto r = got.get();
  for (const auto& m : r.messages) std::cout << m.topic() << ": " << m.payload().view() << "\n";
  if (r.error) std::cerr << "receive: " << r.error.message() << "\n";

  // A retained message, read back by for_each_message (which stops at the first).
  (void)tern::publish_one(uri, "tern/oneshot/state", "ready", {.qos = tern::qos::at_least_once, .retain = true});
  auto ec = tern::for_each_message(uri, {"tern/oneshot/state"}, [](const tern::publish_packet& m) {
    std::cout << "state: " << m.payload().view() << (m.retain ? " (retained)" : "") << "\n";
    return false;
  });
  (void)tern::publish_one(uri, "tern/oneshot/state", "", {.retain = true});  // clear it
  return r.error || ec ? 1 : 0;
}
