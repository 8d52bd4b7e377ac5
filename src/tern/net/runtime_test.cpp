// runtime on its own (an engine, no tern::Broker): listener errors,
// connection accounting, adopted sockets, stop. The protocol flows over real
// sockets are in tests/integration.
#include "tern/net/runtime.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

#include "support/test_client.hpp"

namespace tern::net {
namespace {

using namespace std::chrono_literals;
using testing::test_client;

struct Runtime : ::testing::Test {
  engine::hooks hooks;
  std::unique_ptr<storage::store> store = storage::make_memory_store();
  engine::engine engine{{}, hooks, *store, 2, std::chrono::steady_clock::now()};

  runtime_options on(std::string address, std::uint16_t port = 0) {
    runtime_options o;
    o.listeners.push_back({std::move(address), port});
    o.stop_grace = 300ms;
    return o;
  }
  // Waits (bounded) until `rt` has `n` connections.
  static bool settles_at(const runtime& rt, std::size_t n) {
    for (int i = 0; i < 200 && rt.connections() != n; ++i) std::this_thread::sleep_for(5ms);
    return rt.connections() == n;
  }
};

TEST_F(Runtime, StartNamesTheListenerThatCannotBeBound) {
  runtime first(engine, on("127.0.0.1"));
  ASSERT_FALSE(first.start());
  const auto port = first.bound().at(0).port;
  runtime second(engine, on("127.0.0.1", port));
  EXPECT_TRUE(second.start());
  EXPECT_EQ(second.start_error().rfind("bind 127.0.0.1:" + std::to_string(port) + ": ", 0), 0u)
      << second.start_error();
  EXPECT_FALSE(second.running());
  EXPECT_TRUE(second.bound().empty());
  EXPECT_TRUE(first.start());  // once only
  EXPECT_TRUE(first.running());
}

TEST_F(Runtime, StartNamesAnAddressThatDoesNotResolve) {
  runtime rt(engine, on("no-such-host.invalid"));
  EXPECT_TRUE(rt.start());
  EXPECT_EQ(rt.start_error().rfind("resolve no-such-host.invalid: ", 0), 0u) << rt.start_error();
}

TEST_F(Runtime, CountsConnectionsAndClosesThemOnStop) {
  runtime rt(engine, on("127.0.0.1"));
  ASSERT_FALSE(rt.start());
  const auto port = rt.bound().at(0).port;
  EXPECT_EQ(rt.bound()[0].to_string(), "127.0.0.1:" + std::to_string(port));
  test_client silent(port, protocol_version::v3_1_1);  // never sends CONNECT
  test_client connected(port, protocol_version::v5);
  ASSERT_EQ(connected.connect("c").reason_code, reason::success);
  EXPECT_TRUE(settles_at(rt, 2));
  const auto start = std::chrono::steady_clock::now();
  rt.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(rt.connections(), 0u);
  EXPECT_TRUE(silent.closed_by_broker());
  std::vector<packet> got;
  EXPECT_TRUE(connected.closed_by_broker(&got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<disconnect_packet>(got[0]).reason_code, reason::server_shutting_down);
}

// A program that starts others (the gateway's process interface, Python's
// subprocess) must not hand them the broker's sockets.
TEST_F(Runtime, ListeningAndAcceptedSocketsAreCloseOnExec) {
  runtime rt(engine, on("127.0.0.1"));
  ASSERT_FALSE(rt.start());
  test_client c(rt.bound().at(0).port, protocol_version::v5);
  ASSERT_EQ(c.connect("cloexec").reason_code, reason::success);
  EXPECT_TRUE(settles_at(rt, 1));
  int sockets = 0;
  for (int fd = 0; fd < 1024; ++fd) {
    char link[64] = {};
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    if (::readlink(path.c_str(), link, sizeof link - 1) <= 0 || std::string_view(link).substr(0, 7) != "socket:") continue;
    if (fd == c.fd()) continue;  // the test's own client
    ++sockets;
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << "descriptor " << fd;
  }
  EXPECT_GE(sockets, 2);  // the listener and the accepted connection
  rt.stop();
}

TEST_F(Runtime, AdoptedSocketsThatAreNotTcpAreClosed) {
  runtime rt(engine, runtime_options{});  // no listener at all
  ASSERT_FALSE(rt.start());
  EXPECT_TRUE(rt.bound().empty());
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  rt.adopt(pair[0]);
  timeval tv{5, 0};
  ::setsockopt(pair[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  EXPECT_EQ(::recv(pair[1], &c, 1, 0), 0);
  ::close(pair[1]);
  EXPECT_TRUE(settles_at(rt, 0));
}

// Out of descriptors, a listener stops accepting for a while (it would be
// reported ready again at once: a busy loop), then takes the connections
// that waited.
TEST_F(Runtime, AListenerOutOfDescriptorsPausesThenAcceptsWhatWaited) {
  // Nothing logged while out of descriptors: the sanitizers' own checks
  // need descriptors and fail in fmt's formatting.
  runtime rt(engine, on("127.0.0.1"));
  ASSERT_FALSE(rt.start());
  const auto port = rt.bound().at(0).port;

  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  const int next_fd = ::dup(0);  // the lowest free descriptor
  ASSERT_GE(next_fd, 0);
  ::close(next_fd);
  // Room for the client's socket only: the broker's accept fails.
  rlimit tight = before;
  tight.rlim_cur = static_cast<rlim_t>(next_fd + 1);
  rusage used_before{};
  ::getrusage(RUSAGE_SELF, &used_before);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  test_client client(port, protocol_version::v5);
  std::this_thread::sleep_for(400ms);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &before), 0);
  rusage used_after{};
  ::getrusage(RUSAGE_SELF, &used_after);

  EXPECT_EQ(client.connect("waited").reason_code, reason::success);
  // A busy loop would have used about the 400 ms; pausing, next to nothing.
  auto ms = [](const timeval& t) { return t.tv_sec * 1000 + t.tv_usec / 1000; };
  const auto cpu_ms = ms(used_after.ru_utime) + ms(used_after.ru_stime) - ms(used_before.ru_utime) -
                      ms(used_before.ru_stime);
  EXPECT_LT(cpu_ms, 200);
}

}  // namespace
}  // namespace tern::net
