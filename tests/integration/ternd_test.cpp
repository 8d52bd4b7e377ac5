// ternd as a process: it serves MQTT on the port it is given and stops
// gracefully on SIGTERM (MQTT 5 clients get DISCONNECT 0x8B), exiting 0;
// SIGHUP does not stop it.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/test_client.hpp"

extern char** environ;

namespace tern::testing {
namespace {

// A port that was free a moment ago.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// The exit status of `pid`, waiting at most `limit`; -1 if it is still running.
int wait_for(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(10ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#ifdef TERND_BINARY
// A ternd process on a free port with the memory store, and a socket to it.
struct ternd_process {
  ternd_process() {
    const auto p = std::to_string(port);
    const char* argv[] = {TERND_BINARY, "--port", p.c_str(), "--storage", "memory", nullptr};
    EXPECT_EQ(::posix_spawn(&pid, TERND_BINARY, nullptr, nullptr, const_cast<char* const*>(argv), environ), 0);
  }
  ~ternd_process() {
    if (pid > 0 && wait_for(pid, 0ms) < 0) ::kill(pid, SIGKILL), wait_for(pid, 5s);
  }
  // A socket connected to it, within 5 s; -1 if it does not listen.
  int connect() const {
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; ++i) {
      fd = connect_tcp(port);
      if (fd < 0) std::this_thread::sleep_for(10ms);
    }
    return fd;
  }
  // Its exit status once it exits (within 5 s), -1 if it does not.
  int exit_status() {
    const int status = wait_for(pid, 5s);
    if (status >= 0) pid = -1;
    return status;
  }
  std::uint16_t port = free_port();
  pid_t pid = -1;
};
#endif

TEST(Ternd, ServesAndStopsGracefullyOnSigterm) {
#ifndef TERND_BINARY
  GTEST_SKIP() << "built without ternd";
#else
  ternd_process ternd;
  const int fd = ternd.connect();
  ASSERT_GE(fd, 0) << "ternd did not listen on port " << ternd.port;
  test_client c(fd, protocol_version::v5);
  EXPECT_EQ(c.connect("ternd-test").reason_code, reason::success);
  EXPECT_TRUE(c.alive());

  ASSERT_EQ(::kill(ternd.pid, SIGTERM), 0);
  std::vector<packet> got;
  EXPECT_TRUE(c.closed_by_broker(&got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<disconnect_packet>(got[0]).reason_code, reason::server_shutting_down);
  EXPECT_EQ(ternd.exit_status(), 0);
#endif
}

// Issue 16, fault 7: SIGHUP (sent to reload) used to kill ternd.
TEST(Ternd, SighupIsNotFatal) {
#ifndef TERND_BINARY
  GTEST_SKIP() << "built without ternd";
#else
  ternd_process ternd;
  const int fd = ternd.connect();
  ASSERT_GE(fd, 0) << "ternd did not listen on port " << ternd.port;
  test_client c(fd, protocol_version::v3_1_1);
  EXPECT_EQ(c.connect("hup").reason_code, reason::success);
  ASSERT_EQ(::kill(ternd.pid, SIGHUP), 0);
  ASSERT_EQ(::kill(ternd.pid, SIGHUP), 0);
  EXPECT_TRUE(c.alive());
  test_client after(ternd.connect(), protocol_version::v5);
  EXPECT_EQ(after.connect("after-hup").reason_code, reason::success);
  EXPECT_EQ(wait_for(ternd.pid, 0ms), -1) << "ternd exited";
  ASSERT_EQ(::kill(ternd.pid, SIGTERM), 0);
  EXPECT_EQ(ternd.exit_status(), 0);
#endif
}

}  // namespace
}  // namespace tern::testing
