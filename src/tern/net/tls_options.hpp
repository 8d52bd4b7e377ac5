// tern/net/tls_options.hpp: what a TLS client connection is given (the
// client's mqtts:// today, wss:// next) and the error category its
// certificate verification reports. Public: tern/client/options.hpp and
// tern/client/error.hpp include it.
#pragma once

#include <string>
#include <system_error>

namespace tern {

// TLS for mqtts:// (and, later, wss://); unused for mqtt://. Files and
// in-memory texts are PEM; they are read on every connection attempt, so a
// renewed certificate is picked up by the next reconnect. A TLS setting that
// cannot be used (missing file, bad PEM, a key that does not match its
// certificate) fails the connection attempt with OpenSSL's error
// (boost::asio::error::get_ssl_category(), or std::errc for a missing file)
// and a log line naming the setting.
//
// Verification failures complete async_connect() with an error of
// tls_verify_category() (below): "certificate verify failed:
// <OpenSSL's reason>", e.g. "unable to get local issuer certificate" (an
// unknown CA) or "hostname mismatch".
struct tls_options {
  // The CAs the server's certificate must chain to: any of a PEM file (one
  // or more certificates), a directory prepared with `openssl rehash`
  // (c_rehash), and PEM text. All given are used; with none of them, the
  // system's default CAs (OpenSSL's default verify paths).
  std::string ca_file{};
  std::string ca_path{};
  std::string ca_pem{};
  // This client's certificate (a chain: the certificate first) and its
  // private key (unencrypted), for brokers that ask for one: as files or as
  // PEM text (the text wins when both are given). Never logged.
  std::string cert_file{};
  std::string key_file{};
  std::string cert_pem{};
  std::string key_pem{};
  // The name the server's certificate must carry (a DNS name, or an IP
  // address matched against its IP SANs) and the SNI sent (not for an IP
  // address); empty: the URI's host.
  std::string server_name{};
  // Check that the server's certificate names server_name (or the URI's
  // host). false: only its chain is verified (mosquitto_pub --insecure).
  bool verify_host_name = true;
  // No verification at all: any certificate is accepted, chain and name.
  // For tests against self-signed brokers only: anyone on the path can
  // impersonate the broker.
  bool insecure = false;
};

// The category of a TLS handshake that failed because the server's
// certificate did not verify (mqtts://). The value is OpenSSL's verify result
// (X509_V_ERR_*: 20 unknown issuer, 10 expired, 62 hostname mismatch, 64 IP
// address mismatch...); the message is "certificate verify failed: " and
// OpenSSL's reason. Name "tern.tls.verify".
//
//   if (ec.category() == tern::tls_verify_category()) ...   // the broker's certificate is not trusted
//
// Other handshake failures (an alert from the server, no common protocol
// version) carry OpenSSL's error (boost::asio::error::get_ssl_category()).
const std::error_category& tls_verify_category() noexcept;

}  // namespace tern
