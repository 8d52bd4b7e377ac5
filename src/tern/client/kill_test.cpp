// Client persistence across SIGKILL (tern_client_kill_test): a client
// process with a store directory (tern_client_kill_helper) is killed at
// random moments and started again on the same directory, while messages
// flow through a mosquitto 2.0 started on a free port (persistence false:
// the broker is never killed).
//
// - Subscriber: the helper subscribes at QoS 2 with a persistent session
//   and appends each message it is handed to a file, one write(2) each; an
//   in-process publisher sends numbered QoS 2 and QoS 1 messages. At the end
//   every QoS 2 message is in the file exactly once, every QoS 1 message at
//   least once. With the delivery-number checkpoint (persistence.processed)
//   this holds for any kill; without it the one window of the design (a
//   kill between the handler's write and the client's record) may
//   duplicate, at most one message per kill: measured, printed and bounded.
// - Publisher: the helper publishes numbered messages at QoS 2 (and QoS 1)
//   with a persistent session, logging what async_persist() confirmed
//   stored and what the broker acknowledged; each run starts a new
//   generation of numbers. An in-process subscriber must get every stored
//   or acknowledged message, QoS 2 exactly once (nothing at all twice), QoS
//   1 at least once.
//
// The random seed is printed (TERN_KILL_SEED=<n> repeats a run);
// TERN_KILL_ROUNDS=<n> kills n times per case instead of 10.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "tern/client/async_client.hpp"
#include "support/mosquitto.hpp"
#include "support/threaded_client.hpp"
#include "tern/storage/test_dir.hpp"

extern char** environ;

namespace tern {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using error_code = boost::system::error_code;
using tern::testing::mosquitto;
using tern::testing::threaded_client;

// A child process (the helper), killed with SIGKILL on destruction.
class child {
 public:
  child() = default;
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() { kill9(); }

  bool spawn(std::vector<std::string> args, const std::string& out) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // The exit status once it exited by itself within `limit`; -1 otherwise.
  int wait_exit(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(5ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Kills per case: 10, or TERN_KILL_ROUNDS for a longer soak.
int rounds() {
  if (const char* s = std::getenv("TERN_KILL_ROUNDS")) return std::max(1, std::atoi(s));
  return 10;
}

std::uint32_t seed() {
  if (const char* s = std::getenv("TERN_KILL_SEED")) return static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
  return std::random_device{}();
}

client_options fast() {
  client_options o;
  o.reconnect = {.min_delay = 20ms, .max_delay = 200ms, .jitter = 0.5, .seed = 3};
  return o;
}

// ============================================================================ subscriber killed

struct sub_case {
  bool checkpoint;
  protocol_version version;
  int busy_us = 0;  // the handler's work after its write (see kill_helper.cpp)
};

class SubscriberKill : public ::testing::TestWithParam<sub_case> {};

TEST_P(SubscriberKill, QoS2ExactlyOnceQoS1AtLeastOnce) {
  const auto [checkpoint, version, busy_us] = GetParam();
  const auto s = seed();
  std::mt19937 rng(s);
  std::printf("[ seed     ] TERN_KILL_SEED=%u\n", s);

  mosquitto broker{"max_queued_messages 100000\n"};
  ASSERT_TRUE(broker.start()) << "cannot start /usr/sbin/mosquitto";
  storage::testing::temp_dir dir;
  const auto store = (dir.root() / "store").string();
  const auto out = (dir.root() / "out").string();
  const auto stdout_path = (dir.root() / "stdout").string();
  const std::vector<std::string> args = {TERN_KILL_HELPER, "sub", std::to_string(broker.port()), "kill-sub", store, out,
                                         checkpoint ? "1" : "0", version == protocol_version::v5 ? "5" : "4",
                                         std::to_string(busy_us)};
  child helper;
  ASSERT_TRUE(helper.spawn(args, stdout_path));
  ASSERT_TRUE(wait_for([&] { return !lines_of(stdout_path).empty(); }, 10s)) << "the helper did not subscribe";

  // The publisher: numbered QoS 2 and QoS 1 messages, 6 every 10 ms (for 2 s at 10 kills).
  const int kills = rounds();
  const int n2 = 90 * kills, n1 = 30 * kills;
  threaded_client pub(fast());
  ASSERT_FALSE(pub.connect(broker.uri(), {.client_id = "kill-pub-inproc"}));
  std::atomic<int> completed{0}, failed{0};
  asio::steady_timer pace(pub.io());
  int sent2 = 0, sent1 = 0;
  std::function<void()> tick = [&] {
    auto& c = pub.client();
    for (int k = 0; k < 6 && (sent2 < n2 || sent1 < n1); ++k) {
      const bool two = sent1 >= n1 || (sent2 < n2 && k % 4 != 3);
      const auto payload = two ? "q2:" + std::to_string(++sent2) : "q1:" + std::to_string(++sent1);
      c.async_publish(publish_packet(two ? "kill/q2" : "kill/q1", shared_bytes::copy(payload),
                                     two ? qos::exactly_once : qos::at_least_once),
                      [&](error_code ec, reason) { (ec ? failed : completed)++; });
    }
    if (sent2 < n2 || sent1 < n1) {
      pace.expires_after(10ms);
      pace.async_wait([&](error_code ec) {
        if (!ec) tick();
      });
    }
  };
  pub.run([&](AsyncClient&) { tick(); });
  struct stop_pacing {
    threaded_client& t;
    asio::steady_timer& timer;
    ~stop_pacing() {
      t.run([&](AsyncClient&) { timer.cancel(); });
    }
  } stop_pacing_guard{pub, pace};

  // Kill the subscriber at random moments, start it again on the same store.
  std::uniform_int_distribution<int> pause(0, 300);
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
    helper.kill9();
    ASSERT_TRUE(helper.spawn(args, stdout_path));
  }
  ASSERT_TRUE(wait_for([&] { return completed + failed == n2 + n1; }, 20s)) << "the publisher did not finish";
  EXPECT_EQ(failed, 0);

  // Everything must arrive; then count.
  auto count = [&] {
    std::map<std::string, int> got;
    for (const auto& l : lines_of(out)) got[checkpoint ? l.substr(l.find(' ') + 1) : l]++;
    return got;
  };
  std::map<std::string, int> got;
  wait_for(
      [&] {
        got = count();
        int present = 0;
        for (int i = 1; i <= n2; ++i) present += got.count("q2:" + std::to_string(i)) ? 1 : 0;
        for (int i = 1; i <= n1; ++i) present += got.count("q1:" + std::to_string(i)) ? 1 : 0;
        return present == n2 + n1;
      },
      15s);
  std::this_thread::sleep_for(200ms);  // duplicates, if any, arrive too
  helper.kill9();
  got = count();

  int missing2 = 0, dup2 = 0, missing1 = 0, dup1 = 0;
  std::string first_missing, first_dup;
  for (int i = 1; i <= n2; ++i) {
    const auto key = "q2:" + std::to_string(i);
    const auto n = got.count(key) ? got[key] : 0;
    if (n == 0 && missing2++ == 0) first_missing = key;
    if (n > 1) {
      dup2 += n - 1;
      if (first_dup.empty()) first_dup = key;
    }
  }
  for (int i = 1; i <= n1; ++i) {
    const auto key = "q1:" + std::to_string(i);
    const auto n = got.count(key) ? got[key] : 0;
    if (n == 0 && missing1++ == 0 && first_missing.empty()) first_missing = key;
    if (n > 1) dup1 += n - 1;
  }
  std::printf("[ result   ] %s, MQTT %s, handler busy %d us, %d kills: QoS 2: %d messages, %d missing, "
              "%d duplicated; QoS 1: %d messages, %d missing, %d duplicated\n",
              checkpoint ? "checkpoint" : "no checkpoint", version == protocol_version::v5 ? "5.0" : "3.1.1", busy_us,
              kills, n2, missing2, dup2, n1, missing1, dup1);
  EXPECT_EQ(missing2, 0) << "first: " << first_missing;
  EXPECT_EQ(missing1, 0) << "first: " << first_missing;
  if (checkpoint) {
    EXPECT_EQ(dup2, 0) << "first: " << first_dup;
  } else {
    // The design's one window: at most the message being handed over when killed.
    EXPECT_LE(dup2, kills) << "first: " << first_dup;
  }
}

// The busy cases widen the window (the handler works on for 1 ms after its
// write): without the checkpoint kills hit it (measured, bounded), with it
// nothing is duplicated.
INSTANTIATE_TEST_SUITE_P(Modes, SubscriberKill,
                         ::testing::Values(sub_case{true, protocol_version::v5}, sub_case{false, protocol_version::v5},
                                           sub_case{true, protocol_version::v3_1_1},
                                           sub_case{true, protocol_version::v5, 1000},
                                           sub_case{false, protocol_version::v5, 1000}),
                         [](const auto& info) {
                           return std::string(info.param.checkpoint ? "Checkpoint" : "NoCheckpoint") +
                                  (info.param.version == protocol_version::v5 ? "V5" : "V311") +
                                  (info.param.busy_us ? "BusyHandler" : "");
                         });

// ============================================================================ publisher killed

class PublisherKill : public ::testing::TestWithParam<int> {};

TEST_P(PublisherKill, StoredAndAcknowledgedArrive) {
  const auto q = static_cast<qos>(GetParam());
  const auto s = seed();
  std::mt19937 rng(s);
  std::printf("[ seed     ] TERN_KILL_SEED=%u\n", s);

  mosquitto broker{"max_queued_messages 100000\n"};
  ASSERT_TRUE(broker.start()) << "cannot start /usr/sbin/mosquitto";
  storage::testing::temp_dir dir;
  const auto store = (dir.root() / "store").string();
  const auto log = (dir.root() / "log").string();
  const auto stdout_path = (dir.root() / "stdout").string();

  // The subscriber: in this process, never killed.
  std::mutex m;
  std::map<std::string, int> got;
  threaded_client sub(fast());
  sub.run([&](AsyncClient& c) {
    c.on_message("kill/pub", [&](const publish_packet& p) {
      std::lock_guard lk(m);
      got[std::string(p.payload().view())]++;
    });
  });
  ASSERT_FALSE(sub.connect(broker.uri(), {.client_id = "kill-sub-inproc"}));
  ASSERT_FALSE(sub.subscribe({{"kill/pub", {.max_qos = qos::exactly_once}}}));

  constexpr int count = 300;
  const std::vector<std::string> args = {TERN_KILL_HELPER, "pub",     std::to_string(broker.port()), "kill-pub",
                                         store,            log,       std::to_string(GetParam()),    std::to_string(count)};
  child helper;
  const int kills = rounds();
  std::uniform_int_distribution<int> pause(0, 60);
  for (int k = 0; k < kills; ++k) {
    ASSERT_TRUE(helper.spawn(args, stdout_path));
    // Killed while it publishes: a random moment after its first messages are stored.
    const auto run_started = "S " + std::to_string(k + 1) + " ";
    wait_for(
        [&] {
          for (const auto& l : lines_of(log))
            if (l.rfind(run_started, 0) == 0) return true;
          return false;
        },
        5s);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
    helper.kill9();
  }
  ASSERT_TRUE(helper.spawn(args, stdout_path));
  ASSERT_EQ(helper.wait_exit(30s), 0) << "the last run did not finish";

  // What the runs were sure of: stored (async_persist) or acknowledged.
  std::set<std::string> expected;
  int acked = 0, runs = 0;
  for (const auto& l : lines_of(log)) {
    std::istringstream in(l);
    std::string kind;
    in >> kind;
    if (kind == "G") ++runs;
    if (kind == "A") {
      std::string p;
      in >> p;
      expected.insert(p);
      ++acked;
    }
    if (kind == "S") {
      int g = 0, upto = 0;
      in >> g >> upto;
      for (int i = 1; i <= upto; ++i) expected.insert(std::to_string(g) + ":" + std::to_string(i));
    }
  }
  EXPECT_EQ(runs, kills + 1);
  wait_for(
      [&] {
        std::lock_guard lk(m);
        for (const auto& e : expected)
          if (!got.count(e)) return false;
        return true;
      },
      10s);
  std::this_thread::sleep_for(200ms);
  std::lock_guard lk(m);
  int missing = 0, duplicated = 0, received = 0;
  std::string first_missing, first_dup;
  for (const auto& e : expected)
    if (!got.count(e) && missing++ == 0) first_missing = e;
  for (const auto& [p, n] : got) {
    received += n;
    if (n > 1) {
      duplicated += n - 1;
      if (first_dup.empty()) first_dup = p;
    }
  }
  std::printf("[ result   ] QoS %d, %d kills: %zu stored or acknowledged (%d acknowledgements seen), "
              "%d received, %d missing, %d duplicated\n",
              GetParam(), kills, expected.size(), acked, received, missing, duplicated);
  EXPECT_GT(expected.size(), std::size_t{count});
  EXPECT_EQ(missing, 0) << "first: " << first_missing;
  if (q == qos::exactly_once) {
    EXPECT_EQ(duplicated, 0) << "first: " << first_dup;
  }
}

INSTANTIATE_TEST_SUITE_P(QoS, PublisherKill, ::testing::Values(2, 1),
                         [](const auto& info) { return "QoS" + std::to_string(info.param); });

}  // namespace
}  // namespace tern
