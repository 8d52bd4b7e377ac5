// mqtts listeners of tern::Broker (issue 19): TLS as a byte filter under the
// connection, on the same io threads and engine as TCP. Certificates are
// made at test time (tests/support/pki.hpp). Peers: tern's own client over
// mqtts://, and a raw OpenSSL client (blocking, in this file) for what a
// client library hides: close_notify after an error CONNACK, garbage
// instead of a ClientHello, a handshake that stalls, plain MQTT on the TLS
// port. mosquitto_pub/sub and paho over TLS: tests/interop/run_tls_interop.py.
#include <gtest/gtest.h>
#include <boost/asio/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.hpp"
#include "support/pki.hpp"
#include "support/raw_connect.hpp"
#include "support/test_client.hpp"
#include "tern/client/client.hpp"

namespace tern::testing {
namespace {

using namespace std::chrono_literals;
using error_code = boost::system::error_code;

pki& certificates() {
  static pki p;
  return p;
}

// An mqtts listener on 127.0.0.1, any port, with the test PKI's server certificate.
server::listener_config mqtts(bool client_ca = false) {
  server::listener_config l;
  l.address = "127.0.0.1";
  l.port = 0;
  l.protocol = server::listener_protocol::mqtts;
  l.cert_file = certificates().path("server.crt");
  l.key_file = certificates().path("server.key");
  if (client_ca) l.ca_file = certificates().path("ca.crt");
  l.handshake_timeout = 1;
  return l;
}

server::config tls_config(server::listener_config l) {
  auto c = test_config(2);
  c.listeners = {std::move(l)};
  return c;
}

std::string uri(std::uint16_t port) { return "mqtts://127.0.0.1:" + std::to_string(port); }

tls_options trust_ca(bool with_cert = false, const std::string& cert = "client") {
  tls_options t{.ca_file = certificates().path("ca.crt")};
  if (with_cert) {
    t.cert_file = certificates().path(cert + ".crt");
    t.key_file = certificates().path(cert + ".key");
  }
  return t;
}

// Connects tern's client over mqtts://, subscribes, publishes to itself at
// QoS 1 and receives it: the first error, or none.
error_code round_trip(std::uint16_t port, const tls_options& tls, connect_options c = {.client_id = "tls-rt"}) {
  client_options o;
  o.tls = tls;
  o.reconnect.enabled = false;
  Client client(o);
  if (auto ec = client.connect(uri(port), c)) return ec;
  auto s = client.subscribe("tls/echo", qos::at_least_once);
  if (!s.wait(5s) || s.error()) return s.error() ? s.error() : error_code(boost::asio::error::timed_out);
  auto p = client.publish("tls/echo", "over TLS", qos::at_least_once);
  if (!p.wait_for_publish(5s) || p.error()) return p.error() ? p.error() : error_code(boost::asio::error::timed_out);
  auto m = client.receive(5s);
  if (!m) return boost::asio::error::timed_out;
  EXPECT_EQ(m->payload().view(), "over TLS");
  client.disconnect().wait(5s);
  return {};
}

// A blocking TLS client on OpenSSL, for the bytes a library would hide.
class raw_tls {
 public:
  explicit raw_tls(std::uint16_t port, bool with_cert = false, int version = 0) : fd_(connect_tcp(port)) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (version != 0) {
      SSL_CTX_set_min_proto_version(ctx_, version);
      SSL_CTX_set_max_proto_version(ctx_, version);
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    if (with_cert) {
      SSL_CTX_use_certificate_file(ctx_, certificates().path("client.crt").c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx_, certificates().path("client.key").c_str(), SSL_FILETYPE_PEM);
    }
    ssl_ = SSL_new(ctx_);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL_set_fd(ssl_, fd_);
  }
  ~raw_tls() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool handshake() { return SSL_connect(ssl_) == 1; }
  bool send(const std::vector<std::uint8_t>& bytes) { return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) > 0; }
  // What arrives until the peer's close_notify (closed_cleanly) or an error.
  std::vector<std::uint8_t> read_to_end() {
    std::vector<std::uint8_t> out;
    std::uint8_t buf[4096];
    for (;;) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        out.insert(out.end(), buf, buf + n);
        continue;
      }
      closed_cleanly = SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN;
      ERR_clear_error();
      return out;
    }
  }
  int read_some(std::uint8_t* buf, int size) { return SSL_read(ssl_, buf, size); }
  int fd() const { return fd_; }
  int version() const { return SSL_version(ssl_); }
  bool closed_cleanly = false;

 private:
  int fd_;
  SSL_CTX* ctx_;
  SSL* ssl_;
};


// Reads from a plain socket until the peer closes (0), fails, or 5 s pass.
// True when the peer closed or reset the connection.
bool closed_by_peer(int fd, std::chrono::milliseconds* after = nullptr) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto t0 = std::chrono::steady_clock::now();
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) continue;
    if (after) *after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    return n == 0 || errno == ECONNRESET;
  }
}

class MqttsListener : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(certificates().ok()) << "openssl failed:\n" << certificates().log(); }
};

TEST_F(MqttsListener, TernsClientRoundTripsOverTlsBesideAPlainListenerOnTheSameEngine) {
  auto c = test_config(2);
  c.listeners.push_back(mqtts());
  running_broker b(c, nullptr);
  const std::uint16_t tls_port = b.broker->ports().at(1);
  // A subscriber over plain TCP hears what a client publishes over TLS.
  test_client plain(b.port, protocol_version::v5);
  plain.connect("plain-sub");
  plain.subscribe("tls/#", qos::at_least_once);
  EXPECT_FALSE(round_trip(tls_port, trust_ca()));
  auto m = plain.expect<publish_packet>();
  EXPECT_EQ(m.topic(), "tls/echo");
  plain.disconnect();
}

TEST_F(MqttsListener, LargeMessagesCrossManyRecordsAndFullSocketsBothWays) {
  running_broker b(tls_config(mqtts()), nullptr);
  client_options o;
  o.tls = trust_ca();
  o.reconnect.enabled = false;
  Client sub(o), pub(o);
  ASSERT_FALSE(sub.connect(uri(b.port), {.client_id = "big-sub"}));
  ASSERT_FALSE(pub.connect(uri(b.port), {.client_id = "big-pub"}));
  auto s = sub.subscribe("big/#", qos::at_least_once);
  ASSERT_TRUE(s.wait(5s) && !s.error());
  // 1000000 bytes each (below the 1 MiB packet limit), 8 of them: more than
  // the sockets hold, so writes wait for the peer.
  std::string payload(1'000'000, 'x');
  for (std::size_t i = 0; i < payload.size(); i += 4099) payload[i] = static_cast<char>('a' + i % 26);
  std::vector<decltype(pub.publish("", "", qos::at_least_once))> sent;
  for (int i = 0; i < 8; ++i) sent.push_back(pub.publish("big/" + std::to_string(i), payload, qos::at_least_once));
  for (auto& p : sent) EXPECT_TRUE(p.wait_for_publish(30s) && !p.error()) << p.error().message();
  for (int i = 0; i < 8; ++i) {
    auto m = sub.receive(30s);
    ASSERT_TRUE(m) << "message " << i;
    EXPECT_EQ(m->topic(), "big/" + std::to_string(i));
    EXPECT_TRUE(m->payload().view() == payload) << "message " << i << " differs";
  }
  pub.disconnect().wait(5s);
  sub.disconnect().wait(5s);
}

TEST_F(MqttsListener, ASubscriberThatReadsLateGetsEverythingTheSocketCouldNotTake) {
  running_broker b(tls_config(mqtts()), nullptr);
  raw_tls late(b.port);
  ASSERT_TRUE(late.handshake());
  ASSERT_TRUE(late.send(raw_connect_v5("late")));
  ASSERT_TRUE(late.send({0x82, 10, 0, 1, 0, 0, 4, 'l', 'a', 't', 'e', 1}));  // SUBSCRIBE "late" QoS 1
  std::vector<std::uint8_t> got;
  auto take_packet = [&](std::size_t& at) -> std::optional<std::pair<std::uint8_t, std::size_t>> {
    // The fixed header at `at`: type and remaining length; advances past the packet.
    std::size_t len = 0, i = at + 1;
    for (int shift = 0; i < got.size() && shift < 28; shift += 7, ++i) {
      len |= static_cast<std::size_t>(got[i] & 0x7F) << shift;
      if ((got[i] & 0x80) == 0) break;
    }
    if (i >= got.size() || i + 1 + len > got.size()) return std::nullopt;
    const auto type = got[at];
    at = i + 1 + len;
    return std::pair{type, len};
  };
  // CONNACK and SUBACK first.
  for (std::size_t at = 0, packets = 0; packets < 2;) {
    std::uint8_t buf[256];
    const int n = late.read_some(buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.insert(got.end(), buf, buf + n);
    while (take_packet(at)) ++packets;
  }
  got.clear();
  client_options o;
  o.tls = trust_ca();
  o.reconnect.enabled = false;
  Client pub(o);
  ASSERT_FALSE(pub.connect(uri(b.port), {.client_id = "flood"}));
  const std::string payload(1'000'000, 'z');
  // QoS 1: kept for a subscriber that does not read (QoS 0 would be dropped past max_output_backlog).
  std::vector<decltype(pub.publish("", "", qos::at_least_once))> sent;
  for (int i = 0; i < 8; ++i) sent.push_back(pub.publish("late", payload, qos::at_least_once));
  for (auto& p : sent) EXPECT_TRUE(p.wait_for_publish(30s) && !p.error()) << p.error().message();
  pub.disconnect().wait(5s);
  std::this_thread::sleep_for(300ms);  // the broker's socket to `late` is full by now
  std::size_t at = 0, publishes = 0;
  while (publishes < 8) {
    std::uint8_t buf[65536];
    const int n = late.read_some(buf, sizeof buf);
    ASSERT_GT(n, 0) << "after " << publishes << " messages";
    got.insert(got.end(), buf, buf + n);
    while (auto p = take_packet(at)) {
      EXPECT_EQ(p->first & 0xF0, 0x30);
      EXPECT_EQ(p->second, 2 + 4 + 2 + 1 + payload.size()) << "topic, packet id, no properties, the payload";
      ++publishes;
    }
  }
}

TEST_F(MqttsListener, SpeaksTls12AndTls13) {
  running_broker b(tls_config(mqtts()), nullptr);
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    raw_tls c(b.port, false, version);
    ASSERT_TRUE(c.handshake()) << version;
    EXPECT_EQ(c.version(), version);
    ASSERT_TRUE(c.send(raw_connect_v5("v" + std::to_string(version))));
    ASSERT_TRUE(c.send({0xE0, 0}));  // DISCONNECT
    const auto got = c.read_to_end();
    ASSERT_GE(got.size(), 4u);
    EXPECT_EQ(got[0], 0x20);
    EXPECT_EQ(got[3], 0x00) << "accepted";
    EXPECT_TRUE(c.closed_cleanly) << "close_notify after a normal DISCONNECT too";
  }
}

TEST_F(MqttsListener, WithACaFileAClientCertificateIsRequired) {
  running_broker b(tls_config(mqtts(true)), nullptr);
  EXPECT_FALSE(round_trip(b.port, trust_ca(true))) << "with a certificate the CA signed";
  EXPECT_TRUE(round_trip(b.port, trust_ca(false))) << "without one";
  EXPECT_TRUE(round_trip(b.port, trust_ca(true, "unknown_server"))) << "with one an unknown CA signed";
}

TEST_F(MqttsListener, WithoutRequireCertificateAClientMayComeWithoutOne) {
  auto l = mqtts(true);
  l.require_certificate = false;
  running_broker b(tls_config(l), nullptr);
  EXPECT_FALSE(round_trip(b.port, trust_ca(false)));
  EXPECT_FALSE(round_trip(b.port, trust_ca(true)));
}

struct seen_users final : engine::hooks {
  reason on_connect(const engine::connect_request& r) override {
    std::lock_guard lock(mutex);
    users.push_back(r.username.value_or("(none)"));
    passwords.push_back(r.password.has_value());
    return reason::success;
  }
  std::mutex mutex;
  std::vector<std::string> users;
  std::vector<bool> passwords;
};

TEST_F(MqttsListener, UseIdentityAsUsernameMakesTheCertificatesCnTheUserName) {
  auto l = mqtts(true);
  l.use_identity_as_username = true;
  seen_users hooks;
  running_broker b(tls_config(l), &hooks);
  EXPECT_FALSE(round_trip(b.port, trust_ca(true),
                          {.client_id = "cn", .username = std::string("mallory"), .password = std::string("x")}));
  // A certificate without a CN names nobody: refused, as by mosquitto.
  const auto refused = round_trip(b.port, trust_ca(true, "client_no_cn"), {.client_id = "no-cn"});
  EXPECT_EQ(std::error_code(refused).value(), static_cast<int>(reason::bad_user_name_or_password)) << refused.message();
  std::lock_guard lock(hooks.mutex);
  ASSERT_EQ(hooks.users.size(), 1u) << "the refused CONNECT never reaches the hook";
  EXPECT_EQ(hooks.users[0], "tern-test-client");
  EXPECT_FALSE(hooks.passwords[0]) << "the CONNECT's password is dropped";
}

struct refuse_all final : engine::hooks {
  reason on_connect(const engine::connect_request&) override { return reason::not_authorized; }
};

TEST_F(MqttsListener, AnErrorConnackIsReadableAndThenCloseNotifyEndsTheStream) {
  refuse_all hooks;
  running_broker b(tls_config(mqtts()), &hooks);
  raw_tls c(b.port);
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send(raw_connect_v5("refused")));
  const auto got = c.read_to_end();
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got[0], 0x20) << "a CONNACK";
  EXPECT_EQ(got[3], 0x87) << "not authorized";
  EXPECT_TRUE(c.closed_cleanly) << "the stream ends with close_notify, not a reset";
}

TEST_F(MqttsListener, ADisconnectAtStopIsFollowedByCloseNotify) {
  auto b = std::make_unique<running_broker>(tls_config(mqtts()), nullptr);
  raw_tls c(b->port);
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send(raw_connect_v5("stopping")));
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    b->broker->stop();
  });
  const auto got = c.read_to_end();
  stopper.join();
  // CONNACK (5 bytes here), then DISCONNECT 0x8B.
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0], 0x20);
  bool disconnect = false;
  for (std::size_t i = 0; i + 2 < got.size(); ++i) disconnect |= got[i] == 0xE0 && got[i + 2] == 0x8B;
  EXPECT_TRUE(disconnect) << "DISCONNECT 0x8B (server shutting down)";
  EXPECT_TRUE(c.closed_cleanly);
}

TEST_F(MqttsListener, GarbageAPlainConnectAndAStalledHandshakeCloseOnlyTheirConnection) {
  auto cfg = tls_config(mqtts());
  running_broker b(cfg, nullptr);
  // Garbage instead of a ClientHello.
  const int garbage = connect_tcp(b.port);
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(200, 'x');
  ASSERT_EQ(::send(garbage, junk.data(), junk.size(), MSG_NOSIGNAL), static_cast<ssize_t>(junk.size()));
  // Plain MQTT on the TLS port.
  const int plain = connect_tcp(b.port);
  const auto connect = raw_connect_v5("plain");
  ASSERT_EQ(::send(plain, connect.data(), connect.size(), MSG_NOSIGNAL), static_cast<ssize_t>(connect.size()));
  // A ClientHello that never finishes: a record header announcing 512 bytes, then 10 of them.
  const int stalled = connect_tcp(b.port);
  const std::uint8_t partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0};
  ASSERT_EQ(::send(stalled, partial, sizeof partial, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof partial));

  EXPECT_TRUE(closed_by_peer(garbage));
  EXPECT_TRUE(closed_by_peer(plain));
  // Meanwhile the broker serves a TLS client.
  EXPECT_FALSE(round_trip(b.port, trust_ca()));
  std::chrono::milliseconds after{};
  EXPECT_TRUE(closed_by_peer(stalled, &after));
  EXPECT_LT(after, 2500ms) << "closed after handshake_timeout (1 s, swept by a 100 ms tick)";
  for (int fd : {garbage, plain, stalled}) ::close(fd);
  EXPECT_FALSE(round_trip(b.port, trust_ca())) << "and after";
}

TEST_F(MqttsListener, AStalledHandshakeIsNotClosedBeforeItsTimeout) {
  auto l = mqtts();
  l.handshake_timeout = 3;
  running_broker b(tls_config(l), nullptr);
  const int stalled = connect_tcp(b.port);
  std::chrono::milliseconds after{};
  EXPECT_TRUE(closed_by_peer(stalled, &after));
  EXPECT_GE(after, 2900ms);
  ::close(stalled);
}

TEST_F(MqttsListener, ACertificateThatCannotBeUsedFailsStartNamingListenerAndFile) {
  auto l = mqtts();
  l.cert_file = certificates().path("openssl.cnf");  // not PEM
  Broker broker(tls_config(l));
  try {
    broker.start();
    FAIL() << "started";
  } catch (const std::system_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("listener 127.0.0.1:0 (mqtts)"), std::string::npos) << what;
    EXPECT_NE(what.find("cert_file " + certificates().path("openssl.cnf")), std::string::npos) << what;
  }
  l = mqtts();
  l.key_file = certificates().path("client.key");  // another certificate's key
  Broker mismatched(tls_config(l));
  EXPECT_THROW(mismatched.start(), std::system_error);
  l = mqtts();
  l.key_file = certificates().path("missing.key");
  Broker missing(tls_config(l));
  try {
    missing.start();
    FAIL() << "started";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.key: No such file or directory"), std::string::npos) << e.what();
  }
}

TEST_F(MqttsListener, ReloadServesNewCertificatesToNewConnectionsAndKeepsTheOldOnAFailure) {
  namespace fs = std::filesystem;
  const fs::path dir = certificates().path("reload");
  fs::create_directories(dir);
  auto put = [&](const std::string& from) {
    fs::copy_file(certificates().path(from + ".crt"), dir / "live.crt", fs::copy_options::overwrite_existing);
    fs::copy_file(certificates().path(from + ".key"), dir / "live.key", fs::copy_options::overwrite_existing);
  };
  put("server");
  auto l = mqtts();
  l.cert_file = dir / "live.crt";
  l.key_file = dir / "live.key";
  running_broker b(tls_config(l), nullptr);
  const tls_options unknown_ca{.ca_file = certificates().path("unknown_ca.crt")};

  // A connection made before the reload keeps working after it.
  client_options o;
  o.tls = trust_ca();
  o.reconnect.enabled = false;
  Client before(o);
  ASSERT_FALSE(before.connect(uri(b.port), {.client_id = "before"}));

  put("unknown_server");
  EXPECT_TRUE(b.broker->reload());
  EXPECT_FALSE(round_trip(b.port, unknown_ca)) << "new connections get the new certificate";
  EXPECT_TRUE(round_trip(b.port, trust_ca())) << "...and not the old one";
  auto p = before.publish("still/here", "yes", qos::at_least_once);
  EXPECT_TRUE(p.wait_for_publish(5s) && !p.error()) << "the old connection keeps its TLS state";

  // A broken file: refused, the certificate in force stays.
  std::ofstream(dir / "live.crt") << "not a certificate\n";
  EXPECT_FALSE(b.broker->reload());
  EXPECT_FALSE(round_trip(b.port, unknown_ca));
  before.disconnect().wait(5s);
}

}  // namespace
}  // namespace tern::testing
