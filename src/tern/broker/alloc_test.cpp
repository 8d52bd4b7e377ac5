// Counts the heap bytes an idle connection holds in the engine: 1,000
// clients connect (3.1.1, clean session, keep alive) and stay idle; the
// bytes still allocated, per connection, must fit the budget below: the
// endpoint, its client_session (client id included) and its share of the
// worker's session tables, nothing else. A separate executable: it replaces
// the global operator new.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/heap_counter.hpp"
#include "tern/broker/engine.hpp"
#include "tern/codec/codec.hpp"

namespace tern::broker {
namespace {

struct quiet_endpoint final : endpoint {
  using endpoint::endpoint;
  void wake() override {}
  std::string peer_address() const override { return "127.0.0.1:50000"; }
};

// The budget of an idle connection of a clean session, in heap bytes: its
// endpoint (the session::connection plus at most 32 bytes, engine.cpp
// asserts it; the network layer's connection derives from it and adds its
// own few bytes), its client_session (at most 88 bytes, plus the client id
// in the same block) and its share of the worker's tables (a pointer in
// sessions_, one in slots_, with their spare capacity). Nothing else: no
// copy of the peer's address, no user name, no CONNECT kept, no output.
// Measured (1,000 connections): 128 + 100 + 26 = 254 (the tables: about 17
// bytes in sessions_, 8 in slots_).
constexpr std::size_t id_length = 12;  // "client-00042": kept in the session's block
constexpr std::size_t tables_budget = 32;
constexpr std::size_t budget = sizeof(session::connection) + 32 + 88 + id_length + tables_budget;

TEST(Memory, AnIdleConnectionHoldsOnlyItsEndpointAndSession) {
  constexpr int n = 1000;
  const time_point now{std::chrono::hours(1)};
  hooks h;
  auto store = storage::make_memory_store();
  options o;
  o.sys_interval = std::chrono::seconds(0);
  engine eng(o, h, *store, 1, now);
  auto& w = eng.worker_at(0);

  std::vector<std::vector<std::byte>> connects;
  for (int i = 0; i < n; ++i) {
    connect_packet c;
    c.version = protocol_version::v3_1_1;
    const auto number = std::to_string(i);
    c.client_id = "client-" + std::string(5 - number.size(), '0') + number;
    ASSERT_EQ(c.client_id.size(), id_length);
    c.clean_start = true;
    c.keep_alive = 60;
    connects.push_back(encode(packet{std::move(c)}, protocol_version::v3_1_1));
  }
  std::vector<std::unique_ptr<endpoint>> endpoints;
  endpoints.reserve(n);

  const long before = test::heap::live_bytes();
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<endpoint> ep = std::make_unique<quiet_endpoint>(w, now);
    ep->receive(connects[static_cast<std::size_t>(i)], now);
    ASSERT_TRUE(ep->connect_pending());
    eng.worker_at(eng.owner_of(*ep)).admit(*ep, now);
    ASSERT_TRUE(w.commit());
    ASSERT_TRUE(ep->connection().connected());
    ASSERT_FALSE(ep->output().empty());  // the CONNACK
    ep->output() = write_buffer{};       // written: the network layer takes the output
    endpoints.push_back(std::move(ep));
  }
  const long held = test::heap::live_bytes() - before;
  ASSERT_EQ(w.sessions(), static_cast<std::size_t>(n));

  const auto per_connection = static_cast<std::size_t>(held) / n;
  std::printf("idle connection: %zu heap bytes (endpoint %zu = session::connection %zu + %zu; "
              "client_session <= 88 + id %zu; tables and the rest %zu); budget %zu\n",
              per_connection, sizeof(endpoint), sizeof(session::connection),
              sizeof(endpoint) - sizeof(session::connection), id_length,
              per_connection - sizeof(endpoint) - 88 - id_length, budget);
  EXPECT_LE(per_connection, budget);

  // Everything goes with the connections (the tables keep their capacity).
  endpoints.clear();
  EXPECT_EQ(w.sessions(), 0u);
  EXPECT_LE(test::heap::live_bytes() - before, static_cast<long>(n * tables_budget));
}

}  // namespace
}  // namespace tern::broker
