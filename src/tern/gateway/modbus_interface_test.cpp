// The Modbus interface against libmodbus's own Modbus TCP server, run by the
// test on a thread of its own on 127.0.0.1 (a free port), whose registers
// the test reads and changes.
#include "tern/gateway/modbus_interface.hpp"

#include <gtest/gtest.h>
#include <modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tern/log/capture_sink.hpp"

namespace tern::gateway {
namespace {

using namespace std::chrono_literals;

// libmodbus's TCP server: one client at a time, requests answered from `map`.
class modbus_server {
 public:
  modbus_server() {
    ctx_ = modbus_new_tcp("127.0.0.1", 0);
    listener_ = modbus_tcp_listen(ctx_, 1);
    sockaddr_in a{};
    socklen_t n = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &n);
    port = ntohs(a.sin_port);
    map = modbus_mapping_new(8, 8, 8, 8);
    thread_ = std::thread([this] { serve(); });
  }
  ~modbus_server() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
    modbus_mapping_free(map);
    modbus_free(ctx_);
  }
  template <class F>
  void change(F&& f) {
    const std::lock_guard lock(mutex);
    f(*map);
  }

  int port = 0;
  std::mutex mutex;
  modbus_mapping_t* map = nullptr;

 private:
  bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 50) > 0;
  }
  void serve() {
    while (!stop_) {
      if (!readable(listener_)) continue;
      int s = listener_;
      const int client = modbus_tcp_accept(ctx_, &s);
      if (client < 0) continue;
      std::uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
      while (!stop_) {
        if (!readable(client)) continue;
        const int rc = modbus_receive(ctx_, query);
        if (rc == 0) continue;  // not for this unit
        if (rc < 0) break;      // the client closed
        const std::lock_guard lock(mutex);
        modbus_reply(ctx_, query, rc, map);
      }
      ::close(client);
    }
  }

  modbus_t* ctx_ = nullptr;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct harness {
  std::map<std::string, setting, std::less<>> settings;
  message_queue commands, statuses;
  std::shared_ptr<log::capture_sink> captured = std::make_shared<log::capture_sink>();
  interface_context io{settings, commands, statuses, log::logger{captured, "interface", log::level::debug}};
  modbus_interface modbus;
  result<void> outcome = error{};
  std::thread thread;

  void start() {
    thread = std::thread([this] { outcome = modbus.run(io); });
  }
  ~harness() {
    modbus.stop();
    commands.close();
    if (thread.joinable()) thread.join();
  }
  // The next status, or a message with action "timeout".
  message next() { return statuses.pop_for(10s).value_or(message{.action = "timeout"}); }
};

message status(std::string device, std::string name, std::string value) {
  return {.type = kind::status, .location = "plant", .device = std::move(device), .action = std::move(name),
          .arguments = {{"value", std::move(value)}}};
}

TEST(GatewayModbus, ParsesPoints) {
  auto p = parse_modbus_point("boiler temperature input 7 0.1 -40");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, (modbus_point{.device = "boiler", .name = "temperature", .type = modbus_point::kind::input,
                              .address = 7, .scale = 0.1, .offset = -40}));
  EXPECT_EQ(modbus_value_text(*p, 625), "22.5");
  EXPECT_EQ(modbus_value_text(*parse_modbus_point("pump running coil 0"), 1), "1");
  for (const char* bad : {"boiler temperature", "boiler t analog 0", "boiler t input -1", "boiler t input 70000",
                          "boiler t input 1 0", "boiler t input 1 x", "boiler t input 1 1 y", "a b coil 1 1 1 1"})
    EXPECT_FALSE(parse_modbus_point(bad)) << bad;
  EXPECT_EQ(parse_modbus_point("b t analog 0").error().message,
            "\"b t analog 0\": the kind is coil, discrete, holding or input, not \"analog\"");
}

TEST(GatewayModbus, PublishesValuesAndTheirChangesAndTurnsCommandsIntoWrites) {
  modbus_server server;
  server.change([](modbus_mapping_t& m) {
    m.tab_input_registers[0] = 500;  // 500 * 0.1 - 40 = 10
    m.tab_registers[1] = 40;         // 40 * 0.5 = 20
    m.tab_bits[0] = 1;
    m.tab_input_bits[3] = 0;
  });
  harness h;
  h.settings = {{"host", "127.0.0.1"},
                {"port", std::to_string(server.port)},
                {"poll_ms", "50"},
                {"location", "plant"},
                {"points", std::vector<std::string>{"boiler temperature input 0 0.1 -40", "boiler setpoint holding 1 0.5",
                                                    "pump running coil 0", "door open discrete 3"}}};
  h.start();
  // Every value once at start, in the points' order.
  EXPECT_EQ(h.next(), status("boiler", "temperature", "10")) << h.captured->text();
  EXPECT_EQ(h.next(), status("boiler", "setpoint", "20"));
  EXPECT_EQ(h.next(), status("pump", "running", "1"));
  EXPECT_EQ(h.next(), status("door", "open", "0"));
  // A change on the device: a status; nothing for what did not change.
  server.change([](modbus_mapping_t& m) { m.tab_input_registers[0] = 625; });
  EXPECT_EQ(h.next(), status("boiler", "temperature", "22.5"));
  EXPECT_FALSE(h.statuses.pop_for(200ms));

  // Commands: writes, replied to; the new value's status follows.
  const message set{.type = kind::command, .location = "plant", .device = "boiler", .sender = "app",
                    .action = "setpoint", .arguments = {{"value", "22.5"}}};
  h.commands.push(set);
  EXPECT_EQ(h.next(), set.reply("OK", ""));
  EXPECT_EQ(h.next(), status("boiler", "setpoint", "22.5"));
  server.change([](modbus_mapping_t& m) { EXPECT_EQ(m.tab_registers[1], 45); });
  message off = set;
  off.device = "pump";
  off.action = "running";
  off.arguments = {{"value", "off"}};
  h.commands.push(off);
  EXPECT_EQ(h.next(), off.reply("OK", ""));
  EXPECT_EQ(h.next(), status("pump", "running", "0"));
  server.change([](modbus_mapping_t& m) { EXPECT_EQ(m.tab_bits[0], 0); });

  // Refusals: answered ERROR with why, nothing written.
  message door = set;
  door.device = "door";
  door.action = "open";
  h.commands.push(door);
  EXPECT_EQ(h.next(), door.reply("ERROR", "door open is a discrete input: read only"));
  message unknown = set;
  unknown.action = "colour";
  h.commands.push(unknown);
  EXPECT_EQ(h.next(), unknown.reply("ERROR", "no point boiler colour"));
  message range = set;
  range.arguments = {{"value", "40000"}};
  h.commands.push(range);
  EXPECT_EQ(h.next(), range.reply("ERROR", "\"40000\" is not a value of boiler setpoint (0..65535 raw)"));
  message pumpx = off;
  pumpx.arguments = {{"value", "maybe"}};
  h.commands.push(pumpx);
  EXPECT_EQ(h.next(), pumpx.reply("ERROR", "not a coil value: \"maybe\""));

  h.modbus.stop();
  h.commands.close();
  h.thread.join();
  EXPECT_TRUE(h.outcome) << h.captured->text();
}

TEST(GatewayModbus, NoServerIsAnErrorLoggedWithItsAddress) {
  int port = 0;
  {
    modbus_server gone;  // a port that was free a moment ago
    port = gone.port;
  }
  harness h;
  h.settings = {{"host", "127.0.0.1"}, {"port", std::to_string(port)}};
  h.start();
  h.thread.join();
  ASSERT_FALSE(h.outcome);
  EXPECT_EQ(h.outcome.error().message(), "modbus interface: cannot connect");
  EXPECT_NE(h.captured->text().find("cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused"),
            std::string::npos)
      << h.captured->text();

  harness bad;
  bad.settings = {{"host", "127.0.0.1"}, {"points", std::vector<std::string>{"boiler t analog 0"}}};
  bad.start();
  bad.thread.join();
  ASSERT_FALSE(bad.outcome);
  EXPECT_NE(bad.captured->text().find("interface.points: \"boiler t analog 0\": the kind is"), std::string::npos)
      << bad.captured->text();
}

}  // namespace
}  // namespace tern::gateway
