// What tern::Broker enforces from [auth] over real sockets: the password
// file at CONNECT (verified off the io threads), anonymous clients per
// listener, the ACL on SUBSCRIBE, PUBLISH, delivery, retained messages and
// wills, reload() of both files, and max_connections per listener.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "broker_fixture.hpp"
#include "tern/auth/password_file.hpp"

namespace tern::testing {
namespace {

constexpr auto v5 = protocol_version::v5;
constexpr auto v311 = protocol_version::v3_1_1;

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/tern-auth-test-XXXXXX";
    if (::mkdtemp(tmpl)) path = tmpl;
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

// A password file with `users` (name, password), $7$ at `iterations`.
std::string password_text(const std::vector<std::pair<std::string, std::string>>& users, std::uint32_t iterations) {
  auth::password_file f;
  auth::hash_options o;
  o.iterations = iterations;
  for (const auto& [u, p] : users) EXPECT_TRUE(f.set(u, p, o));
  return f.to_text();
}

connect_packet with_user(std::string id, protocol_version v, std::optional<std::string> user,
                         std::optional<std::string> password) {
  auto c = make_connect(std::move(id), v);
  c.username = std::move(user);
  c.password = std::move(password);
  return c;
}

TEST(Auth, PasswordsAreCheckedAtConnect) {
  temp_dir dir;
  auto c = test_config(2);
  c.auth.password_file = dir.write("passwd", password_text({{"alice", "s3cret"}, {"bob", "hunter2"}}, 1000));
  running_broker b(c, nullptr);
  for (auto v : {v5, v311}) {
    test_client ok(b.port, v);
    EXPECT_EQ(ok.connect(with_user("a", v, "alice", "s3cret")).reason_code, reason::success);
    EXPECT_TRUE(ok.alive());
    test_client wrong(b.port, v);  // 3.1.1: return code 4
    EXPECT_EQ(wrong.connect(with_user("w", v, "alice", "hunter2")).reason_code, reason::bad_user_name_or_password);
    EXPECT_TRUE(wrong.closed_by_broker());
    test_client unknown(b.port, v);
    EXPECT_EQ(unknown.connect(with_user("u", v, "mallory", "s3cret")).reason_code, reason::bad_user_name_or_password);
    test_client none(b.port, v);
    EXPECT_EQ(none.connect(with_user("n", v, "bob", std::nullopt)).reason_code, reason::bad_user_name_or_password);
    test_client anonymous(b.port, v);  // a loopback listener: [auth] allow_anonymous (true)
    EXPECT_EQ(anonymous.connect("anon").reason_code, reason::success);
  }
}

TEST(Auth, AListenerMayRefuseAnonymousClients) {
  temp_dir dir;
  auto c = test_config(1);
  c.listeners[0].allow_anonymous = false;
  c.auth.password_file = dir.write("passwd", password_text({{"alice", "s3cret"}}, 1000));
  running_broker b(c, nullptr);
  for (auto v : {v5, v311}) {
    test_client anonymous(b.port, v);  // 3.1.1: return code 5
    EXPECT_EQ(anonymous.connect("anon").reason_code, reason::not_authorized);
    EXPECT_TRUE(anonymous.closed_by_broker());
    test_client alice(b.port, v);
    EXPECT_EQ(alice.connect(with_user("a", v, "alice", "s3cret")).reason_code, reason::success);
  }
}

// A TCP connection to `address`:`port` (IPv4), or -1.
int connect_to(const char* address, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, address, &a.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The first IPv4 address of this machine that is not loopback, or "".
std::string non_loopback_address() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(9);
  ::inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);  // no packet is sent: connect() on UDP picks a route
  std::string out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) {
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    if (!std::string_view(text).starts_with("127.") && std::string_view(text) != "0.0.0.0") out = text;
  }
  ::close(fd);
  return out;
}

TEST(Auth, AListenerOffLoopbackRefusesAnonymousClientsUnlessTold) {
  const auto address = non_loopback_address();
  if (address.empty()) GTEST_SKIP() << "no IPv4 address but loopback";
  auto c = test_config(1);
  c.listeners[0].address = address;
  c.listeners.push_back(c.listeners[0]);
  c.listeners[1].allow_anonymous = true;
  Broker b(c);
  b.start();
  const auto ports = b.ports();
  ASSERT_EQ(ports.size(), 2u);
  test_client refused(connect_to(address.c_str(), ports[0]), v5);
  EXPECT_EQ(refused.connect("anon").reason_code, reason::not_authorized);
  test_client told(connect_to(address.c_str(), ports[1]), v5);
  EXPECT_EQ(told.connect("anon").reason_code, reason::success);
}

TEST(Auth, AStormOfWrongPasswordsDoesNotDelayOtherClients) {
  temp_dir dir;
  auto c = test_config(1);  // one io thread: the storm and the others share it
  // A costly hash: each wrong password costs the verifier tens of milliseconds.
  c.auth.password_file = dir.write("passwd", password_text({{"alice", "s3cret"}}, 400'000));
  running_broker b(c, nullptr);
  test_client sub(b.port, v5);
  ASSERT_EQ(sub.connect("sub").reason_code, reason::success);
  sub.subscribe("t", qos::at_most_once);
  test_client pub(b.port, v5);
  ASSERT_EQ(pub.connect("pub").reason_code, reason::success);

  std::vector<std::unique_ptr<test_client>> storm;
  for (int i = 0; i < 200; ++i) {
    storm.push_back(std::make_unique<test_client>(b.port, v5));
    storm.back()->send(with_user("storm" + std::to_string(i), v5, "alice", "wrong" + std::to_string(i)));
  }
  // The verifier has seconds of hashing queued; the io thread is free.
  std::chrono::steady_clock::duration worst{};
  for (int i = 0; i < 20; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    pub.publish("t", "x");
    EXPECT_EQ(sub.expect<publish_packet>().topic(), "t");
    EXPECT_TRUE(sub.alive());
    worst = std::max(worst, std::chrono::steady_clock::now() - t0);
  }
  EXPECT_LT(worst, 250ms) << "a message took " << std::chrono::duration<double, std::milli>(worst).count() << " ms";
  // The storm's first CONNECT is answered, in time, with 0x86.
  EXPECT_EQ(storm.front()->expect<connack_packet>().reason_code, reason::bad_user_name_or_password);
}

constexpr const char* acl_text = R"(# anonymous clients
topic read public/#

user alice
topic readwrite alice/#
topic read public/#

user bob
topic read alice/#
topic write public/bob

user carol
topic read #
topic deny alice/secret

pattern readwrite devices/%c/#
pattern read users/%u/#
)";

TEST(Acl, SubscribeAndPublishAreChecked) {
  temp_dir dir;
  auto c = test_config(2);
  c.auth.acl_file = dir.write("acl", acl_text);
  running_broker b(c, nullptr);
  test_client bob(b.port, v5);
  ASSERT_EQ(bob.connect(with_user("bob", v5, "bob", std::nullopt)).reason_code, reason::success);
  EXPECT_EQ(bob.subscribe("secret/#", qos::at_least_once).reason_codes.at(0), reason::not_authorized);
  EXPECT_EQ(bob.subscribe("alice/#", qos::at_least_once).reason_codes.at(0), reason::granted_qos_1);
  EXPECT_EQ(bob.subscribe("users/bob/#", qos::at_least_once, 2).reason_codes.at(0), reason::granted_qos_1);  // %u
  EXPECT_EQ(bob.subscribe("users/alice/#", qos::at_least_once, 3).reason_codes.at(0), reason::not_authorized);

  test_client old(b.port, v311);  // 3.1.1: SUBACK 0x80
  ASSERT_EQ(old.connect(with_user("old", v311, "bob", std::nullopt)).reason_code, reason::success);
  EXPECT_EQ(old.subscribe("secret/#", qos::at_least_once).reason_codes.at(0), reason::unspecified_error);

  test_client alice(b.port, v5);
  ASSERT_EQ(alice.connect(with_user("alice-1", v5, "alice", std::nullopt)).reason_code, reason::success);
  publish_packet p("public/bob", shared_bytes::copy("no"), qos::at_least_once);  // bob's to write, not alice's
  p.packet_id = 9;
  alice.send(p);
  const auto ack = alice.expect<puback_packet>();
  EXPECT_EQ(ack.reason_code, reason::not_authorized);
  alice.publish("alice/x", "yes", qos::at_least_once, false, 10);
  EXPECT_EQ(bob.receive_publish().topic(), "alice/x");

  test_client alice_old(b.port, v311);  // 3.1.1: acknowledged, dropped (as mosquitto)
  ASSERT_EQ(alice_old.connect(with_user("alice-2", v311, "alice", std::nullopt)).reason_code, reason::success);
  alice_old.publish("users/bob/x", "no", qos::at_least_once);
  alice_old.publish("alice/y", "yes", qos::at_least_once, false, 2);
  EXPECT_EQ(bob.receive_publish().topic(), "alice/y");  // and not users/bob/x before it

  test_client dev(b.port, v5);  // %c, anonymous
  ASSERT_EQ(dev.connect("dev1").reason_code, reason::success);
  dev.publish("devices/dev1/state", "on", qos::at_least_once);
  publish_packet other("devices/dev2/state", shared_bytes::copy("x"), qos::at_least_once);
  other.packet_id = 2;
  dev.send(other);
  EXPECT_EQ(dev.expect<puback_packet>().reason_code, reason::not_authorized);
}

TEST(Acl, DeliveryRetainedMessagesAndWillsAreChecked) {
  temp_dir dir;
  auto c = test_config(2);
  c.auth.acl_file = dir.write("acl", acl_text);
  running_broker b(c, nullptr);
  test_client alice(b.port, v5);
  ASSERT_EQ(alice.connect(with_user("alice", v5, "alice", std::nullopt)).reason_code, reason::success);
  alice.publish("alice/secret", "r1", qos::at_least_once, true, 1);
  alice.publish("alice/ok", "r2", qos::at_least_once, true, 2);

  // carol reads everything but alice/secret: the subscription is granted,
  // the deny applies per message, retained ones included.
  test_client carol(b.port, v5);
  ASSERT_EQ(carol.connect(with_user("carol", v5, "carol", std::nullopt)).reason_code, reason::success);
  EXPECT_EQ(carol.subscribe("alice/#", qos::at_least_once).reason_codes.at(0), reason::granted_qos_1);
  auto m = carol.receive_publish();
  EXPECT_EQ(m.topic(), "alice/ok");
  EXPECT_TRUE(m.retain);
  alice.publish("alice/secret", "live", qos::at_least_once, false, 3);
  alice.publish("alice/ok", "live", qos::at_least_once, false, 4);
  EXPECT_EQ(carol.receive_publish().topic(), "alice/ok");
  EXPECT_TRUE(carol.nothing_within(100ms));

  // Wills: published only where their client may write.
  test_client reader(b.port, v5);
  ASSERT_EQ(reader.connect(with_user("reader", v5, "carol", std::nullopt)).reason_code, reason::success);
  reader.subscribe("public/#", qos::at_least_once);
  reader.subscribe("devices/#", qos::at_least_once, 2);
  for (const auto& [id, topic] : {std::pair{"w1", "public/will"}, std::pair{"w2", "devices/w2/will"}}) {
    test_client dying(b.port, v5);
    auto connect = make_connect(id, v5);
    connect.will = will_message{topic, shared_bytes::copy("gone"), qos::at_most_once, false, {}};
    ASSERT_EQ(dying.connect(connect).reason_code, reason::success);
    dying.close();  // without DISCONNECT: the will goes, if allowed
  }
  EXPECT_EQ(reader.receive_publish().topic(), "devices/w2/will");  // not public/will before it
  EXPECT_TRUE(reader.nothing_within(100ms));
}

TEST(Auth, ReloadReadsBothFilesAgainAndKeepsThemOnAnError) {
  temp_dir dir;
  auto c = test_config(1);
  c.auth.password_file = dir.write("passwd", password_text({{"alice", "old"}}, 1000));
  c.auth.acl_file = dir.write("acl", "user alice\ntopic readwrite a/#\n");
  running_broker b(c, nullptr);
  test_client alice(b.port, v5);
  ASSERT_EQ(alice.connect(with_user("alice", v5, "alice", "old")).reason_code, reason::success);
  publish_packet p("b/x", shared_bytes::copy("x"), qos::at_least_once);
  p.packet_id = 1;
  alice.send(p);
  EXPECT_EQ(alice.expect<puback_packet>().reason_code, reason::not_authorized);  // remembered: refused

  dir.write("passwd", password_text({{"alice", "new"}}, 1000));
  dir.write("acl", "user alice\ntopic readwrite a/#\ntopic readwrite b/#\n");
  EXPECT_TRUE(b.broker->reload());
  p.packet_id = 2;
  alice.send(p);  // the remembered refusal was dropped with the old ACL
  EXPECT_EQ(alice.expect<puback_packet>().reason_code, reason::no_matching_subscribers);
  test_client old_password(b.port, v5);
  EXPECT_EQ(old_password.connect(with_user("x", v5, "alice", "old")).reason_code, reason::bad_user_name_or_password);
  test_client new_password(b.port, v5);
  EXPECT_EQ(new_password.connect(with_user("y", v5, "alice", "new")).reason_code, reason::success);

  dir.write("acl", "user alice\ntopik readwrite c/#\n");
  dir.write("passwd", "alice:$7$broken\n");
  EXPECT_FALSE(b.broker->reload());  // logged naming file and line; the ones in force stay
  p.packet_id = 3;
  alice.send(p);
  EXPECT_EQ(alice.expect<puback_packet>().reason_code, reason::no_matching_subscribers);
  test_client still(b.port, v5);
  EXPECT_EQ(still.connect(with_user("z", v5, "alice", "new")).reason_code, reason::success);
}

TEST(Auth, BadFilesAreRefusedAtStartNamingFileAndLine) {
  temp_dir dir;
  auto c = test_config(1);
  c.auth.acl_file = dir.write("acl", "topic read a\ntopik read b\n");
  Broker acl(c);
  try {
    acl.start();
    ADD_FAILURE() << "started with a bad ACL";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(c.auth.acl_file.string() + ":2:"), std::string::npos) << e.what();
  }
  c.auth.acl_file.clear();
  c.auth.password_file = dir.write("passwd", "# ok\nalice:nothash\n");
  Broker passwords(c);
  try {
    passwords.start();
    ADD_FAILURE() << "started with a bad password file";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(c.auth.password_file.string() + ":2:"), std::string::npos) << e.what();
  }
}

TEST(Limits, MaxConnectionsPerListener) {
  auto c = test_config(2);
  c.listeners[0].max_connections = 2;
  running_broker b(c, nullptr);
  test_client one(b.port, v5);
  ASSERT_EQ(one.connect("one").reason_code, reason::success);
  test_client two(b.port, v5);
  ASSERT_EQ(two.connect("two").reason_code, reason::success);
  test_client three(b.port, v5);
  three.send(make_connect("three", v5));
  EXPECT_TRUE(three.closed_by_broker());
  two.disconnect();
  for (int i = 0; i < 100 && b.broker->connections() > 1; ++i) std::this_thread::sleep_for(10ms);
  test_client four(b.port, v5);
  EXPECT_EQ(four.connect("four").reason_code, reason::success);
}

}  // namespace
}  // namespace tern::testing

namespace tern::testing {
namespace {

TEST(Limits, MaxPublishRate) {
  auto c = test_config(1);
  c.limits.max_publish_rate = 20;
  running_broker b(c, nullptr);
  for (auto v : {v5, v311}) {
    test_client fast(b.port, v);
    ASSERT_EQ(fast.connect("fast").reason_code, reason::success);
    for (int i = 0; i < 10; ++i) fast.publish("t", "x");
    EXPECT_TRUE(fast.alive());
    for (int i = 0; i < 30; ++i) fast.publish("t", "x");
    std::vector<packet> before;
    EXPECT_TRUE(fast.closed_by_broker(&before));
    if (v == v5) {
      ASSERT_FALSE(before.empty());
      ASSERT_TRUE(std::holds_alternative<disconnect_packet>(before.back()));
      EXPECT_EQ(std::get<disconnect_packet>(before.back()).reason_code, reason::message_rate_too_high);
    }
  }
}

}  // namespace
}  // namespace tern::testing

namespace tern::testing {
namespace {

// The program's on_connect runs after the password file: only for clients it let in.
struct counting_hooks : engine::hooks {
  std::atomic<int> connects{0};
  reason on_connect(const engine::connect_request& r) override {
    ++connects;
    return r.client_id == "vetoed" ? reason::not_authorized : reason::success;
  }
};

TEST(Auth, OnConnectRunsAfterThePasswordFile) {
  temp_dir dir;
  auto c = test_config(1);
  c.auth.password_file = dir.write("passwd", password_text({{"alice", "s3cret"}}, 1000));
  counting_hooks hooks;
  running_broker b(c, &hooks);
  test_client wrong(b.port, v5);
  EXPECT_EQ(wrong.connect(with_user("w", v5, "alice", "nope")).reason_code, reason::bad_user_name_or_password);
  EXPECT_EQ(hooks.connects.load(), 0);
  test_client vetoed(b.port, v5);
  EXPECT_EQ(vetoed.connect(with_user("vetoed", v5, "alice", "s3cret")).reason_code, reason::not_authorized);
  test_client ok(b.port, v5);
  EXPECT_EQ(ok.connect(with_user("ok", v5, "alice", "s3cret")).reason_code, reason::success);
  EXPECT_EQ(hooks.connects.load(), 2);
}

}  // namespace
}  // namespace tern::testing
