// TLS (mqtts://) against Debian's mosquitto. The test makes its own PKI at
// run time with the openssl command (EC P-256 keys: a few ms each) in a
// temporary folder: a CA; a second, unknown CA; server certificates for
// localhost/127.0.0.1 (from each CA) and for other.example; a client
// certificate. One mosquitto serves them on four TLS listeners:
//   good     the CA's localhost/127.0.0.1 certificate
//   unknown  the same names, signed by the unknown CA
//   other    the CA's certificate for other.example only
//   mutual   like good, and require_certificate true
// Then: round trips with the CA as a file, as PEM text and as a hashed
// folder; client certificates (files and text) accepted and required;
// refusals (unknown CA, wrong host name, the system's CAs) as verify errors;
// insecure and verify_host_name = false; unusable settings; reconnecting
// after handshakes that failed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>

#include <boost/asio/error.hpp>

#include "tern/client/client.hpp"
#include "tern/client/error.hpp"
#include "support/mosquitto.hpp"
#include "support/pki.hpp"
#include "tern/log/capture_sink.hpp"

namespace tern {
namespace {

using namespace std::chrono_literals;
using error_code = boost::system::error_code;
namespace fs = std::filesystem;
using testing::pki;
using testing::slurp;

// OpenSSL's verify results the tests expect (X509_V_ERR_*).
constexpr int self_signed_in_chain = 19;
constexpr int unable_to_get_issuer_locally = 20;
constexpr int hostname_mismatch = 62;
constexpr int ip_address_mismatch = 64;

// A TLS listener's mosquitto configuration.
std::string listener(const pki& p, std::uint16_t port, const std::string& cert, bool require_certificate = false) {
  return "listener " + std::to_string(port) + " 127.0.0.1\n" + "cafile " + p.path("ca.crt") + "\n" +
         "certfile " + p.path(cert + ".crt") + "\n" + "keyfile " + p.path(cert + ".key") + "\n" +
         (require_certificate ? "require_certificate true\n" : "");
}

bool wait_accepts(std::uint16_t port) {
  for (int i = 0; i < 1000; ++i) {
    if (testing::accepts(port)) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = std::make_unique<pki>();
    if (!pki_->ok()) return;
    good_ = testing::free_port();
    unknown_ = testing::free_port();
    other_ = testing::free_port();
    mutual_ = testing::free_port();
    broker_ = std::make_unique<testing::mosquitto>(listener(*pki_, good_, "server") +
                                                   listener(*pki_, unknown_, "unknown_server") +
                                                   listener(*pki_, other_, "other_server") +
                                                   listener(*pki_, mutual_, "server", true));
    started_ = broker_->start() && wait_accepts(good_) && wait_accepts(unknown_) && wait_accepts(other_) &&
               wait_accepts(mutual_);
  }
  static void TearDownTestSuite() {
    broker_.reset();
    pki_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(pki_->ok()) << "openssl failed:\n" << pki_->log();
    ASSERT_TRUE(started_) << "mosquitto did not start with the TLS listeners";
  }

  static std::string uri(std::uint16_t port, const std::string& host = "127.0.0.1") {
    return "mqtts://" + host + ":" + std::to_string(port);
  }
  static tls_options ca_file() { return {.ca_file = pki_->path("ca.crt")}; }

  // Connects with `tls` (reconnect off), then subscribes, publishes to
  // itself at QoS 1 and receives it: the first error, or empty.
  static error_code round_trip(const std::string& u, const tls_options& tls) {
    client_options o;
    o.tls = tls;
    o.reconnect.enabled = false;
    Client c(o);
    if (auto ec = c.connect(u, {.client_id = "tern-tls-test"})) return ec;
    auto s = c.subscribe("tls/echo", qos::at_least_once);
    if (!s.wait(5s) || s.error()) return s.error() ? s.error() : error_code(boost::asio::error::timed_out);
    auto p = c.publish("tls/echo", "over TLS", qos::at_least_once);
    if (!p.wait_for_publish(5s) || p.error()) return p.error() ? p.error() : error_code(boost::asio::error::timed_out);
    auto m = c.receive(5s);
    if (!m) return boost::asio::error::timed_out;
    EXPECT_EQ(m->payload().view(), "over TLS");
    EXPECT_EQ(m->topic(), "tls/echo");
    c.disconnect().wait(5s);
    return {};
  }

  // The verify result of a refused connection, or -1 when it is not a verify error.
  static int verify_error(const error_code& ec) {
    const std::error_code e(ec);
    return e.category() == tls_verify_category() ? e.value() : -1;
  }

  static std::unique_ptr<pki> pki_;
  static std::unique_ptr<testing::mosquitto> broker_;
  static bool started_;
  static std::uint16_t good_, unknown_, other_, mutual_;
};

std::unique_ptr<pki> TlsTest::pki_;
std::unique_ptr<testing::mosquitto> TlsTest::broker_;
bool TlsTest::started_ = false;
std::uint16_t TlsTest::good_ = 0, TlsTest::unknown_ = 0, TlsTest::other_ = 0, TlsTest::mutual_ = 0;

TEST_F(TlsTest, RoundTripWithCaFile) {
  EXPECT_FALSE(round_trip(uri(good_), ca_file())) << "by IP address";
  EXPECT_FALSE(round_trip(uri(good_, "localhost"), ca_file())) << "by host name";
  EXPECT_FALSE(round_trip("ssl://127.0.0.1:" + std::to_string(good_), ca_file())) << "ssl:// is mqtts:// too";
}

TEST_F(TlsTest, RoundTripWithCaInMemory) {
  EXPECT_FALSE(round_trip(uri(good_, "localhost"), {.ca_pem = slurp(pki_->path("ca.crt"))}));
  // Several CAs in one text: the unknown one first.
  EXPECT_FALSE(round_trip(uri(good_), {.ca_pem = slurp(pki_->path("unknown_ca.crt")) + slurp(pki_->path("ca.crt"))}));
}

TEST_F(TlsTest, RoundTripWithCaPath) {
  EXPECT_FALSE(round_trip(uri(good_, "localhost"), {.ca_path = pki_->path("capath")}));
}

TEST_F(TlsTest, ClientCertificateAccepted) {
  EXPECT_FALSE(round_trip(uri(mutual_), {.ca_file = pki_->path("ca.crt"),
                                         .cert_file = pki_->path("client.crt"),
                                         .key_file = pki_->path("client.key")}))
      << "files";
  EXPECT_FALSE(round_trip(uri(mutual_), {.ca_file = pki_->path("ca.crt"),
                                         .cert_pem = slurp(pki_->path("client.crt")),
                                         .key_pem = slurp(pki_->path("client.key"))}))
      << "PEM text";
  // Without one the broker ends the connection (TLS 1.3: after the client's
  // side of the handshake, so the error is the alert, or the closed stream).
  const auto ec = round_trip(uri(mutual_), ca_file());
  EXPECT_NE(ec.message().find("certificate required"), std::string::npos) << ec.message();
}

TEST_F(TlsTest, UnknownCaRefusedWithVerifyError) {
  const auto ec = round_trip(uri(unknown_), ca_file());
  EXPECT_EQ(verify_error(ec), unable_to_get_issuer_locally) << ec.message();
  EXPECT_EQ(ec.message(), "certificate verify failed: unable to get local issuer certificate");
  // No CA option: the system's CAs, which do not know the test CA either
  // (mosquitto sends the chain up to it: "self-signed certificate in certificate chain").
  const auto sys = round_trip(uri(good_), {});
  EXPECT_EQ(verify_error(sys), self_signed_in_chain) << sys.message();
}

TEST_F(TlsTest, WrongHostNameRefused) {
  const auto by_name = round_trip(uri(other_, "localhost"), ca_file());
  EXPECT_EQ(verify_error(by_name), hostname_mismatch) << by_name.message();
  EXPECT_EQ(by_name.message(), "certificate verify failed: hostname mismatch");
  const auto by_ip = round_trip(uri(other_), ca_file());
  EXPECT_EQ(verify_error(by_ip), ip_address_mismatch) << by_ip.message();
  // server_name: the name to check (and send as SNI) instead of the URI's host.
  auto named = ca_file();
  named.server_name = "other.example";
  EXPECT_FALSE(round_trip(uri(other_), named));
  named.server_name = "localhost";
  EXPECT_EQ(verify_error(round_trip(uri(other_), named)), hostname_mismatch);
}

TEST_F(TlsTest, InsecureAcceptsAnyCertificate) {
  auto insecure = ca_file();
  insecure.insecure = true;
  EXPECT_FALSE(round_trip(uri(other_, "localhost"), insecure)) << "wrong name";
  EXPECT_FALSE(round_trip(uri(unknown_), insecure)) << "unknown CA";
  EXPECT_FALSE(round_trip(uri(unknown_), {.insecure = true})) << "no CA at all";
  // verify_host_name = false (mosquitto_pub --insecure): any name, but the chain still counts.
  auto any_name = ca_file();
  any_name.verify_host_name = false;
  EXPECT_FALSE(round_trip(uri(other_, "localhost"), any_name));
  EXPECT_EQ(verify_error(round_trip(uri(unknown_), any_name)), unable_to_get_issuer_locally);
}

TEST_F(TlsTest, UnusableSettingsFailTheConnect) {
  EXPECT_EQ(round_trip(uri(good_), {.ca_file = pki_->path("missing.crt")}), std::errc::no_such_file_or_directory);
  EXPECT_EQ(round_trip(uri(good_), {.ca_path = pki_->path("missing")}), std::errc::no_such_file_or_directory);
  auto e = round_trip(uri(good_), {.ca_pem = "not PEM"});
  EXPECT_NE(e.message().find("no start line"), std::string::npos) << e.message();  // OpenSSL's words
  EXPECT_EQ(round_trip(uri(good_), {.ca_file = pki_->path("ca.crt"), .cert_file = pki_->path("client.crt")}),
            std::errc::invalid_argument);
  // A key that is not the certificate's.
  e = round_trip(uri(mutual_), {.ca_file = pki_->path("ca.crt"),
                                .cert_file = pki_->path("client.crt"),
                                .key_file = pki_->path("server.key")});
  EXPECT_NE(e.message().find("key values mismatch"), std::string::npos) << e.message();
  // wss:// to a TLS broker that speaks no WebSocket: the upgrade fails.
  EXPECT_TRUE(round_trip("wss://127.0.0.1:" + std::to_string(good_), ca_file()));
}

// A handshake that fails on a reconnect is one more failed attempt: the
// client keeps trying, and comes back once the broker's certificate verifies.
TEST_F(TlsTest, ReconnectsAfterFailedHandshakes) {
  const auto port = testing::free_port();
  testing::mosquitto trusted(listener(*pki_, port, "server"));
  testing::mosquitto untrusted(listener(*pki_, port, "unknown_server"));
  ASSERT_TRUE(trusted.start() && wait_accepts(port));

  auto sink = std::make_shared<log::capture_sink>();
  client_options o;
  o.tls = ca_file();
  o.reconnect = {.min_delay = 20ms, .max_delay = 50ms};
  o.log = log::logger{sink, "client", log::level::info};
  Client c(o);
  ASSERT_FALSE(c.connect(uri(port), {.client_id = "tern-tls-reconnect"}));
  ASSERT_TRUE(c.loop_start());
  trusted.stop();
  ASSERT_TRUE(untrusted.start() && wait_accepts(port));
  auto refused_twice = [&] {
    const auto text = sink->text();
    const auto first = text.find("certificate verify failed: unable to get local issuer certificate");
    return first != std::string::npos &&
           text.find("certificate verify failed: unable to get local issuer certificate", first + 1) !=
               std::string::npos;
  };
  for (int i = 0; i < 500 && !refused_twice(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(refused_twice()) << sink->text();
  EXPECT_FALSE(c.connected());
  untrusted.stop();
  ASSERT_TRUE(trusted.start() && wait_accepts(port));
  for (int i = 0; i < 500 && !c.connected(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(c.connected()) << sink->text();
  auto p = c.publish("tls/after", "x", qos::at_least_once);
  EXPECT_TRUE(p.wait_for_publish(5s) && !p.error());
  c.disconnect().wait(5s);
  c.loop_stop();
}

}  // namespace
}  // namespace tern
