// The gateway end to end over real sockets on 127.0.0.1: an in-process
// tern::Broker, a runner with mqttgateway's dummy map and the process
// interface driving a Python echo driver, and an observer client.
#include "tern/gateway/runner.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tern/client/client.hpp"
#include "tern/gateway/builtin.hpp"
#include "tern/gateway/process_interface.hpp"
#include "tern/log/capture_sink.hpp"
#include "tern/server/broker.hpp"
#include "tern/storage/test_dir.hpp"

namespace tern::gateway {
namespace {

using namespace std::chrono_literals;

const std::filesystem::path testdata = std::filesystem::path(TERN_SOURCE_DIR) / "src/tern/gateway/testdata";

server::config broker_config() {
  server::config bc;
  bc.listeners = {server::listener_config{}};
  bc.listeners[0].address = "127.0.0.1";
  bc.listeners[0].port = 0;
  bc.io_threads = 1;
  bc.sys_interval = 0;
  bc.storage.backend = server::storage_backend::memory;
  return bc;
}

// A broker on a free port, an observer subscribed to every status, and
// the configuration of a gateway that connects to the broker.
class GatewayRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    broker.start();
    uri = "mqtt://127.0.0.1:" + std::to_string(broker.ports().at(0));
    ASSERT_FALSE(observer.connect(uri, {.client_id = "observer"}));
    observer.subscribe("+/+/+/+/+/+/S", qos::at_least_once).wait();
    c.mqtt.uri = uri;
  }
  void TearDown() override { observer.disconnect().wait(); }

  Broker broker{broker_config()};
  std::string uri;
  Client observer;
  config c;
  std::shared_ptr<log::capture_sink> captured = std::make_shared<log::capture_sink>();
};

TEST_F(GatewayRunner, CommandThroughTheProcessInterfaceAndItsStatusBack) {
  c.name = "dummy2mqtt";
  c.interface.settings.emplace("command", std::vector<std::string>{"python3", (testdata / "echo_driver.py").string()});
  auto map = message_map::load(testdata / "mqttgateway_dummy_map.json");
  ASSERT_TRUE(map) << map.error().message;
  runner r(c, *map, std::make_unique<process_interface>(), log::logger{captured, "gateway", log::level::debug});
  ASSERT_FALSE(r.start());

  // Refused by the strict gateway map: logged, counted, nothing published.
  observer.publish("home/audiovideo/other/office/amp/app/C", "volume_up", qos::at_least_once).wait();
  observer.publish("home/audiovideo/dummy/study/amp/app/C", R"({"action":"volume_up","step":"3"})",
                   qos::at_least_once)
      .wait();
  auto status = observer.receive(20s);
  ASSERT_TRUE(status) << captured->text();
  // Loose location passes "study"; the reply keeps the command's sender.
  EXPECT_EQ(status->topic(), "home/audiovideo/dummy/study/amp/app/S");
  EXPECT_EQ(status->payload().view(), R"({"action":"volume_up","response":"OK","step":"3"})");

  r.stop();
  const auto s = r.stats();
  EXPECT_EQ(s.in, 1u);
  EXPECT_EQ(s.out, 1u);
  EXPECT_EQ(s.refused_in, 1u);
  EXPECT_EQ(s.restarts, 0u);
  EXPECT_NE(captured->text().find("gateway: not in its strict map"), std::string::npos) << captured->text();
  EXPECT_FALSE(observer.receive(0ms));
}

// A program that ends is an interface that failed: logged, started again
// after the backoff (1 s), while the MQTT side stays connected.
TEST_F(GatewayRunner, AnInterfaceThatEndsIsStartedAgain) {
  c.name = "phoenix";
  c.interface.settings.emplace("command",
                               std::vector<std::string>{"sh", "-c", R"(echo '{"action":"hello"}'; exit 1)"});
  runner r(c, message_map{}, std::make_unique<process_interface>(), log::logger{captured, "gateway", log::level::info});
  ASSERT_FALSE(r.start());
  for (int i = 0; i < 2; ++i) {
    auto status = observer.receive(20s);
    ASSERT_TRUE(status) << i << "\n" << captured->text();
    // No map: root "", every token as it is, the sender the gateway's name.
    EXPECT_EQ(status->topic(), "/////phoenix/S");
    EXPECT_EQ(status->payload().view(), "hello");
  }
  r.stop();
  EXPECT_GE(r.stats().restarts, 1u);
  EXPECT_NE(captured->text().find("the interface failed: process interface: the program ended; starting it again in 1 s"),
            std::string::npos)
      << captured->text();
}

// The template interface, chosen by name as `tern gateway` will: its
// greeting, then the reply to a command, through mqttgateway's entry map.
TEST_F(GatewayRunner, TheTemplateInterfaceByName) {
  c.name = "entry2mqtt";
  c.interface.name = "template";
  c.interface.settings.emplace("greeting", "BELL_ON");
  auto map = message_map::load(testdata / "mqttgateway_entry_map.json");
  ASSERT_TRUE(map) << map.error().message;
  auto iface = make_interface(c.interface);
  ASSERT_TRUE(iface) << iface.error().message;
  runner r(c, *map, std::move(*iface), log::logger{captured, "gateway", log::level::info});
  ASSERT_FALSE(r.start());
  auto greeting = observer.receive(20s);
  ASSERT_TRUE(greeting) << captured->text();
  EXPECT_EQ(greeting->topic(), "home/////entry2mqtt/S");  // strict maps pass empty tokens
  EXPECT_EQ(greeting->payload().view(), "bell_on");
  observer.publish("home/security/entry2mqtt/frontgarden/gate/app/C", "gate_open", qos::at_least_once).wait();
  auto reply = observer.receive(20s);
  ASSERT_TRUE(reply) << captured->text();
  EXPECT_EQ(reply->topic(), "home/security/entry2mqtt/frontgarden/gate/app/S");
  EXPECT_EQ(reply->payload().view(), R"({"action":"gate_open","reason":"done by the template interface","response":"OK"})");
  r.stop();
  EXPECT_NE(captured->text().find("template interface: gate_entry Gate GATE_OPEN"), std::string::npos) << captured->text();

  EXPECT_TRUE(make_interface({.name = "modbus"}));
  EXPECT_FALSE(make_interface({.name = "zigbee"}));
  EXPECT_FALSE(make_interface({.name = "process", .library = "/x/plugin.so"}));
  EXPECT_TRUE(make_interface({.name = "process"}));
}

// An interface that pushes `count` statuses as fast as it can (no window
// of its own), each with its number n, then waits for the end.
class burst_interface final : public interface {
 public:
  explicit burst_interface(int count) : count_(count) {}
  result<void> run(interface_context& io) override {
    for (int n = 0; n < count_; ++n)
      io.statuses.push(message{.location = "lab", .device = "burst", .action = "tick",
                               .arguments = {{"n", std::to_string(n)}}});
    while (io.commands.pop()) {
    }
    return {};
  }
  void stop() override {}

 private:
  int count_;
};

// The "n" argument of a status payload; -1 when it has none.
int status_number(std::string_view payload) {
  const auto at = payload.find(R"("n":")");
  return at == std::string_view::npos ? -1 : std::stoi(std::string(payload.substr(at + 5)));
}

// Back-pressure while connected: a burst far larger than mqtt.queue (and
// than the interface's statuses queue) waits for the broker's PUBACKs
// instead of overflowing the client's drop-oldest queue: every status
// arrives, in order, and none is counted dropped.
TEST_F(GatewayRunner, ABurstWhileConnectedArrivesCompleteAndInOrder) {
  constexpr int count = 30'000;
  Client subscriber(client_options{.receive_queue = count + 100});
  ASSERT_FALSE(subscriber.connect(uri, {.client_id = "burst-subscriber"}));
  subscriber.subscribe("+/+/+/lab/burst/+/S", qos::at_least_once).wait();
  c.name = "burst";
  c.metrics_interval = 0;
  c.mqtt.queue = 100;
  runner r(c, message_map{}, std::make_unique<burst_interface>(count),
           log::logger{captured, "gateway", log::level::info});
  ASSERT_FALSE(r.start());
  std::vector<int> seen;
  seen.reserve(count);
  while (seen.size() < count) {
    auto m = subscriber.receive(10s);
    if (!m) break;
    seen.push_back(status_number(m->payload().view()));
  }
  const auto s = r.stats();
  r.stop();
  subscriber.disconnect().wait();
  EXPECT_EQ(s.dropped, 0u) << captured->text();
  ASSERT_EQ(seen.size(), std::size_t{count}) << captured->text();
  int out_of_order = 0;
  for (int n = 0; n < count; ++n) out_of_order += seen[n] != n;
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(s.out, std::uint64_t{count});
}

// A broker with its sessions on disk that stops and starts again on the
// same port, and an observer whose persistent session collects every
// status meanwhile.
struct restartable_broker {
  restartable_broker() {
    bc.storage.backend = server::storage_backend::rocksdb;
    bc.storage.data_dir = dir.root() / "broker";
    broker = std::make_unique<Broker>(bc);  // after the storage is set: both brokers use the same store
    broker->start();
    bc.listeners[0].port = broker->ports().at(0);
    uri = "mqtt://127.0.0.1:" + std::to_string(bc.listeners[0].port);
    EXPECT_FALSE(observer.connect(uri, {.client_id = "observer", .clean_start = false, .session_expiry = 3600}));
    observer.subscribe("+/+/+/+/+/+/S", qos::at_least_once).wait();
  }
  ~restartable_broker() { observer.disconnect().wait(); }
  void stop() {
    broker->stop();
    broker.reset();
  }
  void start() {
    broker = std::make_unique<Broker>(bc);  // the same port: nothing of the old one is left open
    broker->start();
  }

  storage::testing::temp_dir dir;
  server::config bc = broker_config();
  std::unique_ptr<Broker> broker;
  std::string uri;
  Client observer;
};

// Statuses the interface produces while the broker is away wait in the
// client's store and arrive once it is back.
TEST(GatewayRunnerRestart, StatusesProducedWhileTheBrokerIsDownArriveAfterwards) {
  restartable_broker b;
  config c;
  c.name = "ticker";
  c.mqtt.uri = b.uri;
  c.mqtt.persistence_dir = b.dir.root() / "gateway";
  c.interface.settings.emplace(
      "command", std::vector<std::string>{"sh", "-c", R"(i=0; while :; do echo "{\"action\":\"tick\",\"arguments\":{\"n\":\"$i\"}}"; i=$((i+1)); sleep 0.02; done)"});
  auto captured = std::make_shared<log::capture_sink>();
  runner r(c, message_map{}, std::make_unique<process_interface>(), log::logger{captured, "gateway", log::level::info});
  ASSERT_FALSE(r.start());

  std::set<int> seen;
  const auto take = [&](int until) {
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < end && (seen.empty() || *seen.rbegin() < until)) {
      auto m = b.observer.receive(1s);
      if (!m) continue;
      if (const int n = status_number(m->payload().view()); n >= 0) seen.insert(n);
    }
  };
  take(5);
  ASSERT_FALSE(seen.empty()) << captured->text();
  b.stop();
  const int before = *seen.rbegin();
  std::this_thread::sleep_for(500ms);  // about 25 statuses while it is away
  b.start();
  take(before + 60);
  r.stop();
  ASSERT_FALSE(seen.empty());
  std::vector<int> missing;
  for (int n = *seen.begin(); n <= *seen.rbegin(); ++n)
    if (!seen.contains(n)) missing.push_back(n);
  EXPECT_TRUE(missing.empty()) << missing.size() << " missing, the first " << missing.front() << "; seen up to "
                               << *seen.rbegin() << "\n"
                               << captured->text();
  EXPECT_GE(*seen.rbegin(), before + 60);
}

// Store-and-forward's bound: 50 statuses produced while the broker is away
// with mqtt.queue = 10: the 40 oldest are dropped and counted, the 10 newest
// arrive afterwards, in order.
TEST(GatewayRunnerRestart, PastTheQueueTheOldestStatusesAreDroppedAndCounted) {
  restartable_broker b;
  const auto go = b.dir.root() / "go";
  config c;
  c.name = "burst";
  c.mqtt.uri = b.uri;
  c.mqtt.queue = 10;
  c.mqtt.persistence_dir = b.dir.root() / "gateway";
  c.interface.settings.emplace(
      "command", std::vector<std::string>{"sh", "-c", "while [ ! -e '" + go.string() + R"(' ]; do sleep 0.02; done
        i=0; while [ $i -lt 50 ]; do echo "{\"action\":\"tick\",\"arguments\":{\"n\":\"$i\"}}"; i=$((i+1)); done
        exec sleep 1000)"});
  auto captured = std::make_shared<log::capture_sink>();
  runner r(c, message_map{}, std::make_unique<process_interface>(), log::logger{captured, "gateway", log::level::debug});
  ASSERT_FALSE(r.start());
  auto end = std::chrono::steady_clock::now() + 20s;
  while (r.stats().queued > 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);  // "online"
  b.stop();
  while (r.connected() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(r.connected());
  { std::ofstream{go}; }
  end = std::chrono::steady_clock::now() + 20s;
  while (r.stats().dropped < 40 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
  const auto s = r.stats();
  EXPECT_EQ(s.out, 50u);
  EXPECT_EQ(s.dropped, 40u);
  EXPECT_EQ(s.queued, 10u);
  b.start();
  std::vector<int> seen;
  while (seen.size() < 10) {
    auto m = b.observer.receive(20s);
    if (!m) break;
    if (const int n = status_number(m->payload().view()); n >= 0) seen.push_back(n);
  }
  EXPECT_EQ(seen, (std::vector<int>{40, 41, 42, 43, 44, 45, 46, 47, 48, 49})) << captured->text();
  EXPECT_FALSE(b.observer.receive(300ms));
  r.stop();
  EXPECT_NE(captured->text().find("the offline queue is full: the oldest status dropped"), std::string::npos)
      << captured->text();
}

// Availability and metrics: ROOT/NAME/status is "online" (retained) while
// the gateway runs and "offline" after stop(); ROOT/NAME/metrics, retained,
// carries the counters every metrics_interval.
TEST_F(GatewayRunner, AvailabilityAndMetricsAreRetained) {
  c.name = "dummy2mqtt";
  c.metrics_interval = 1;
  c.interface.name = "template";
  auto map = message_map::load(testdata / "mqttgateway_dummy_map.json");
  ASSERT_TRUE(map) << map.error().message;
  runner r(c, *map, std::move(*make_interface(c.interface)), log::logger{captured, "gateway", log::level::info});
  ASSERT_FALSE(r.start());
  EXPECT_EQ(r.status_topic(), "home/dummy2mqtt/status");
  EXPECT_EQ(r.metrics_topic(), "home/dummy2mqtt/metrics");
  observer.publish("home/audiovideo/dummy/office/amp/app/C", "audio_on", qos::at_least_once).wait();
  observer.publish("home/audiovideo/nobody/office/amp/app/C", "audio_on", qos::at_least_once).wait();
  ASSERT_TRUE(observer.receive(20s)) << captured->text();

  Client late;  // subscribes after the fact: retained messages
  ASSERT_FALSE(late.connect(uri, {.client_id = "late"}));
  late.subscribe("home/dummy2mqtt/status", qos::at_least_once).wait();
  auto online = late.receive(10s);
  ASSERT_TRUE(online);
  EXPECT_EQ(online->payload().view(), "online");
  EXPECT_TRUE(online->retain);
  std::this_thread::sleep_for(1200ms);  // a metrics round after the command
  late.subscribe("home/dummy2mqtt/metrics", qos::at_least_once).wait();
  auto metrics = late.receive(10s);
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->payload().view(), R"({"in":1,"out":1,"unmapped":1,"dropped":0,"queued":0,"restarts":0})");
  r.stop();
  auto offline = late.receive(10s);
  if (offline && offline->topic() == "home/dummy2mqtt/metrics") offline = late.receive(10s);  // stop()'s last round
  ASSERT_TRUE(offline);
  EXPECT_EQ(offline->topic(), "home/dummy2mqtt/status");
  EXPECT_EQ(offline->payload().view(), "offline");
  late.disconnect().wait();
}

// reload_map() on the same connection: the new map's topics subscribed and
// used, the old one's unsubscribed.
TEST_F(GatewayRunner, AReloadedMapIsUsedWithoutReconnecting) {
  c.name = "dummy2mqtt";
  c.interface.name = "template";
  auto map = message_map::load(testdata / "mqttgateway_dummy_map.json");
  ASSERT_TRUE(map) << map.error().message;
  runner r(c, *map, std::move(*make_interface(c.interface)), log::logger{captured, "gateway", log::level::info});
  ASSERT_FALSE(r.start());
  std::string json = R"({"root": "house", "topics": ["house/+/+/+/+/+/C"])";
  for (const auto f : field_names) json += R"(, ")" + std::string(f) + R"(": {"maptype": "none"})";
  auto next = message_map::parse(json + "}", "next.json");
  ASSERT_TRUE(next) << next.error().message;
  r.reload_map(std::move(*next));
  std::optional<publish_packet> reply;
  for (int i = 0; i < 100 && !reply; ++i) {  // until the new subscription is in place
    observer.publish("house/lighting/g/hall/lamp/app/C", "on", qos::at_least_once).wait();
    reply = observer.receive(100ms);
  }
  ASSERT_TRUE(reply) << captured->text();
  EXPECT_EQ(reply->topic(), "house/lighting/g/hall/lamp/app/S");
  while (observer.receive(200ms)) {
  }
  observer.publish("home/audiovideo/dummy/office/amp/app/C", "audio_on", qos::at_least_once).wait();
  EXPECT_FALSE(observer.receive(500ms));  // unsubscribed
  r.stop();
  EXPECT_NE(captured->text().find("map reloaded: root \"house\", 1 topic(s)"), std::string::npos) << captured->text();
}

// Reconnect and resubscription: a broker without storage restarted on the
// same port has forgotten the gateway's subscriptions; the client reconnects
// with its backoff and the runner subscribes the map's topics again.
TEST(GatewayRunnerRestart, AfterABrokerThatForgotEverythingTheTopicsAreSubscribedAgain) {
  server::config bc = broker_config();
  auto broker = std::make_unique<Broker>(bc);
  broker->start();
  bc.listeners[0].port = broker->ports().at(0);
  const std::string uri = "mqtt://127.0.0.1:" + std::to_string(bc.listeners[0].port);
  config c;
  c.name = "dummy2mqtt";
  c.mqtt.uri = uri;
  c.interface.name = "template";
  auto map = message_map::load(testdata / "mqttgateway_dummy_map.json");
  ASSERT_TRUE(map) << map.error().message;
  auto captured = std::make_shared<log::capture_sink>();
  runner r(c, *map, std::move(*make_interface(c.interface)), log::logger{captured, "gateway", log::level::info});
  ASSERT_FALSE(r.start());
  broker->stop();
  broker = std::make_unique<Broker>(bc);
  broker->start();

  Client observer;
  ASSERT_FALSE(observer.connect(uri, {.client_id = "observer"}));
  observer.subscribe("+/+/+/+/+/+/S", qos::at_least_once).wait();
  std::optional<publish_packet> reply;
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (!reply && std::chrono::steady_clock::now() < end) {
    observer.publish("home/lighting/dummy/office/lamp/app/C", "light_on", qos::at_least_once).wait();
    reply = observer.receive(200ms);
  }
  ASSERT_TRUE(reply) << captured->text();
  EXPECT_EQ(reply->topic(), "home/lighting/dummy/office/lamp/app/S");
  EXPECT_TRUE(r.connected());
  r.stop();
  observer.disconnect().wait();
}

}  // namespace
}  // namespace tern::gateway
