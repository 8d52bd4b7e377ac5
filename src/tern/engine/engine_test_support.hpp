// tern/engine/engine_test_support.hpp: what the engine's tests share
// (engine_test.cpp, durability_test.cpp, access_test.cpp): a test endpoint,
// hooks that record, and the Engine fixture (raw packets in, decoded packets
// out, a manual clock, one or two workers). In a named namespace: GoogleTest
// wants one fixture class per suite across files.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <thread>

#include "tern/engine/engine.hpp"
#include "tern/log/capture_sink.hpp"

namespace tern::engine::test_support {

using namespace std::chrono_literals;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

// The network side of a test connection.
struct test_endpoint final : endpoint {
  using endpoint::endpoint;
  int wakes = 0;
  void wake() override { ++wakes; }
  std::string peer_address() const override { return "127.0.0.1:50000"; }
};

struct test_hooks : hooks {
  reason connect_answer = reason::success;
  std::string redirect_from, redirect_to;
  std::string discard_topic;
  qos subscribe_cap = qos::exactly_once;
  std::vector<std::string> disconnected;
  // Who published, as on_publish saw it: "client id|user name or -|peer".
  std::vector<std::string> publishers;
  reason on_connect(const connect_request& r) override {
    if (r.username && *r.username == "bad") return reason::bad_user_name_or_password;
    return connect_answer;
  }
  publish_verdict on_publish(const client_info& c, publish_packet& m) override {
    publishers.push_back(std::string(c.client_id) + "|" + std::string(c.username.value_or("-")) + "|" + c.peer());
    if (!redirect_from.empty() && m.topic() == redirect_from) m.set_topic(redirect_to);
    if (!discard_topic.empty() && m.topic() == discard_topic) return {publish_action::discard};
    return {};
  }
  reason on_subscribe(const client_info&, subscription& s) override {
    if (s.filter == "forbidden") return reason::not_authorized;
    s.options.max_qos = std::min(s.options.max_qos, subscribe_cap);
    return reason::success;
  }
  void on_disconnect(const client_info& c, const error&) override { disconnected.emplace_back(c.client_id); }
};

class Engine : public ::testing::Test {
 protected:
  struct client {
    Engine* t;
    protocol_version v;
    std::unique_ptr<endpoint> ep;
    std::deque<packet> in;  // packets the broker sent, not yet looked at
    decoder dec;

    void send(const packet& p) {
      auto b = encode(p, v);
      ep->receive(b, t->now);
      t->pump();
    }
    // Packets the broker wrote so far.
    void collect() {
      for (auto b : ep->output().buffers()) {
        bytes_view in_bytes = b;
        while (!in_bytes.empty()) {
          auto r = dec.next(in_bytes);
          ASSERT_TRUE(r) << r.error().message();
          if (*r) in.push_back(std::move(**r));
        }
      }
      ep->output().clear();
    }
    template <class P>
    P expect() {
      collect();
      if (in.empty()) {
        ADD_FAILURE() << "no packet; expected " << name(P::type);
        return P{};
      }
      auto p = std::move(in.front());
      in.pop_front();
      if (!std::holds_alternative<P>(p)) {
        ADD_FAILURE() << "got " << name(type_of(p)) << ", expected " << name(P::type);
        return P{};
      }
      return std::get<P>(std::move(p));
    }
    bool quiet() {
      collect();
      return in.empty();
    }
    void subscribe(std::string filter, qos q = qos::at_most_once, std::uint32_t id = 0, subscribe_options o = {}) {
      subscribe_packet s;
      s.packet_id = 1;
      o.max_qos = q;
      s.entries.push_back({std::move(filter), o});
      if (id) s.props = properties::builder{}.add<property_id::subscription_identifier>(id).build();
      send(s);
      (void)expect<suback_packet>();
    }
    void publish(std::string topic, std::string payload, qos q = qos::at_most_once, bool retain = false,
                 std::uint16_t id = 1) {
      publish_packet p(topic, shared_bytes::copy(payload), q, retain);
      if (q != qos::at_most_once) p.packet_id = id;
      send(p);
    }
    void close() {
      ep->transport_closed(error{reason::unspecified_error, "test closed"}, t->now);
      t->pump();
    }
  };

  void make(std::size_t workers = 1, options o = {}) {
    o.sys_interval = std::chrono::seconds(0);
    eng = std::make_unique<engine>(o, hooks_, *store, workers, now);
  }

  // Connects a client; returns it with the CONNACK still unread.
  std::unique_ptr<client> open(connect_packet c, std::size_t on_worker = 0) {
    auto cl = std::make_unique<client>(client{this, c.version, nullptr, {}, decoder({c.version})});
    cl->ep = std::make_unique<test_endpoint>(eng->worker_at(on_worker), now);
    clients.push_back(cl.get());
    cl->send(c);
    return cl;
  }
  std::unique_ptr<client> connect(std::string id, protocol_version v = v5, bool clean = true,
                                  std::uint32_t expiry = 0) {
    connect_packet c;
    c.version = v;
    c.client_id = std::move(id);
    c.clean_start = clean;
    if (expiry && v == v5) c.props = properties::builder{}.add<property_id::session_expiry_interval>(expiry).build();
    auto cl = open(std::move(c));
    auto ack = cl->expect<connack_packet>();
    EXPECT_EQ(ack.reason_code, reason::success);
    return cl;
  }

  // Admits pending connects on their owners and carries batches between
  // workers, as the network layer does, until nothing moves.
  void pump() {
    for (int round = 0; round < 10; ++round) {
      bool moved = false;
      for (auto* c : clients) {
        if (c->ep && c->ep->connect_pending()) {
          eng->worker_at(eng->owner_of(*c->ep)).admit(*c->ep, now);
          moved = true;
        }
      }
      if (eng->deliver_outboxes(now)) moved = true;
      if (!moved) break;
    }
    // The end of a loop turn, as the network layer does it.
    for (std::size_t w = 0; w < eng->workers(); ++w) EXPECT_TRUE(eng->worker_at(w).commit());
  }

  // The broker dies: the engine is abandoned as it is (it commits nothing
  // more; its clients are dead) and a new one recovers from the store.
  void crash_and_restart(std::size_t workers = 1, options o = {}) {
    pump();
    graveyard.push_back(std::move(eng));
    clients.clear();
    make(workers, o);
    auto r = eng->recover(now);
    ASSERT_TRUE(r) << r.error().message;
    recovered = *r;
  }

  void advance(std::chrono::seconds d) {
    now += d;
    for (std::size_t w = 0; w < eng->workers(); ++w) eng->worker_at(w).tick(now);
    pump();
  }

  time_point now{std::chrono::hours(1)};
  test_hooks hooks_;
  std::unique_ptr<storage::store> store = storage::make_memory_store();
  std::unique_ptr<engine> eng;
  std::vector<client*> clients;
  std::vector<std::unique_ptr<engine>> graveyard;  // crashed engines (their endpoints still point at them)
  recovery recovered;
};

}  // namespace tern::engine::test_support
