// tests/integration/broker_fixture.hpp: a tern::Broker on 127.0.0.1 with a
// port the OS picks, for the black-box tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "integration/test_client.hpp"
#include "tern/server/broker.hpp"

namespace tern::testing {

inline server::broker_config test_config(std::uint32_t io_threads) {
  server::broker_config c;
  c.listeners = {server::listener_config{}};
  c.listeners[0].address = "127.0.0.1";
  c.listeners[0].port = 0;
  c.io_threads = io_threads;
  c.sys_interval = 0;
  c.storage.backend = server::storage_backend::memory;
  return c;
}

// A started broker; stopped when it goes.
struct running_broker {
  explicit running_broker(std::uint32_t io_threads = 2, broker::hooks* hooks = nullptr)
      : running_broker(test_config(io_threads), hooks) {}
  running_broker(server::broker_config c, broker::hooks* hooks) {
    broker = hooks ? std::make_unique<Broker>(std::move(c), *hooks) : std::make_unique<Broker>(std::move(c));
    broker->start();
    port = broker->ports().at(0);
  }
  std::unique_ptr<Broker> broker;
  std::uint16_t port = 0;
};

}  // namespace tern::testing
