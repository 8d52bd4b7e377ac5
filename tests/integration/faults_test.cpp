// Black-box tests of faults found by using the broker as a hostile or careless
// client would (issue 16), over real sockets: each one failed on the broker
// before its fix. Protocol faults of the session layer are in
// protocol_faults_test.cpp.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/broker_fixture.hpp"
#include "tern/log/capture_sink.hpp"
#include "support/hex.hpp"

namespace tern::testing {
namespace {

constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

// Sends `bytes` and the end of the stream in one segment, as a program that
// writes and exits does: corked with MSG_MORE, so that the FIN of shutdown()
// leaves with the data.
void send_and_close(int fd, bytes_view bytes) {
  if (!bytes.empty()) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_MORE | MSG_NOSIGNAL), ssize_t(bytes.size()));
  }
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
}

// Writes all of `bytes`; the error (EPIPE, ECONNRESET: the broker closed
// while the client wrote) or 0.
int write_all(int fd, bytes_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return 0;
}

connect_packet connect_with_will(const std::string& id, protocol_version v) {
  auto c = make_connect(id, v);
  c.will = will_message{"will/" + id, shared_bytes::copy(id), qos::at_least_once, false, {}};
  return c;
}

// ---------------------------------------------------------------- fault 1: the last bytes and the FIN together

void watch_wills(test_client& watcher) {
  ASSERT_EQ(watcher.connect("watcher").reason_code, reason::success);
  watcher.subscribe("will/#", qos::at_least_once);
}

// The distinct wills among the next `n` messages.
std::size_t wills_received(test_client& watcher, int n) {
  std::set<std::string> wills;
  for (int i = 0; i < n; ++i) wills.insert(std::string(watcher.receive_publish().topic()));
  return wills.size();
}

struct last_words {
  std::string name;
  std::vector<std::byte> bytes;  // sent after the CONNECT was answered, with the FIN
};

class EndOfStreamWithTheLastBytes : public ::testing::TestWithParam<last_words> {};

INSTANTIATE_TEST_SUITE_P(
    Fault1, EndOfStreamWithTheLastBytes,
    ::testing::Values(last_words{"Publish", packet_bytes(0x30, "00 01 61 68 69")},
                      last_words{"Pingreq", from_hex("c0 00")},
                      last_words{"PartialPacket", from_hex("30 ff")},
                      last_words{"Nothing", {}}),
    [](const ::testing::TestParamInfo<last_words>& i) { return i.param.name; });

// Five clients at once (on two io threads) each connect with a will, send
// their last bytes with the FIN and wait: the broker must close every one
// (none left in CLOSE-WAIT) and publish every will.
TEST_P(EndOfStreamWithTheLastBytes, ClosesTheConnectionAndPublishesTheWill) {
  running_broker b(2);
  test_client watcher(b.port, v5);
  watch_wills(watcher);
  constexpr int n = 5;
  std::vector<std::unique_ptr<test_client>> clients;
  for (int i = 0; i < n; ++i) {
    const auto v = i % 2 ? v5 : v311;
    auto c = std::make_unique<test_client>(b.port, v);
    ASSERT_EQ(c->connect(connect_with_will("last-" + std::to_string(i), v)).reason_code, reason::success);
    clients.push_back(std::move(c));
  }
  for (auto& c : clients) send_and_close(c->fd(), GetParam().bytes);
  EXPECT_EQ(wills_received(watcher, n), std::size_t(n));
  EXPECT_EQ(close_wait_sockets_after(b.port, std::chrono::seconds(1)), 0);
  for (auto& c : clients) EXPECT_TRUE(c->closed_by_broker());
}

// The CONNECT itself and the FIN in one segment: the connection moves to
// the io thread that owns its client id, is accepted there, and ends.
TEST(Fault1, ConnectAndEndOfStreamInOneSegment) {
  running_broker b(2);
  test_client watcher(b.port, v5);
  watch_wills(watcher);
  constexpr int n = 6;
  std::vector<std::unique_ptr<test_client>> clients;
  for (int i = 0; i < n; ++i) {
    const auto v = i % 2 ? v5 : v311;
    clients.push_back(std::make_unique<test_client>(b.port, v));
    send_and_close(clients.back()->fd(), encode(connect_with_will("brief-" + std::to_string(i), v), v));
  }
  for (auto& c : clients) EXPECT_EQ(c->expect<connack_packet>().reason_code, reason::success);
  EXPECT_EQ(wills_received(watcher, n), std::size_t(n));
  EXPECT_EQ(close_wait_sockets_after(b.port, std::chrono::seconds(1)), 0);
}

// ---------------------------------------------------------------- fault 2: the reason, not a reset

// A 5.0 client sends one QoS 2 PUBLISH more than the broker's Receive
// Maximum allows, then answers each PUBREC with PUBREL as clients do. The
// broker ends the connection with DISCONNECT 0x93; the client's writes
// must not fail (a client stops at a failed write) before it reads why.
TEST(Fault2, AClientStillWritingReadsTheDisconnect) {
  auto config = test_config(1);
  config.limits.receive_maximum = 64;
  running_broker b(config, nullptr);
  test_client c(b.port, v5);
  ASSERT_EQ(c.connect("eager").reason_code, reason::success);
  std::vector<std::byte> burst;
  for (std::uint16_t id = 1; id <= 65; ++id) {
    publish_packet p("t", shared_bytes::copy("x"), qos::exactly_once);
    p.packet_id = id;
    const auto bytes = encode(p, v5);
    burst.insert(burst.end(), bytes.begin(), bytes.end());
  }
  c.send_raw(burst);
  std::optional<disconnect_packet> why;
  int pubrecs = 0;
  while (auto p = c.receive()) {
    if (auto* r = std::get_if<pubrec_packet>(&*p)) {
      ++pubrecs;
      const auto pubrel = encode(pubrel_packet{r->packet_id, reason::success, {}, {}}, v5);
      ASSERT_EQ(write_all(c.fd(), pubrel), 0) << "writing PUBREL " << r->packet_id << " failed before the DISCONNECT "
                                              << (why ? "was read" : "was read: none read");
      std::this_thread::sleep_for(1ms);  // as slow as a client that does some work per message
    } else if (auto* d = std::get_if<disconnect_packet>(&*p)) {
      why = *d;
      break;  // a client stops writing here
    }
  }
  ASSERT_TRUE(why) << "no DISCONNECT read after " << pubrecs << " PUBRECs";
  EXPECT_EQ(why->reason_code, reason::receive_maximum_exceeded);
}

// A refused CONNECT with more packets behind it: the client reads the
// CONNACK with the reason, then the end of the stream (no reset).
TEST(Fault2, ARefusedClientReadsTheConnack) {
  auto config = test_config(1);
  running_broker b(config, nullptr);
  for (auto v : {v311, v5}) {
    test_client c(b.port, v);
    auto bad = make_connect("", v, /*clean_start=*/false);  // MQTT-3.1.3-8 on 3.1.1; allowed on 5.0
    if (v == v5) bad = make_connect("same", v);
    c.send(bad);
    if (v == v5) {
      ASSERT_EQ(c.expect<connack_packet>().reason_code, reason::success);
      test_client again(b.port, v5);
      ASSERT_EQ(again.connect("same").reason_code, reason::success);  // takes the session over
      std::vector<std::byte> more;
      for (int i = 0; i < 2000; ++i) {
        const auto ping = encode(pingreq_packet{}, v5);
        more.insert(more.end(), ping.begin(), ping.end());
      }
      std::vector<packet> got;
      for (int i = 0; i < 20; ++i) ASSERT_EQ(write_all(c.fd(), more), 0);  // still writing while it is disconnected
      EXPECT_TRUE(c.closed_by_broker(&got));
      ASSERT_FALSE(got.empty());
      ASSERT_TRUE(std::holds_alternative<disconnect_packet>(got.back())) << name(type_of(got.back()));
      EXPECT_EQ(std::get<disconnect_packet>(got.back()).reason_code, reason::session_taken_over);
    } else {
      const auto ping = encode(pingreq_packet{}, v);
      for (int i = 0; i < 2000; ++i) ASSERT_EQ(write_all(c.fd(), ping), 0);
      std::vector<packet> got;
      EXPECT_TRUE(c.closed_by_broker(&got));
      ASSERT_EQ(got.size(), 1u);
      EXPECT_EQ(std::get<connack_packet>(got[0]).reason_code, reason::client_identifier_not_valid);
    }
  }
}

// ---------------------------------------------------------------- fault 5: $SYS is the broker's

TEST(Fault5, ClientsCannotPublishIntoSys) {
  running_broker b(2);  // sys_interval 0: the broker itself publishes nothing there
  test_client watcher(b.port, v5);
  ASSERT_EQ(watcher.connect("watcher").reason_code, reason::success);
  watcher.subscribe("$SYS/#", qos::at_least_once);
  watcher.subscribe("ok", qos::at_least_once);

  test_client forger(b.port, v5);
  ASSERT_EQ(forger.connect("forger").reason_code, reason::success);
  publish_packet fake("$SYS/broker/clients/connected", shared_bytes::copy("999"), qos::at_least_once, true);
  fake.packet_id = 7;
  forger.send(fake);
  const auto ack = forger.expect<puback_packet>();
  EXPECT_EQ(ack.packet_id, 7);
  EXPECT_EQ(ack.reason_code, reason::not_authorized);
  forger.send(publish_packet("$SYS/broker/uptime", shared_bytes::copy("0"), qos::at_most_once));

  test_client old(b.port, v311);
  ASSERT_EQ(old.connect("old-forger").reason_code, reason::success);
  old.publish("$SYS/broker/version", "mosquitto", qos::exactly_once);  // acknowledged (3.1.1 cannot refuse), dropped
  old.publish("ok", "after", qos::at_least_once);
  EXPECT_EQ(watcher.receive_publish().topic(), "ok");  // and nothing from $SYS before it
  EXPECT_TRUE(forger.alive());
  test_client later(b.port, v5);  // the retained forgery was not kept either
  ASSERT_EQ(later.connect("later").reason_code, reason::success);
  later.subscribe("$SYS/#", qos::at_least_once);
  EXPECT_TRUE(later.nothing_within(100ms));
}

TEST(Fault5, AWillIntoSysIsRefused) {
  running_broker b(1);
  for (auto v : {v311, v5}) {
    test_client c(b.port, v);
    auto connect = make_connect("will-forger", v);
    connect.will = will_message{"$SYS/broker/clients/connected", shared_bytes::copy("0"), qos::at_most_once, false, {}};
    EXPECT_EQ(c.connect(connect).reason_code, reason::not_authorized);  // 3.1.1: return code 5
    EXPECT_TRUE(c.closed_by_broker());
  }
}

// ---------------------------------------------------------------- fault 6: topic depth

std::string topic_of_levels(std::size_t n) {
  std::string t = "a";
  for (std::size_t i = 1; i < n; ++i) t += "/a";
  return t;
}

TEST(Fault6, TopicsDeeperThanTheLimitAreRefused) {
  running_broker b(2);  // limits.max_topic_levels: 200 by default
  const auto deepest = topic_of_levels(200), deeper = topic_of_levels(201);
  test_client sub(b.port, v5);
  ASSERT_EQ(sub.connect("sub").reason_code, reason::success);
  EXPECT_EQ(sub.subscribe(deepest, qos::at_least_once).reason_codes, std::vector{reason::granted_qos_1});
  EXPECT_EQ(sub.subscribe(deeper, qos::at_least_once, 2).reason_codes, std::vector{reason::topic_filter_invalid});
  test_client old_sub(b.port, v311);
  ASSERT_EQ(old_sub.connect("old-sub").reason_code, reason::success);
  EXPECT_EQ(old_sub.subscribe(deeper, qos::at_least_once).reason_codes, std::vector{reason::unspecified_error});

  test_client pub(b.port, v5);
  ASSERT_EQ(pub.connect("pub").reason_code, reason::success);
  pub.publish(deepest, "fits", qos::at_least_once);
  EXPECT_EQ(sub.receive_publish().payload().view(), "fits");
  publish_packet too_deep(deeper, shared_bytes::copy("no"), qos::at_least_once);
  too_deep.packet_id = 9;
  pub.send(too_deep);
  EXPECT_EQ(pub.expect<puback_packet>().reason_code, reason::topic_name_invalid);
  EXPECT_TRUE(pub.alive());
  pub.send(publish_packet(topic_of_levels(32'768), shared_bytes::copy("no"), qos::at_most_once));
  std::vector<packet> got;
  EXPECT_TRUE(pub.closed_by_broker(&got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<disconnect_packet>(got[0]).reason_code, reason::topic_name_invalid);

  test_client old_pub(b.port, v311);
  ASSERT_EQ(old_pub.connect("old-pub").reason_code, reason::success);
  old_pub.send(publish_packet(deeper, shared_bytes::copy("no"), qos::at_most_once));
  got.clear();
  EXPECT_TRUE(old_pub.closed_by_broker(&got));
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(sub.nothing_within(100ms));
}

TEST(Fault6, TheLimitIsConfigurableAndAppliesToWills) {
  auto config = test_config(1);
  config.limits.max_topic_levels = 3;
  running_broker b(config, nullptr);
  test_client c(b.port, v5);
  auto connect = make_connect("deep-will", v5);
  connect.will = will_message{"a/b/c/d", shared_bytes::copy("x"), qos::at_most_once, false, {}};
  EXPECT_EQ(c.connect(connect).reason_code, reason::topic_name_invalid);
  EXPECT_TRUE(c.closed_by_broker());
  test_client fine(b.port, v311);
  EXPECT_EQ(fine.connect("fine").reason_code, reason::success);
  EXPECT_EQ(fine.subscribe("a/b/+", qos::at_most_once).reason_codes, std::vector{reason::granted_qos_0});
  EXPECT_EQ(fine.subscribe("a/b/c/#", qos::at_most_once, 2).reason_codes, std::vector{reason::unspecified_error});
}

TEST(Fault6, ADeepWillOn311ClosesWithoutConnack) {
  auto config = test_config(1);
  config.limits.max_topic_levels = 3;
  running_broker b(config, nullptr);
  test_client c(b.port, v311);
  auto connect = make_connect("deep-will", v311);
  connect.will = will_message{"a/b/c/d", shared_bytes::copy("x"), qos::at_most_once, false, {}};
  c.send(connect);
  std::vector<packet> got;
  EXPECT_TRUE(c.closed_by_broker(&got));
  EXPECT_TRUE(got.empty());
}

// ---------------------------------------------------------------- fault 8: session present after a takeover

TEST(Fault8, TakingOverASessionThatEndsWithItsConnectionStartsAfresh) {
  running_broker b(2);
  for (auto v : {v311, v5}) {
    test_client first(b.port, v);
    ASSERT_EQ(first.connect("taken", /*clean_start=*/true).reason_code, reason::success);
    first.subscribe("gone/with/it", qos::at_least_once);
    test_client second(b.port, v);
    auto c = make_connect("taken", v, /*clean_start=*/false);
    if (v == v5) c.props = properties::builder{}.add<property_id::session_expiry_interval>(60).build();
    const auto ack = second.connect(c);
    EXPECT_EQ(ack.reason_code, reason::success);
    EXPECT_FALSE(ack.session_present) << "version " << int(v);
    EXPECT_TRUE(first.closed_by_broker());
    // The first session's subscription went with it.
    test_client pub(b.port, v5);
    ASSERT_EQ(pub.connect("pub").reason_code, reason::success);
    pub.publish("gone/with/it", "x", qos::at_least_once);
    EXPECT_TRUE(second.nothing_within(100ms));
    // The second session persists: a third connection finds it.
    second.close();
    test_client third(b.port, v);
    EXPECT_TRUE(third.connect(c).session_present);
    third.send(disconnect_packet{});
    test_client cleanup(b.port, v);
    EXPECT_FALSE(cleanup.connect("taken", /*clean_start=*/true).session_present);
    cleanup.disconnect();
  }
}

// ---------------------------------------------------------------- fault 10: MQTT 3.1 client identifiers

TEST(Fault10, Mqtt31RequiresAClientIdentifier) {
  running_broker b(1);
  test_client empty(b.port, protocol_version::v3_1);
  EXPECT_EQ(empty.connect("").reason_code, reason::client_identifier_not_valid);  // return code 2
  EXPECT_TRUE(empty.closed_by_broker());
  test_client named(b.port, protocol_version::v3_1);
  EXPECT_EQ(named.connect("named").reason_code, reason::success);
  test_client modern(b.port, v311);  // 3.1.1 may leave it empty: the broker assigns one
  EXPECT_EQ(modern.connect("").reason_code, reason::success);
}

// ---------------------------------------------------------------- fault 12: a slow subscriber

// Four publishers at QoS 1 to one subscriber that reads nothing until they
// are done: far more than its in-flight window and memory queue hold. Every
// acknowledged message must reach it, in each publisher's order.
TEST(Fault12, ASlowSubscriberLosesNoAcknowledgedMessage) {
  auto config = test_config(2);
  config.limits.max_inflight = 10;
  config.limits.max_queued_messages = 20;
  config.limits.max_queued_bytes = 1000;  // and the byte bound of the queue
  running_broker b(config, nullptr);
  for (auto v : {v311, v5}) {
    test_client sub(b.port, v);
    ASSERT_EQ(sub.connect("slow", /*clean_start=*/true).reason_code, reason::success);
    sub.subscribe("fan/#", qos::at_least_once);
    constexpr int publishers = 4, each = 150;
    for (int p = 0; p < publishers; ++p) {
      test_client pub(b.port, p % 2 ? v5 : v311);
      ASSERT_EQ(pub.connect("fast-" + std::to_string(p)).reason_code, reason::success);
      for (int i = 0; i < each; ++i)
        pub.publish("fan/" + std::to_string(p), std::to_string(i), i % 3 ? qos::at_least_once : qos::exactly_once,
                    false, static_cast<std::uint16_t>(i + 1));
      pub.disconnect();
    }
    std::vector<int> next(publishers, 0);
    for (int n = 0; n < publishers * each; ++n) {
      const auto m = sub.receive_publish();
      ASSERT_EQ(m.topic().substr(0, 4), "fan/") << "message " << n;
      const auto p = static_cast<std::size_t>(std::stoi(std::string(m.topic().substr(4))));
      ASSERT_LT(p, next.size());
      ASSERT_EQ(m.payload().view(), std::to_string(next[p]++)) << "publisher " << p;
    }
    EXPECT_TRUE(sub.nothing_within(100ms));
    EXPECT_EQ(b.broker->stats().messages_dropped.load(), 0u);
    sub.disconnect();
  }
}

// Past the last bound (limits.max_stored_messages) messages are dropped,
// and it shows: a statistic ($SYS/broker/messages/dropped/stored) and a log
// line naming the client.
TEST(Fault12, DropsPastTheStoredBoundAreCountedAndLogged) {
  auto config = test_config(1);
  config.limits.max_inflight = 5;
  config.limits.max_queued_messages = 5;
  config.limits.max_stored_messages = 20;
  auto captured = std::make_shared<log::capture_sink>();
  Broker b(config, log::logger{captured, "ternd", log::level::info});
  b.start();
  test_client sub(b.ports()[0], v5);
  ASSERT_EQ(sub.connect("stuck").reason_code, reason::success);
  sub.subscribe("t", qos::at_least_once);
  test_client pub(b.ports()[0], v5);
  ASSERT_EQ(pub.connect("pub").reason_code, reason::success);
  for (int i = 0; i < 100; ++i) pub.publish("t", std::to_string(i), qos::at_least_once, false, static_cast<std::uint16_t>(i + 1));
  EXPECT_TRUE(pub.alive());  // a turn later: the counters are added once per turn
  EXPECT_EQ(b.stats().stored_dropped.load(), 100u - 5 - 5 - 20);
  EXPECT_NE(captured->text().find("client stuck: 20 messages wait in the store"), std::string::npos) << captured->text();
  for (int i = 0; i < 30; ++i) EXPECT_EQ(sub.receive_publish().payload().view(), std::to_string(i));
  EXPECT_TRUE(sub.nothing_within(100ms));
}

// ---------------------------------------------------------------- a CONNECT that fails behind itself

// A CONNECT with a malformed packet behind it in the same write: the
// connection ends before the CONNECT is admitted, and must not take over
// the session of a client already connected with that id.
TEST(FailedBeforeAdmission, ACorruptConnectionTakesNoSessionOver) {
  running_broker b(2);
  test_client holder(b.port, v5);
  ASSERT_EQ(holder.connect("held").reason_code, reason::success);
  for (auto v : {v311, v5}) {
    test_client bad(b.port, v);
    auto bytes = encode(make_connect("held", v), v);
    const auto junk = from_hex("30 ff ff ff ff 7f");
    bytes.insert(bytes.end(), junk.begin(), junk.end());
    bad.send_raw(bytes);
    EXPECT_TRUE(bad.closed_by_broker());
  }
  EXPECT_TRUE(holder.alive());
}

}  // namespace
}  // namespace tern::testing
