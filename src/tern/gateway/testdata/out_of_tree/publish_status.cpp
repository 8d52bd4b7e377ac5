// publish_status URI: one status, formatted by mqttgateway's syntax without a
// map (tern::gateway) and published at QoS 1 (tern::client); exit 0 once the
// broker acknowledged it.
#include <chrono>
#include <cstdio>

#include "tern/client/client.hpp"
#include "tern/gateway/map.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: publish_status URI\n");
    return 2;
  }
  const tern::gateway::message status{.location = "office", .device = "lamp", .action = "light_on",
                                      .arguments = {{"by", "out-of-tree"}}};
  auto out = tern::gateway::message_map{}.to_mqtt(status, "oot");
  if (!out) {
    std::fprintf(stderr, "to_mqtt: %s\n", out.error().message().c_str());
    return 1;
  }
  tern::Client c;
  if (auto ec = c.connect(argv[1], {.client_id = "publish-status"})) {
    std::fprintf(stderr, "connect: %s\n", ec.message().c_str());
    return 1;
  }
  auto t = c.publish(out->topic, out->payload, tern::qos::at_least_once);
  if (!t.wait_for_publish(std::chrono::seconds(10)) || t.error()) {
    std::fprintf(stderr, "publish: %s\n", t.error().message().c_str());
    return 1;
  }
  c.disconnect().wait();
  std::printf("%s %s\n", out->topic.c_str(), out->payload.c_str());
  return 0;
}
