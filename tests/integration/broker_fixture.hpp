// tests/integration/broker_fixture.hpp: a tern::Broker on 127.0.0.1 with a
// port the OS picks, for the black-box tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "support/test_client.hpp"
#include "tern/server/broker.hpp"

namespace tern::testing {

inline server::config test_config(std::uint32_t io_threads) {
  server::config c;
  c.listeners = {server::listener_config{}};
  c.listeners[0].address = "127.0.0.1";
  c.listeners[0].port = 0;
  c.io_threads = io_threads;
  c.sys_interval = 0;
  c.storage.backend = server::storage_backend::memory;
  return c;
}

// Sockets on local port `port` in state CLOSE-WAIT (the peer closed, this
// side did not): a connection the broker failed to notice the end of.
inline int close_wait_sockets(std::uint16_t port) {
  int n = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const auto colon = local.rfind(':');
      if (colon == std::string::npos || state != "08") continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) ++n;
    }
  }
  return n;
}

// Waits (at most `limit`) until no socket of `port` is in CLOSE-WAIT; how many are left.
inline int close_wait_sockets_after(std::uint16_t port, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int n = close_wait_sockets(port);
  while (n > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    n = close_wait_sockets(port);
  }
  return n;
}

// A started broker; stopped when it goes. Every test that uses one checks on
// the way out that the broker closed every connection its peer closed (none
// left in CLOSE-WAIT; clients declared after the broker are gone by then).
struct running_broker {
  explicit running_broker(std::uint32_t io_threads = 2, engine::hooks* hooks = nullptr)
      : running_broker(test_config(io_threads), hooks) {}
  running_broker(server::config c, engine::hooks* hooks) {
    broker = hooks ? std::make_unique<Broker>(std::move(c), *hooks) : std::make_unique<Broker>(std::move(c));
    broker->start();
    port = broker->ports().at(0);
  }
  ~running_broker() {
    if (port != 0) {
      EXPECT_EQ(close_wait_sockets_after(port, std::chrono::seconds(3)), 0) << "sockets left in CLOSE-WAIT";
    }
  }
  running_broker(const running_broker&) = delete;
  running_broker& operator=(const running_broker&) = delete;
  std::unique_ptr<Broker> broker;
  std::uint16_t port = 0;
};

}  // namespace tern::testing
