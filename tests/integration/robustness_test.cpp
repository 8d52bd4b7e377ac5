// Black-box tests of tern::Broker over real sockets: malformed input closes
// only the offending connection, many clients, two brokers in one process,
// connections handed over by the embedding program.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "integration/broker_fixture.hpp"
#include "support/hex.hpp"

namespace tern::testing {
namespace {

constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

// ---------------------------------------------------------------- malformed input

struct bad_input {
  std::string name;
  std::vector<std::byte> v311_bytes;
  std::vector<std::byte> v5_bytes;
  reason code;  // in the DISCONNECT a 5.0 client gets
};

std::vector<bad_input> bad_inputs() {
  const auto mal = reason::malformed_packet;
  const auto pro = reason::protocol_error;
  return {
      {"RemainingLengthOfFiveBytes", from_hex("30 ff ff ff ff 7f"), from_hex("30 ff ff ff ff 7f"), mal},
      {"ReservedFlagsOfSubscribe", packet_bytes(0x80, "00 01 00 01 61 00"), packet_bytes(0x80, "00 01 00 00 01 61 00"),
       mal},
      {"ReservedFlagsOfPubrel", packet_bytes(0x60, "00 01"), packet_bytes(0x60, "00 01"), mal},
      {"PublishQos3", packet_bytes(0x36, "00 01 61 00 01"), packet_bytes(0x36, "00 01 61 00 01 00"), mal},
      {"WildcardInPublishTopic", packet_bytes(0x30, "00 03 61 2f 2b"), packet_bytes(0x30, "00 03 61 2f 2b 00"), mal},
      {"InvalidUtf8InPublishTopic", packet_bytes(0x30, "00 02 c0 80"), packet_bytes(0x30, "00 02 c0 80 00"), mal},
      {"InvalidUtf8InSubscribeFilter", packet_bytes(0x82, "00 01 00 01 ff 00"),
       packet_bytes(0x82, "00 01 00 00 01 ff 00"), mal},
      {"SecondConnect", encode(make_connect("again", v311), v311), encode(make_connect("again", v5), v5), pro},
      {"PublishPacketIdZero", packet_bytes(0x32, "00 01 61 00 00"), packet_bytes(0x32, "00 01 61 00 00 00"), pro},
      {"SubscribePacketIdZero", packet_bytes(0x82, "00 00 00 01 61 00"), packet_bytes(0x82, "00 00 00 00 01 61 00"),
       pro},
  };
}

struct bad_case {
  bad_input input;
  protocol_version version;
};

class Malformed : public ::testing::TestWithParam<bad_case> {};

std::vector<bad_case> bad_cases() {
  std::vector<bad_case> out;
  for (auto& b : bad_inputs()) {
    out.push_back({b, v311});
    out.push_back({b, v5});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Input, Malformed, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<bad_case>& i) {
                           return i.param.input.name + (i.param.version == v5 ? "_v5" : "_v311");
                         });

TEST_P(Malformed, ClosesOnlyThatConnection) {
  const auto& [input, v] = GetParam();
  running_broker b(2);
  test_client bystander(b.port, v5);
  ASSERT_EQ(bystander.connect("bystander").reason_code, reason::success);
  bystander.subscribe("still/#", qos::at_least_once);

  test_client bad(b.port, v);
  ASSERT_EQ(bad.connect("offender").reason_code, reason::success);
  bad.send_raw(v == v5 ? input.v5_bytes : input.v311_bytes);
  std::vector<packet> got;
  EXPECT_TRUE(bad.closed_by_broker(&got));
  if (v == v5) {
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<disconnect_packet>(got[0]));
    EXPECT_EQ(std::get<disconnect_packet>(got[0]).reason_code, input.code);
  } else {
    EXPECT_TRUE(got.empty());
  }

  test_client other(b.port, v311);
  ASSERT_EQ(other.connect("other").reason_code, reason::success);
  other.publish("still/here", "yes", qos::at_least_once);
  EXPECT_EQ(bystander.receive_publish().payload().view(), "yes");
  EXPECT_TRUE(bystander.alive());
}

TEST(MalformedBeforeConnect, AFirstPacketOtherThanConnectCloses) {
  running_broker b(1);
  test_client bad(b.port, v311);
  bad.send_raw(packet_bytes(0x30, "00 01 61"));
  std::vector<packet> got;
  EXPECT_TRUE(bad.closed_by_broker(&got));
  EXPECT_TRUE(got.empty());
  // An unknown protocol level: the 3.1.1 CONNACK with return code 0x01
  // (MQTT-3.1.2-2), which a 5.0 reader takes too, then closed.
  test_client unknown(b.port, v5);
  unknown.send_raw(packet_bytes(0x10, "00 04 4d 51 54 54 06 02 00 3c 00 01 61"));
  const auto raw = unknown.receive_raw();
  EXPECT_EQ(to_hex(raw.bytes), "20020001");
  EXPECT_TRUE(raw.closed);
  test_client good(b.port, v311);
  EXPECT_EQ(good.connect("good").reason_code, reason::success);
}

TEST(MalformedBeforeConnect, APeerThatNeverSendsConnectIsClosed) {
  auto c = test_config(1);
  Broker b(c);
  b.start();
  test_client silent(b.ports()[0], v311);
  // The default connect timeout is 10 s; the broker must not hold the
  // connection open forever, and stop() must close it.
  EXPECT_TRUE(silent.nothing_within(100ms));
  b.stop();
  EXPECT_TRUE(silent.closed_by_broker());
}

// ---------------------------------------------------------------- many clients

TEST(Load, AThousandClientsConnectSubscribeReceiveAndLeave) {
  running_broker b(2);
  constexpr int n = 1000;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<test_client>> clients;
  clients.reserve(n);
  for (int i = 0; i < n; ++i) {
    const auto v = i % 2 ? v5 : v311;
    auto c = std::make_unique<test_client>(b.port, v);
    ASSERT_GE(c->fd(), 0) << "client " << i;
    c->send(make_connect("many-" + std::to_string(i), v));
    c->send(subscribe_packet{1, {{"many/" + std::to_string(i), {qos::at_least_once}}}, {}});
    clients.push_back(std::move(c));
  }
  for (auto& c : clients) {
    ASSERT_EQ(c->expect<connack_packet>().reason_code, reason::success);
    ASSERT_EQ(c->expect<suback_packet>().reason_codes, std::vector{reason::granted_qos_1});
  }
  test_client pub(b.port, v5);
  ASSERT_EQ(pub.connect("publisher").reason_code, reason::success);
  for (int i = 0; i < n; ++i) {
    publish_packet m("many/" + std::to_string(i), shared_bytes::copy("for " + std::to_string(i)),
                     qos::at_least_once);
    m.packet_id = static_cast<std::uint16_t>(i + 1);
    pub.send(m);
  }
  for (int i = 0; i < n; ++i) ASSERT_EQ(pub.expect<puback_packet>().packet_id, i + 1);
  for (int i = 0; i < n; ++i) {
    auto m = clients[static_cast<std::size_t>(i)]->receive_publish();
    ASSERT_EQ(m.payload().view(), "for " + std::to_string(i));
  }
  for (auto& c : clients) c->disconnect();
  for (int i = 0; i < 200 && b.broker->stats().clients_connected.load() > 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(b.broker->stats().clients_connected.load(), 1u);
  EXPECT_EQ(b.broker->stats().clients_total.load(), 1u);  // clean sessions end with their connection
  for (int i = 0; i < 200 && b.broker->connections() > 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(b.broker->connections(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
}

TEST(Load, ConnectionsPastMaxConnectionsAreClosedAtOnce) {
  auto c = test_config(2);
  c.limits.max_connections = 2;
  running_broker b(c, nullptr);
  test_client one(b.port, v5), two(b.port, v311);
  ASSERT_EQ(one.connect("one").reason_code, reason::success);
  ASSERT_EQ(two.connect("two").reason_code, reason::success);
  test_client three(b.port, v5);
  EXPECT_TRUE(three.closed_by_broker());
  two.disconnect();
  for (int i = 0; i < 200 && b.broker->connections() > 1; ++i) std::this_thread::sleep_for(5ms);
  test_client four(b.port, v5);
  EXPECT_EQ(four.connect("four").reason_code, reason::success);
}

// ---------------------------------------------------------------- two brokers, external connections

TEST(Embedding, TwoBrokersInOneProcessAreIndependent) {
  running_broker a(1), b(2);
  ASSERT_NE(a.port, b.port);
  test_client sa(a.port, v5), sb(b.port, v311);
  sa.connect("same-id");
  sb.connect("same-id");
  sa.subscribe("x", qos::at_least_once);
  sb.subscribe("x", qos::at_least_once);
  test_client pa(a.port, v5);
  pa.connect("pub");
  pa.publish("x", "to a", qos::at_least_once);
  EXPECT_EQ(sa.receive_publish().payload().view(), "to a");
  test_client pb(b.port, v5);
  pb.connect("pub");
  pb.publish("x", "to b", qos::at_least_once);
  EXPECT_EQ(sb.receive_publish().payload().view(), "to b");
  EXPECT_TRUE(sa.nothing_within(100ms));
  a.broker->stop();
  std::vector<packet> got;
  EXPECT_TRUE(sa.closed_by_broker(&got));
  EXPECT_EQ(got.size(), 1u);  // DISCONNECT 0x8B
  EXPECT_TRUE(sb.alive());    // the other broker runs on
}

// Something that gives up its descriptor, as boost::asio::ip::tcp::socket does.
struct fake_socket {
  int fd;
  int release() { return std::exchange(fd, -1); }
};

TEST(Embedding, ConnectionsAcceptedByTheProgramAreServed) {
  running_broker b(2);
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const auto port = ntohs(a.sin_port);

  test_client first(port, v5), second(port, v311);
  b.broker->external_connected(::accept(listener, nullptr, nullptr));
  b.broker->external_connected(fake_socket{::accept(listener, nullptr, nullptr)});
  ::close(listener);
  ASSERT_EQ(first.connect("outside-1").reason_code, reason::success);
  ASSERT_EQ(second.connect("outside-2").reason_code, reason::success);
  first.subscribe("ext", qos::at_least_once);
  test_client normal(b.port, v5);
  normal.connect("inside");
  normal.publish("ext", "hello from inside", qos::at_least_once);
  EXPECT_EQ(first.receive_publish().payload().view(), "hello from inside");
  second.publish("ext", "hello from outside", qos::at_most_once);
  EXPECT_EQ(first.receive_publish().payload().view(), "hello from outside");

  // A broker that does not run closes what it is handed.
  b.broker->stop();
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  b.broker->external_connected(pair[0]);
  char c;
  EXPECT_EQ(::recv(pair[1], &c, 1, 0), 0);
  ::close(pair[1]);
}

}  // namespace
}  // namespace tern::testing
