#include "tern/gateway/process_interface.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tern/gateway/json_line.hpp"
#include "tern/log/capture_sink.hpp"

namespace tern::gateway {
namespace {

using namespace std::chrono_literals;

// A driver in Python, as users write them (testdata/echo_driver.py): each
// command comes back as its reply (a status with response OK); one line on stderr.
const std::string echo_driver = std::string(TERN_SOURCE_DIR) + "/src/tern/gateway/testdata/echo_driver.py";

struct harness {
  std::map<std::string, setting, std::less<>> settings;
  message_queue commands, statuses;
  std::shared_ptr<log::capture_sink> captured = std::make_shared<log::capture_sink>();
  interface_context io{settings, commands, statuses, log::logger{captured, "gateway", log::level::debug}};
  process_interface process;
  result<void> outcome = error{};
  std::thread thread;

  explicit harness(std::vector<std::string> command) {
    if (!command.empty()) settings.emplace("command", std::move(command));
  }
  void start() {
    thread = std::thread([this] { outcome = process.run(io); });
  }
  void join() {
    if (thread.joinable()) thread.join();
  }
  ~harness() {
    process.stop();
    join();
  }
  std::string log_text() const {
    std::string out;
    for (const auto& e : captured->entries()) out += e.message + "\n";
    return out;
  }
};

TEST(GatewayJsonLine, RoundTripAndRefusals) {
  const message m{.type = kind::command, .function = "Lighting", .location = "Office", .action = "ON",
                  .arguments = {{"level", "8\"0\n"}}};
  const std::string line = to_json_line(m);
  EXPECT_EQ(line,
            R"({"type":"command","function":"Lighting","gateway":"","location":"Office","device":"","sender":"","action":"ON","arguments":{"level":"8\"0\n"}})"
            "\n");
  auto back = from_json_line(line);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, m);
  // Missing keys are empty; the type defaults to status.
  auto partial = from_json_line(R"({"action":"ON"})");
  ASSERT_TRUE(partial);
  EXPECT_EQ(*partial, (message{.action = "ON"}));
  for (const char* bad : {"not json", "[1]", R"({"type":"order"})", R"({"locaton":"x"})", R"({"device":1})",
                          R"({"arguments":{"a":1}})", R"({"arguments":[]})"}) {
    auto r = from_json_line(bad);
    EXPECT_FALSE(r) << bad;
  }
}

TEST(GatewayProcessInterface, CommandsInRepliesOutStderrLogged) {
  harness h({"python3", echo_driver});
  h.start();
  h.commands.push(message{.type = kind::command, .location = "Office", .device = "light1", .action = "LIGHT_ON",
                          .arguments = {{"level", "80"}}});
  h.commands.push(message{.type = kind::command, .action = "LIGHT_OFF"});
  auto first = h.statuses.pop_for(10s);
  ASSERT_TRUE(first) << h.log_text();
  EXPECT_EQ(*first, (message{.type = kind::status, .location = "Office", .device = "light1", .action = "LIGHT_ON",
                             .arguments = {{"level", "80"}, {"response", "OK"}}}));
  auto second = h.statuses.pop_for(10s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->action, "LIGHT_OFF");
  h.process.stop();
  h.join();
  EXPECT_TRUE(h.outcome) << h.outcome.error().message();
  const std::string text = h.log_text();
  EXPECT_NE(text.find("python3: echo driver ready"), std::string::npos) << text;
  EXPECT_NE(text.find("stopped python3 (exited with status 0)"), std::string::npos) << text;
}

TEST(GatewayProcessInterface, BadLinesAreLoggedCountedAndSkipped) {
  harness h({"sh", "-c", R"(echo 'not json'; echo '{"type":"order"}'; echo '{"action":"READY"}'; cat >/dev/null)"});
  h.start();
  auto m = h.statuses.pop_for(10s);
  ASSERT_TRUE(m) << h.log_text();
  EXPECT_EQ(m->action, "READY");
  EXPECT_EQ(h.process.bad_lines(), 2u);
  h.process.stop();
  h.join();
  EXPECT_TRUE(h.outcome);
  EXPECT_NE(h.log_text().find("not a message"), std::string::npos) << h.log_text();
}

TEST(GatewayProcessInterface, TheProgramEndingIsAnError) {
  harness h({"sh", "-c", "echo bye >&2; exit 3"});
  h.start();
  h.join();
  ASSERT_FALSE(h.outcome);
  const std::string text = h.log_text();
  EXPECT_NE(text.find("sh: bye"), std::string::npos) << text;
  EXPECT_NE(text.find("exited with status 3"), std::string::npos) << text;
}

TEST(GatewayProcessInterface, StopEndsAProgramThatIgnoresItsStdin) {
  harness h({"sh", "-c", "trap '' TERM; sleep 30"});  // ignores SIGTERM too: SIGKILL after 2 s
  h.start();
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  h.process.stop();
  h.join();
  EXPECT_TRUE(h.outcome);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// Found by GatewayRunnerRestart: the driver inherited every descriptor the
// gateway had open without close-on-exec (an in-process broker's listening
// socket, the client's connection), so a restarted broker could not bind
// its port and a connection the gateway closed stayed open in the child.
TEST(GatewayProcessInterface, TheProgramInheritsOnlyStdinStdoutAndStderr) {
  int leak[2];
  ASSERT_EQ(::pipe(leak), 0);  // no O_CLOEXEC, as asio's sockets
  const std::string fd = std::to_string(leak[1]);
  harness h({"sh", "-c",
             "if [ -e /proc/self/fd/" + fd + R"( ]; then echo '{"action":"inherited"}'; else echo '{"action":"closed"}'; fi; cat >/dev/null)"});
  h.start();
  auto m = h.statuses.pop_for(10s);
  ::close(leak[0]);
  ::close(leak[1]);
  ASSERT_TRUE(m) << h.log_text();
  EXPECT_EQ(m->action, "closed");
}

TEST(GatewayProcessInterface, RefusesAMissingCommandOrProgram) {
  harness none({});
  none.start();
  none.join();
  ASSERT_FALSE(none.outcome);
  EXPECT_NE(none.outcome.error().message().find("command"), std::string::npos);

  harness missing({"/nonexistent/driver"});
  missing.start();
  missing.join();
  ASSERT_FALSE(missing.outcome);
  EXPECT_NE(missing.log_text().find("cannot start /nonexistent/driver"), std::string::npos) << missing.log_text();
}

TEST(GatewayMessageQueue, BoundedDropsOldestAndCloses) {
  message_queue q(2);
  EXPECT_TRUE(q.push(message{.action = "1"}));
  EXPECT_TRUE(q.push(message{.action = "2"}));
  EXPECT_TRUE(q.push(message{.action = "3"}));
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.pop()->action, "2");
  q.close();
  EXPECT_FALSE(q.push(message{.action = "4"}));
  EXPECT_EQ(q.pop()->action, "3");
  EXPECT_FALSE(q.pop());
  EXPECT_FALSE(q.pop_for(1ms));
}

TEST(GatewayMessageQueue, PopSomeTakesTheOldestInOrder) {
  message_queue q;
  for (const auto* a : {"1", "2", "3", "4", "5"}) EXPECT_TRUE(q.push(message{.action = a}));
  std::vector<message> out;
  ASSERT_TRUE(q.pop_some(out, 3));
  ASSERT_TRUE(q.pop_some(out, 3));
  ASSERT_EQ(out.size(), 5u);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].action, std::to_string(i + 1));
  q.close();
  EXPECT_FALSE(q.pop_some(out, 3));
}

// when_full::wait: a push into a full queue waits for a pop (nothing is
// dropped), and one still waiting when the queue closes returns false.
TEST(GatewayMessageQueue, FullWaitsForRoomUntilClosed) {
  message_queue q(1, message_queue::when_full::wait);
  EXPECT_TRUE(q.push(message{.action = "1"}));
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    pushed += q.push(message{.action = "2"});  // waits for the pop below
    pushed += q.push(message{.action = "3"});  // waits until the close below
    pushed += 10;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(pushed.load(), 0);
  EXPECT_EQ(q.pop()->action, "1");
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (pushed.load() < 1 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(pushed.load(), 1);
  q.close();
  producer.join();
  EXPECT_EQ(pushed.load(), 11);
  EXPECT_EQ(q.dropped(), 0u);
  EXPECT_EQ(q.pop()->action, "2");
  EXPECT_FALSE(q.pop());
}

}  // namespace
}  // namespace tern::gateway
