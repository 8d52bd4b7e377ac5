// The TLS byte filter (tern/net/tls_filter.hpp) without a broker: its server
// side against its client side over a socket pair, driven by hand (no
// reactor): the handshake, bytes both ways in gathered writes, close_notify
// as the end of the stream, the handshake deadline, the client
// certificate's CN, and the contexts' refusals.
#include "tern/net/tls_filter.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <string>
#include <utility>

#include "support/pki.hpp"
#include "support/socket_pair.hpp"

namespace tern::net {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

testing::pki& certificates() {
  static testing::pki p;
  return p;
}

tls_server_options server_options(bool client_ca = false) {
  tls_server_options o;
  o.cert_file = certificates().path("server.crt");
  o.key_file = certificates().path("server.key");
  if (client_ca) o.ca_file = certificates().path("ca.crt");
  o.handshake_timeout = 5s;
  return o;
}

// A server filter and a client filter over the two ends of a socket pair.
struct tls_pair {
  explicit tls_pair(const tls_server_options& so, const tls_client_options& co = {}) {
    std::string error;
    server_ctx = tls_server::make(so, error);
    EXPECT_TRUE(server_ctx) << error;
    client_ctx = tls_client::make(co, error);
    EXPECT_TRUE(client_ctx) << error;
    if (!server_ctx || !client_ctx) return;
    server = server_ctx->make(std::exchange(p.fd[0], -1), accepted_at);
    client = client_ctx->make(std::exchange(p.fd[1], -1), accepted_at);
  }
  // Steps both sides until the client's write of `text` is read whole by the server.
  bool handshake_and_send(const std::string& text) {
    std::string got;
    for (int i = 0; i < 100 && got.size() < text.size(); ++i) {
      std::vector<iovec> iov{{const_cast<char*>(text.data()), text.size()}};
      std::size_t first = 0;
      if (!sent && client->write(iov, first).status != io_status::failed && first == 1) sent = true;
      std::byte buf[256];
      const auto r = server->read(buf);
      if (r.status == io_status::failed) return false;
      got.append(reinterpret_cast<const char*>(buf), r.bytes);
      std::byte cbuf[256];
      if (client->read(cbuf).status == io_status::failed) return false;
    }
    return got == text;
  }

  test::socket_pair p;
  clock_type::time_point accepted_at = clock_type::now();
  std::shared_ptr<tls_server> server_ctx;
  std::shared_ptr<tls_client> client_ctx;
  std::unique_ptr<byte_filter> server;
  std::unique_ptr<byte_filter> client;
  bool sent = false;
};

class TlsFilter : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(certificates().ok()) << certificates().log(); }
};

TEST_F(TlsFilter, HandshakesThenCarriesGatheredBytesAndEndsWithCloseNotify) {
  tls_pair t(server_options(), {.ca_file = certificates().path("ca.crt"), .cert_file = {}, .key_file = {}});
  ASSERT_TRUE(t.server && t.client);
  EXPECT_EQ(t.server->handshake_deadline(), t.accepted_at + 5s) << "until the handshake is done";
  ASSERT_TRUE(t.handshake_and_send("hello"));
  EXPECT_EQ(t.server->handshake_deadline(), clock_type::time_point::max());

  // Many small buffers in one write, server to client.
  std::string a = "ab", b = "cde", big(100'000, 'x');
  std::vector<iovec> iov{{a.data(), a.size()}, {b.data(), b.size()}, {big.data(), big.size()}};
  std::size_t first = 0;
  std::string got;
  for (int i = 0; i < 1000 && got.size() < 100'005; ++i) {
    if (first < iov.size() || i == 0) {
      const auto w = t.server->write(iov, first);
      ASSERT_NE(w.status, io_status::failed);
    } else {
      std::vector<iovec> none;
      std::size_t zero = 0;
      t.server->write(none, zero);  // what the socket did not take
    }
    std::byte buf[65536];
    const auto r = t.client->read(buf);
    ASSERT_NE(r.status, io_status::failed) << r.ec.message();
    got.append(reinterpret_cast<const char*>(buf), r.bytes);
  }
  EXPECT_EQ(got, "abcde" + big);

  // close_notify, then the FIN: the client reads the end of the stream.
  t.server->shutdown_write();
  std::byte buf[64];
  io_result r;
  for (int i = 0; i < 100 && (r = t.client->read(buf)).status == io_status::would_block; ++i) {
  }
  EXPECT_EQ(r.status, io_status::end);
}

// OpenSSL's own client, with its defaults, against a server filter: the
// handshake, "hi" to the server and "ok" back (the server's session tickets,
// if any, come before its first application data). Counts the sessions the
// server offers.
struct openssl_exchange {
  explicit openssl_exchange(const tls_server_options& so) {
    std::string error;
    auto ctx = tls_server::make(so, error);
    EXPECT_TRUE(ctx) << error;
    if (!ctx) return;
    auto server = ctx->make(std::exchange(p.fd[0], -1), clock_type::now());
    offered() = 0;
    cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(cctx, [](SSL*, SSL_SESSION*) {
      ++offered();
      return 0;  // not kept
    });
    client = SSL_new(cctx);
    SSL_set_fd(client, p.fd[1]);
    SSL_set_connect_state(client);
    std::string to_client = "ok";
    bool said = false;
    for (int i = 0; i < 100 && got != "ok"; ++i) {
      std::byte buf[64];
      if (server->read(buf).status == io_status::failed) break;
      if (!said && SSL_write(client, "hi", 2) == 2) said = true;
      if (said && server->handshake_deadline() == clock_type::time_point::max() && !to_client.empty()) {
        std::vector<iovec> iov{{to_client.data(), to_client.size()}};
        std::size_t first = 0;
        if (server->write(iov, first).status != io_status::failed && first == 1) to_client.clear();
      }
      char cbuf[64];
      if (const int n = SSL_read(client, cbuf, sizeof cbuf); n > 0) got.append(cbuf, static_cast<std::size_t>(n));
    }
  }
  ~openssl_exchange() {
    SSL_free(client);
    SSL_CTX_free(cctx);
  }
  static int& offered() {
    static int n = 0;
    return n;
  }

  test::socket_pair p;
  SSL_CTX* cctx = nullptr;
  SSL* client = nullptr;
  std::string got;  // what the client read: "ok"
};

// Two TLS 1.3 session tickets per handshake by default, each an encryption
// and a MAC on the server and a session on the client: none.
TEST_F(TlsFilter, TheServerSendsNoSessionTickets) {
  openssl_exchange x(server_options());
  EXPECT_EQ(x.got, "ok");
  EXPECT_EQ(SSL_version(x.client), TLS1_3_VERSION);
  EXPECT_EQ(openssl_exchange::offered(), 0);
}

// OpenSSL's client offers AES-256-GCM-SHA384 first; the server picks
// AES-128-GCM-SHA256 (SHA-256 throughout the handshake).
TEST_F(TlsFilter, TheServerPrefersAes128GcmSha256) {
  openssl_exchange x(server_options());
  ASSERT_EQ(x.got, "ok");
  EXPECT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(x.client)), "TLS_AES_128_GCM_SHA256");
}

TEST_F(TlsFilter, GarbageFailsTheHandshakeWithOpenSslsReason) {
  std::string error;
  auto ctx = tls_server::make(server_options(), error);
  ASSERT_TRUE(ctx) << error;
  test::socket_pair p;
  auto server = ctx->make(std::exchange(p.fd[0], -1), clock_type::now());
  const std::string junk = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::write(p.fd[1], junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  std::byte buf[64];
  const auto r = server->read(buf);
  EXPECT_EQ(r.status, io_status::failed);
  EXPECT_EQ(r.ec.message(), "http request");
  EXPECT_EQ(server->read(buf).status, io_status::failed) << "and says so again";
}

TEST_F(TlsFilter, TheClientCertificatesCnIsTheIdentityWhenAsked) {
  auto so = server_options(true);
  so.use_identity_as_username = true;
  tls_pair t(so, {.ca_file = certificates().path("ca.crt"), .cert_file = certificates().path("client.crt"),
                  .key_file = certificates().path("client.key")});
  ASSERT_TRUE(t.handshake_and_send("x"));
  const auto id = t.server->identity();
  EXPECT_TRUE(id.replaces_username);
  EXPECT_EQ(id.username, std::optional<std::string>("tern-test-client"));
  EXPECT_FALSE(t.client->identity().replaces_username);
}

TEST_F(TlsFilter, ARequiredClientCertificateThatIsMissingFailsTheHandshake) {
  tls_pair t(server_options(true));
  EXPECT_FALSE(t.handshake_and_send("x"));
}

TEST_F(TlsFilter, ContextsThatCannotBeBuiltSayWhichFileAndWhy) {
  std::string error;
  auto o = server_options();
  o.cert_file = certificates().path("nothing.crt");
  EXPECT_FALSE(tls_server::make(o, error));
  EXPECT_EQ(error, "cert_file " + o.cert_file + ": No such file or directory");
  o = server_options();
  o.key_file = certificates().path("openssl.cnf");
  EXPECT_FALSE(tls_server::make(o, error));
  EXPECT_NE(error.find("key_file " + o.key_file + ": "), std::string::npos) << error;
  o = server_options();
  o.key_file = certificates().path("client.key");
  EXPECT_FALSE(tls_server::make(o, error));
  EXPECT_EQ(error, "key_file " + o.key_file + " is not the key of cert_file " + o.cert_file);
  o = server_options();
  o.ca_file = certificates().path("missing-ca.crt");
  EXPECT_FALSE(tls_server::make(o, error));
  EXPECT_EQ(error, "ca_file " + o.ca_file + ": No such file or directory");

  auto good = tls_server::make(server_options(), error);
  ASSERT_TRUE(good);
  EXPECT_TRUE(good->reload(error));
}

}  // namespace
}  // namespace tern::net
