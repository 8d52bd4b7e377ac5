// ternd as a process: it serves MQTT on the port it is given and stops
// gracefully on SIGTERM (MQTT 5 clients get DISCONNECT 0x8B), exiting 0.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "integration/test_client.hpp"

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

TEST(Ternd, ServesAndStopsGracefullyOnSigterm) {
#ifndef TERND_BINARY
  GTEST_SKIP() << "built without ternd";
#else
  const auto port = std::to_string(free_port());
  const char* argv[] = {TERND_BINARY, "--port", port.c_str(), "--storage", "memory", nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, TERND_BINARY, nullptr, nullptr, const_cast<char* const*>(argv), environ), 0);

  int fd = -1;
  for (int i = 0; i < 500 && fd < 0; ++i) {  // up to 5 s for the process to start listening
    fd = connect_tcp(static_cast<std::uint16_t>(std::stoi(port)));
    if (fd < 0) std::this_thread::sleep_for(10ms);
  }
  if (fd < 0) {
    ::kill(pid, SIGKILL);
    wait_for(pid, 5s);
    FAIL() << "ternd did not listen on port " << port;
  }
  test_client c(fd, protocol_version::v5);
  EXPECT_EQ(c.connect("ternd-test").reason_code, reason::success);
  EXPECT_TRUE(c.alive());

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  std::vector<packet> got;
  EXPECT_TRUE(c.closed_by_broker(&got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<disconnect_packet>(got[0]).reason_code, reason::server_shutting_down);
  const int status = wait_for(pid, 5s);
  if (status < 0) ::kill(pid, SIGKILL), wait_for(pid, 5s);
  EXPECT_EQ(status, 0);
#endif
}

}  // namespace
}  // namespace tern::testing
