// tests/support/mosquitto.hpp: runs Debian's mosquitto
// (2.0.x) on a free port of 127.0.0.1 for black-box client tests.
//
//   tern::testing::mosquitto broker;              // picks a port, writes the config
//   ASSERT_TRUE(broker.start());                  // spawns it, waits until it accepts
//   client.async_connect(broker.uri(), ...);
//   broker.kill();                                // SIGKILL, like a crash
//   ASSERT_TRUE(broker.start());                  // again, on the same port
//
// Started as root, mosquitto drops to user `mosquitto`: the config lives in a
// world-readable temporary folder. It is stopped by pid (SIGTERM, then
// SIGKILL) in the destructor. Its log goes to /dev/null unless
// TERN_TEST_MOSQUITTO_LOG is set in the environment.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

extern char** environ;

namespace tern::testing {

// A port nobody listens on right now (bound to port 0, then released).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// True when something accepts TCP connections on 127.0.0.1:port.
inline bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class mosquitto {
 public:
  // `extra` is appended to the config (e.g. "max_inflight_messages 10\n").
  explicit mosquitto(std::string extra = {}) : port_(free_port()) {
    char tmpl[] = "/tmp/tern-mosquitto-XXXXXX";
    if (::mkdtemp(tmpl)) dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);
    config_ = dir_ + "/mosquitto.conf";
    std::ofstream out(config_);
    out << "listener " << port_ << " 127.0.0.1\n"
        << "allow_anonymous true\n"
        << "persistence false\n"
        << (std::getenv("TERN_TEST_MOSQUITTO_LOG") ? "log_dest stderr\nlog_type all\n" : "log_dest none\n")
        << extra;
    out.close();
    ::chmod(config_.c_str(), 0644);
  }
  ~mosquitto() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  mosquitto(const mosquitto&) = delete;
  mosquitto& operator=(const mosquitto&) = delete;

  std::uint16_t port() const { return port_; }
  std::string uri() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  bool running() const { return pid_ > 0; }

  // Spawns mosquitto and waits (up to 5 s) until it accepts connections.
  bool start() {
    if (pid_ > 0) return true;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!std::getenv("TERN_TEST_MOSQUITTO_LOG")) {
      posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    std::string prog = "/usr/sbin/mosquitto", c = "-c";
    char* argv[] = {prog.data(), c.data(), config_.data(), nullptr};
    const int rc = ::posix_spawn(&pid_, prog.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // it exited (port taken?)
        pid_ = -1;
        return false;
      }
      if (accepts(port_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  // SIGKILL: a crash; connections see a reset or EOF, nothing is flushed.
  void kill() { signal_and_reap(SIGKILL); }
  // SIGTERM, then SIGKILL if it is still there after 2 s.
  void stop() { signal_and_reap(SIGTERM); }

 private:
  void signal_and_reap(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid_ = -1;
  }

  std::uint16_t port_;
  std::string dir_;
  std::string config_;
  pid_t pid_ = -1;
};

}  // namespace tern::testing
