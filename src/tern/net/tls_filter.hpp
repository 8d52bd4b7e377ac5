// tern/net/tls_filter.hpp: the server side of TLS (1.2 and 1.3, OpenSSL) as
// a byte filter (byte_filter.hpp) under the link, over the TCP layer: what
// an "mqtts" listener's connections speak, on the same io threads and engine
// as plain TCP. A tls_server is the listener's context (certificate, key,
// the CA that signs client certificates) and makes one filter per accepted
// connection; reload() re-reads the files for the connections that come
// after (those already open keep the context they started with).
//
//   std::string error;
//   auto tls = tern::net::tls_server::make({.cert_file = "server.crt", .key_file = "server.key"}, error);
//   if (!tls) { ... error: "cert_file server.crt: No such file or directory" ... }
//   runtime_options o;
//   o.listeners = {{"0.0.0.0", 8883, tls}};      // each connection: tls->make(fd, now)
//   ...
//   if (!tls->reload(error)) log.warn("keeping the certificates in force: {}", error);   // on SIGHUP
//
// The filter drives OpenSSL through a BIO of its own whose reads call the
// layer below (no copy of the ciphertext coming in) and whose writes gather
// the records of one call in the filter, written to the layer below with one
// call when the call ends (a handshake flight, or a batch of MQTT packets
// copied into 16 KiB records: one send per batch, not one per record). It
// holds no buffer of its own while idle (SSL_MODE_RELEASE_BUFFERS).
// OpenSSL's headers stay in tls_filter.cpp.
//
// The same filter speaks the client side for the load generator (tern bench
// over TLS): a tls_client makes it. (The client library keeps its own
// transport on asio::ssl, src/tern/client/tls_transport.cpp: its context
// has other settings (SNI, host name checks, PEM text) and nothing here
// would be shared but a few OpenSSL calls.)
//
// Thread safety: make() and reload() from any thread; a filter belongs to
// its connection's thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "tern/net/byte_filter.hpp"

namespace tern::net {

struct tls_server_options {
  std::string cert_file;  // PEM: the server's certificate, then its chain
  std::string key_file;   // PEM: its private key (unencrypted)
  // PEM: the CAs whose client certificates are accepted; empty: clients are
  // not asked for one.
  std::string ca_file;
  // With ca_file: a client without a certificate fails the handshake (false:
  // it may connect without one; one it presents must still verify).
  bool require_certificate = true;
  // The client certificate's CN is the user name the engine sees (the
  // CONNECT's user name and password are dropped); a client without one is
  // refused with "bad user name or password" (as mosquitto does).
  bool use_identity_as_username = false;
  // A handshake that takes longer is closed.
  std::chrono::milliseconds handshake_timeout{10'000};
};

struct tls_context;  // OpenSSL's SSL_CTX (tls_filter.cpp)

class tls_server final : public byte_filter_maker {
 public:
  // Reads the files and builds the context; nullptr and `error` naming the
  // file and OpenSSL's reason when one cannot be used.
  static std::shared_ptr<tls_server> make(tls_server_options o, std::string& error);
  ~tls_server() override;
  tls_server(const tls_server&) = delete;
  tls_server& operator=(const tls_server&) = delete;

  std::unique_ptr<byte_filter> make(int fd, std::chrono::steady_clock::time_point now) const override;

  // Reads the files again: connections accepted from now on use them. On
  // failure the context in force stays and `error` says why.
  bool reload(std::string& error);

  const tls_server_options& options() const { return options_; }

 private:
  explicit tls_server(tls_server_options o);

  tls_server_options options_;
  mutable std::mutex mutex_;  // guards current_
  std::shared_ptr<tls_context> current_;
};

struct tls_client_options {
  // PEM: the CAs the server's certificate must chain to; empty: the server
  // is not verified (a load generator's choice, never a client's).
  std::string ca_file;
  std::string cert_file;  // PEM: a client certificate, for servers that ask; with key_file
  std::string key_file;
};

// The client side, for programs on the reactor (the load generator). Every
// connection makes a full handshake (no session resumption).
class tls_client final : public byte_filter_maker {
 public:
  static std::shared_ptr<tls_client> make(const tls_client_options& o, std::string& error);
  ~tls_client() override;
  tls_client(const tls_client&) = delete;
  tls_client& operator=(const tls_client&) = delete;
  std::unique_ptr<byte_filter> make(int fd, std::chrono::steady_clock::time_point now) const override;

 private:
  tls_client() = default;
  std::shared_ptr<tls_context> context_;
};

}  // namespace tern::net
