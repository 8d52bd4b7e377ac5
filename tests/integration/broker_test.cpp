// Black-box tests of tern::Broker over real sockets on 127.0.0.1: the
// protocol flows of MQTT 3.1.1 and 5.0, with one and two io threads.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>

#include "integration/broker_fixture.hpp"

namespace tern::testing {
namespace {

constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

struct setup {
  protocol_version version;
  std::uint32_t threads;
};

std::string setup_name(const ::testing::TestParamInfo<setup>& i) {
  return std::string(i.param.version == v5 ? "v5" : "v311") + "_" + std::to_string(i.param.threads) + "threads";
}

class Flows : public ::testing::TestWithParam<setup> {
 protected:
  protocol_version v() const { return GetParam().version; }
  std::uint16_t port() const { return b_.port; }
  Broker& broker() { return *b_.broker; }

  // A client of the parameter's version, connected.
  std::unique_ptr<test_client> client(std::string id, bool clean_start = true) {
    auto c = std::make_unique<test_client>(port(), v());
    EXPECT_EQ(c->connect(std::move(id), clean_start).reason_code, reason::success);
    return c;
  }

  running_broker b_{GetParam().threads};
};

INSTANTIATE_TEST_SUITE_P(Versions, Flows,
                         ::testing::Values(setup{v311, 1}, setup{v311, 2}, setup{v5, 1}, setup{v5, 2}), setup_name);

TEST_P(Flows, PublishesAndSubscribesAtEveryQos) {
  auto sub = client("subscriber");
  auto pub = client("publisher");
  EXPECT_EQ(sub->subscribe("t/#", qos::exactly_once).reason_codes, std::vector{reason::granted_qos_2});
  for (auto q : {qos::at_most_once, qos::at_least_once, qos::exactly_once}) {
    const auto payload = "at qos " + std::to_string(static_cast<int>(q));
    pub->publish("t/x", payload, q, false, static_cast<std::uint16_t>(10 + static_cast<int>(q)));
    auto m = sub->receive_publish();
    EXPECT_EQ(m.topic(), "t/x");
    EXPECT_EQ(m.payload().view(), payload);
    EXPECT_EQ(m.qos, q);
    EXPECT_FALSE(m.retain);
  }
  // A subscription's QoS caps the delivery.
  auto low = client("low");
  low->subscribe("t/#", qos::at_most_once);
  pub->publish("t/y", "capped", qos::exactly_once, false, 20);
  EXPECT_EQ(low->expect<publish_packet>().qos, qos::at_most_once);
  EXPECT_EQ(sub->receive_publish().payload().view(), "capped");
  sub->disconnect();
  pub->disconnect();
}

TEST_P(Flows, PacketsSentWithTheConnectAreHandledAfterIt) {
  // CONNECT, SUBSCRIBE and PUBLISH in one write: the connection may move to
  // another thread between the CONNECT and the rest.
  for (int i = 0; i < 6; ++i) {
    const auto id = "eager-" + std::to_string(i);
    test_client c(port(), v());
    std::vector<std::byte> all;
    auto add = [&](const packet& p) {
      auto b = encode(p, v());
      all.insert(all.end(), b.begin(), b.end());
    };
    add(make_connect(id, v()));
    add(subscribe_packet{7, {{"eager/" + id, {qos::at_least_once}}}, {}});
    publish_packet m("eager/" + id, shared_bytes::copy("to myself"), qos::at_least_once);
    m.packet_id = 8;
    add(m);
    c.send_raw(all);
    EXPECT_EQ(c.expect<connack_packet>().reason_code, reason::success);
    EXPECT_EQ(c.expect<suback_packet>().packet_id, 7);
    bool acked = false, delivered = false;
    for (int k = 0; k < 2; ++k) {
      auto p = c.receive();
      ASSERT_TRUE(p) << id;
      if (auto* a = std::get_if<puback_packet>(&*p)) acked = a->packet_id == 8;
      if (auto* d = std::get_if<publish_packet>(&*p)) delivered = d->payload().view() == "to myself";
    }
    EXPECT_TRUE(acked && delivered) << id;
  }
}

TEST_P(Flows, RetainedMessagesGoToLaterSubscribers) {
  auto pub = client("publisher");
  pub->publish("r/1", "kept", qos::at_least_once, true);
  auto sub = client("subscriber");
  sub->subscribe("r/#", qos::at_least_once);
  auto m = sub->receive_publish();
  EXPECT_EQ(m.topic(), "r/1");
  EXPECT_EQ(m.payload().view(), "kept");
  EXPECT_TRUE(m.retain);
  // Live messages to a subscriber carry no RETAIN (3.1.1 3.3.1.3; 5.0 without Retain As Published).
  pub->publish("r/1", "live", qos::at_most_once, true);
  EXPECT_FALSE(sub->expect<publish_packet>().retain);
  // An empty retained message clears the topic.
  pub->publish("r/1", "", qos::at_least_once, true);
  (void)sub->expect<publish_packet>();
  auto late = client("late");
  late->subscribe("r/#", qos::at_least_once);
  EXPECT_TRUE(late->nothing_within(200ms));
}

TEST_P(Flows, AWillIsPublishedWhenTheConnectionDropsWithoutDisconnect) {
  auto watcher = client("watcher");
  watcher->subscribe("will/#", qos::at_least_once);
  auto with_will = [&](std::string id) {
    auto c = make_connect(id, v());
    c.will = will_message{"will/" + id, shared_bytes::copy(id + " is gone"), qos::at_least_once, false, {}};
    auto t = std::make_unique<test_client>(port(), v());
    EXPECT_EQ(t->connect(c).reason_code, reason::success);
    return t;
  };
  with_will("polite")->disconnect();  // DISCONNECT: no will
  with_will("dying")->close();        // the socket closes: the will
  auto m = watcher->receive_publish();
  EXPECT_EQ(m.topic(), "will/dying");
  EXPECT_EQ(m.payload().view(), "dying is gone");
  EXPECT_EQ(m.qos, qos::at_least_once);
  EXPECT_TRUE(watcher->nothing_within(100ms));
}

TEST_P(Flows, ASecondConnectionWithTheSameClientIdTakesTheSessionOver) {
  auto first = client("same");
  first->subscribe("mine", qos::at_least_once);
  auto second = client("same", false);
  std::vector<packet> before_close;
  EXPECT_TRUE(first->closed_by_broker(&before_close));
  if (v() == v5) {
    ASSERT_EQ(before_close.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<disconnect_packet>(before_close[0]));
    EXPECT_EQ(std::get<disconnect_packet>(before_close[0]).reason_code, reason::session_taken_over);
  } else {
    EXPECT_TRUE(before_close.empty());
  }
  EXPECT_TRUE(second->alive());
}

TEST_P(Flows, APersistentSessionKeepsSubscriptionsAndQueuedMessages) {
  auto persistent = [&](bool clean_start) {
    auto c = make_connect("keeper", v(), clean_start);
    if (v() == v5) c.props = properties::builder{}.add<property_id::session_expiry_interval>(300).build();
    else c.clean_start = false;
    return c;
  };
  {
    test_client k(port(), v());
    EXPECT_FALSE(k.connect(persistent(true)).session_present);
    k.subscribe("p/#", qos::at_least_once);
    k.disconnect();
  }
  auto pub = client("publisher");
  pub->publish("p/1", "while away", qos::at_least_once);
  test_client k(port(), v());
  auto ack = k.connect(persistent(false));
  EXPECT_EQ(ack.reason_code, reason::success);
  EXPECT_TRUE(ack.session_present);
  auto m = k.receive_publish();
  EXPECT_EQ(m.topic(), "p/1");
  EXPECT_EQ(m.payload().view(), "while away");
  // The subscription itself survived too.
  pub->publish("p/2", "live", qos::at_least_once, false, 2);
  EXPECT_EQ(k.receive_publish().payload().view(), "live");
}

TEST_P(Flows, StopSendsServerShuttingDownToMqtt5Clients) {
  auto c = client("leaving");
  auto other = std::make_unique<test_client>(port(), v() == v5 ? v311 : v5);
  (void)other->connect("other");
  const auto start = std::chrono::steady_clock::now();
  broker().stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_FALSE(broker().running());
  for (auto* t : {c.get(), other.get()}) {
    std::vector<packet> got;
    EXPECT_TRUE(t->closed_by_broker(&got));
    if (t->version() == v5) {
      ASSERT_EQ(got.size(), 1u);
      ASSERT_TRUE(std::holds_alternative<disconnect_packet>(got[0]));
      EXPECT_EQ(std::get<disconnect_packet>(got[0]).reason_code, reason::server_shutting_down);
    } else {
      EXPECT_TRUE(got.empty());
    }
  }
  EXPECT_LT(connect_tcp(port()), 0);  // no longer listening
  broker().stop();                    // idempotent
}

TEST_P(Flows, LargeMessagesCrossWhole) {
  auto sub = client("subscriber");
  auto pub = client("publisher");
  sub->subscribe("big", qos::at_least_once);
  std::string payload(600 * 1024, 'x');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 23);
  pub->publish("big", payload, qos::at_least_once);
  auto m = sub->receive_publish();
  EXPECT_TRUE(m.payload().view() == payload);
}

// A subscriber that stops reading: the broker writes what its socket takes
// and keeps the rest pending, drops QoS 0 messages for it past its backlog
// (its memory does not grow with the stalled reader), serves everyone else
// meanwhile, and when the subscriber reads again it gets whole packets in
// order, then what is published after.
TEST_P(Flows, AStalledSubscriberGetsWholePacketsInOrderAndHoldsUpNobody) {
  auto stalled = client("stalled");
  auto other = client("other");
  auto pub = client("publisher");
  stalled->subscribe("flood", qos::at_most_once);
  other->subscribe("note", qos::at_least_once);
  constexpr int count = 400;  // 25 MiB: more than the socket buffers and the backlog hold
  std::string payload(64 * 1024, 'p');
  for (int i = 0; i < count; ++i) {
    std::memcpy(payload.data(), &i, sizeof i);
    pub->publish("flood", payload);
  }
  pub->publish("note", "still here", qos::at_least_once);
  EXPECT_EQ(other->receive_publish().payload().view(), std::string_view("still here"));
  EXPECT_TRUE(pub->alive());

  int received = 0, last = -1;
  while (auto p = stalled->receive(500ms)) {
    auto* m = std::get_if<publish_packet>(&*p);
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->payload().size(), payload.size());
    int n = 0;
    std::memcpy(&n, m->payload().view().data(), sizeof n);
    EXPECT_GT(n, last);
    last = n;
    ++received;
  }
  EXPECT_GT(received, 0);
  EXPECT_LT(received, count);  // some were dropped for it, counted by the broker
  pub->publish("flood", "after");
  auto m = stalled->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), std::string_view("after"));
}

// ---------------------------------------------------------------- keep alive, hooks

TEST(Broker, KeepAliveTimeoutClosesTheConnection) {
  running_broker b(1);
  test_client c(b.port, v5);
  (void)c.connect(make_connect("sleepy", v5, true, 1));
  const auto start = std::chrono::steady_clock::now();
  std::vector<packet> got;
  EXPECT_TRUE(c.closed_by_broker(&got));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 1400ms);
  EXPECT_LT(waited, 3000ms);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<disconnect_packet>(got[0]).reason_code, reason::keep_alive_timeout);
}

struct gate : engine::hooks {
  reason on_connect(const engine::connect_request& r) override {
    if (r.username == "alice" && r.password == "secret") return reason::success;
    return reason::bad_user_name_or_password;
  }
  engine::publish_verdict on_publish(const engine::client_info&, publish_packet& m) override {
    if (m.topic().starts_with("raw/")) m.set_topic("clean/" + std::string(m.topic().substr(4)));
    if (m.topic() == "drop") return {engine::publish_action::discard};
    return {};
  }
};

TEST(Broker, HooksRefuseConnectionsAndRedirectOrDiscardMessages) {
  gate hooks;
  running_broker b(2, &hooks);
  for (auto v : {v311, v5}) {
    test_client intruder(b.port, v);
    auto c = make_connect("intruder", v);
    c.username = "alice";
    c.password = "guess";
    EXPECT_EQ(intruder.connect(c).reason_code, reason::bad_user_name_or_password);
    EXPECT_TRUE(intruder.closed_by_broker());
  }
  auto welcome = [&](std::string id) {
    auto t = std::make_unique<test_client>(b.port, v5);
    auto c = make_connect(std::move(id), v5);
    c.username = "alice";
    c.password = "secret";
    EXPECT_EQ(t->connect(c).reason_code, reason::success);
    return t;
  };
  auto listener = welcome("listener");
  auto talker = welcome("talker");
  listener->subscribe("clean/#", qos::at_least_once);
  listener->subscribe("drop", qos::at_least_once, 2);
  listener->subscribe("raw/#", qos::at_least_once, 3);
  talker->publish("drop", "nobody hears this", qos::at_least_once);
  talker->publish("raw/t", "redirected", qos::at_least_once, false, 3);
  auto m = listener->receive_publish();
  EXPECT_EQ(m.topic(), "clean/t");
  EXPECT_EQ(m.payload().view(), "redirected");
  EXPECT_TRUE(listener->nothing_within(50ms));
}

TEST(Broker, StartFailsOnAPortInUseAndOnAFileThatDoesNotLoad) {
  running_broker first(1);
  auto c = test_config(1);
  c.listeners[0].port = first.port;
  Broker second(c);
  try {
    second.start();
    ADD_FAILURE() << "started on a port in use";
  } catch (const std::system_error& e) {
    // The message says it once: "bind 127.0.0.1:N: Address already in use".
    const std::string what = e.what(), says = e.code().message();
    EXPECT_EQ(e.code(), std::errc::address_in_use);
    EXPECT_NE(what.find(std::to_string(first.port)), std::string::npos) << what;
    EXPECT_EQ(what.find(says), what.rfind(says)) << what;
  }
  EXPECT_FALSE(second.running());
  auto tls = test_config(1);
  tls.listeners[0].protocol = server::listener_protocol::wss;  // with a certificate that is not there
  tls.listeners[0].cert_file = "/nonexistent/server.crt";
  tls.listeners[0].key_file = "/nonexistent/server.key";
  Broker third(tls);
  std::error_code ec;
  third.start(ec);
  EXPECT_TRUE(ec);
}

TEST(Broker, ListensOnIpv6AndOnSeveralListeners) {
  {  // Is there an IPv6 loopback at all?
    const int probe = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    const bool ok = probe >= 0 && ::bind(probe, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    if (probe >= 0) ::close(probe);
    if (!ok) GTEST_SKIP() << "no IPv6 loopback here";
  }
  auto c = test_config(2);
  c.listeners.push_back(c.listeners[0]);
  c.listeners[1].address = "::1";
  Broker b(c);
  b.start();
  ASSERT_EQ(b.ports().size(), 2u);
  ASSERT_EQ(b.addresses().size(), 2u);
  EXPECT_EQ(b.addresses()[1], "[::1]:" + std::to_string(b.ports()[1]));
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(b.ports()[1]);
  a.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  test_client six(fd, v5);
  EXPECT_EQ(six.connect("six").reason_code, reason::success);
  EXPECT_TRUE(six.alive());
  test_client four(b.ports()[0], v311);
  EXPECT_EQ(four.connect("four").reason_code, reason::success);
}

}  // namespace
}  // namespace tern::testing
