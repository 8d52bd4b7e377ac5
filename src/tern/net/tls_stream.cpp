// A client's TLS stream (tern/net/stream.hpp; mqtts://): asio::ssl::stream
// over a TCP socket, with a context built from tls_options for every stream
// (so for every connection attempt of a client).
//
// Verification: verify_peer against the CAs given (or the system's), and
// OpenSSL's own host check (X509_VERIFY_PARAM_set1_host, or _set1_ip_asc
// for an IP address) rather than asio::ssl::host_name_verification: the
// same X509_check_host underneath, but a mismatch then leaves its own
// verify result (X509_V_ERR_HOSTNAME_MISMATCH) that handshake_error() turns
// into "certificate verify failed: hostname mismatch", where a verify
// callback returning false leaves only "unspecified". SNI carries the host
// name (never an IP address, RFC 6066).
//
// Writes: the client hands over many small buffers per write (headers and
// shared payloads); ssl::stream would make one TLS record and one send()
// per buffer, so they are copied into one buffer first (the copy costs
// nothing next to the encryption).
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "tern/net/stream.hpp"

namespace tern {
namespace {

class tls_verify_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.tls.verify"; }
  std::string message(int v) const override {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
  }
};

}  // namespace

const std::error_category& tls_verify_category() noexcept {
  static const tls_verify_category_impl c;
  return c;
}

}  // namespace tern

namespace tern::net {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// A file the context will read: readable, or errno's error (OpenSSL's own
// error for a missing file says neither "missing" nor which file).
error_code readable(const std::string& path) {
  if (::access(path.c_str(), R_OK) == 0) return {};
  return error_code(errno, boost::system::system_category());
}

// The context for one connection attempt, or the error of the first setting
// that cannot be used (logged with the setting's name; keys never are).
result<std::shared_ptr<ssl::context>> make_context(const tls_options& o, const log::logger& log) {
  SSL_CTX* native = SSL_CTX_new(TLS_client_method());
  if (!native) return error{std::error_code(ENOMEM, std::generic_category()), "cannot create an OpenSSL context"};
  auto ctx = std::make_shared<ssl::context>(native);  // owns it
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);

  error_code ec;
  auto failed = [&](std::string_view setting, std::string_view value, std::string_view detail) {
    log.error("TLS: {}{}{}: {}", setting, value.empty() ? "" : " ", value, ec.message());
    return error{std::error_code(ec), detail};
  };
  // Loads a file with `load` (which sets ec); false on failure.
  auto file = [&](const std::string& path, auto&& load) -> bool {
    if ((ec = readable(path))) return false;
    load(path);
    return !ec;
  };

  ctx->set_verify_mode(o.insecure ? ssl::verify_none : ssl::verify_peer, ec);
  if (!o.ca_file.empty() && !file(o.ca_file, [&](const std::string& p) { ctx->load_verify_file(p, ec); }))
    return failed("cannot load the CA file", o.ca_file, "the CA file cannot be used");
  if (!o.ca_path.empty()) {
    // OpenSSL reads the folder only when it looks for an issuer: check it now.
    if ((ec = readable(o.ca_path))) return failed("cannot use the CA path", o.ca_path, "the CA path cannot be used");
    ctx->add_verify_path(o.ca_path, ec);
    if (ec) return failed("cannot use the CA path", o.ca_path, "the CA path cannot be used");
  }
  if (!o.ca_pem.empty()) {
    ctx->add_certificate_authority(asio::buffer(o.ca_pem), ec);
    if (ec) return failed("cannot load the CA data (ca_pem)", "", "the CA data cannot be used");
  }
  if (o.ca_file.empty() && o.ca_path.empty() && o.ca_pem.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return failed("cannot use the system's CAs (default verify paths)", "", "the system's CAs cannot be used");
  }

  const bool has_cert = !o.cert_pem.empty() || !o.cert_file.empty();
  const bool has_key = !o.key_pem.empty() || !o.key_file.empty();
  if (has_cert != has_key) {
    ec = make_error_code(boost::system::errc::invalid_argument);
    return failed(has_cert ? "a client certificate needs its private key (key_file or key_pem)"
                           : "a private key needs its client certificate (cert_file or cert_pem)",
                  "", "a client certificate and its key go together");
  }
  if (!o.cert_pem.empty()) {
    ctx->use_certificate_chain(asio::buffer(o.cert_pem), ec);
    if (ec) return failed("cannot load the client certificate (cert_pem)", "", "the client certificate cannot be used");
  } else if (!o.cert_file.empty() && !file(o.cert_file,
                                           [&](const std::string& p) { ctx->use_certificate_chain_file(p, ec); })) {
    return failed("cannot load the client certificate", o.cert_file, "the client certificate cannot be used");
  }
  if (!o.key_pem.empty()) {
    ctx->use_private_key(asio::buffer(o.key_pem), ssl::context::pem, ec);
    if (ec) return failed("cannot load the private key (key_pem)", "", "the private key cannot be used");
  } else if (!o.key_file.empty() &&
             !file(o.key_file,
                   [&](const std::string& p) { ctx->use_private_key_file(p, ssl::context::pem, ec); })) {
    return failed("cannot load the private key", o.key_file, "the private key cannot be used");
  }
  if (has_cert && SSL_CTX_check_private_key(native) != 1) {
    ec = error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
    return failed("the private key does not match the client certificate", "",
                  "the private key does not match the client certificate");
  }
  return ctx;
}

// The error a failed handshake reports: a verification failure as
// tls_verify_category() with OpenSSL's verify result, anything else as it
// came. (With verify_none the verify result may be set without mattering.)
error_code handshake_error(SSL* ssl, bool verifying, error_code ec) {
  if (!verifying || ec == asio::error::operation_aborted) return ec;
  const long v = SSL_get_verify_result(ssl);
  if (v != X509_V_OK) return error_code(std::error_code(static_cast<int>(v), tls_verify_category()));
  return ec;
}

class tls_stream final : public stream, public std::enable_shared_from_this<tls_stream> {
 public:
  tls_stream(const asio::any_io_executor& ex, std::shared_ptr<ssl::context> ctx, const tls_options& o,
                const log::logger& log)
      : ctx_(std::move(ctx)),
        resolver_(ex),
        stream_(ex, *ctx_),
        server_name_(o.server_name),
        verify_peer_(!o.insecure),
        verify_host_(o.verify_host_name && !o.insecure),
        log_(log) {}

  void async_open(const std::string& host, std::uint16_t port, open_handler h) override {
    if (server_name_.empty()) server_name_ = host;
    if (auto ec = prepare()) return asio::post(resolver_.get_executor(), [h = std::move(h), ec]() mutable {
      std::move(h)(ec);
    });
    resolver_.async_resolve(
        host, std::to_string(port),
        [self = shared_from_this(), h = std::move(h)](error_code ec, tcp::resolver::results_type r) mutable {
          if (ec) return std::move(h)(ec);
          if (self->closed_) return std::move(h)(asio::error::operation_aborted);
          asio::async_connect(self->stream_.next_layer(), r,
                              [self, h = std::move(h)](error_code ec2, const tcp::endpoint&) mutable {
                                if (ec2) return std::move(h)(ec2);
                                if (self->closed_) return std::move(h)(asio::error::operation_aborted);
                                error_code ignored;
                                self->stream_.next_layer().set_option(tcp::no_delay(true), ignored);
                                self->handshake(std::move(h));
                              });
        });
  }

  void async_read_some(asio::mutable_buffer b, io_handler h) override {
    stream_.async_read_some(b, [self = shared_from_this(), h = std::move(h)](error_code ec, std::size_t n) mutable {
      std::move(h)(ec, n);
    });
  }

  void async_write(const std::vector<asio::const_buffer>& buffers, io_handler h) override {
    wbuf_.resize(asio::buffer_size(buffers));
    asio::buffer_copy(asio::buffer(wbuf_), buffers);
    asio::async_write(stream_, asio::buffer(wbuf_),
                      [self = shared_from_this(), h = std::move(h)](error_code ec, std::size_t n) mutable {
                        std::move(h)(ec, n);
                      });
  }

  // No close_notify: the MQTT DISCONNECT already said goodbye, and waiting
  // for the peer's answer would hold the close.
  void close() noexcept override {
    closed_ = true;
    resolver_.cancel();
    error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
  }

 private:
  // SNI and the name the certificate must carry, on this connection's SSL.
  error_code prepare() {
    SSL* ssl = stream_.native_handle();
    error_code ec;
    const auto ip = asio::ip::make_address(server_name_, ec);
    const bool is_ip = !ec;
    if (!is_ip && SSL_set_tlsext_host_name(ssl, server_name_.c_str()) != 1)
      return error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
    if (verify_host_) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      const int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, ip.to_string().c_str())
                           : X509_VERIFY_PARAM_set1_host(param, server_name_.c_str(), server_name_.size());
      if (ok != 1) return make_error_code(boost::system::errc::invalid_argument);
    }
    return {};
  }

  void handshake(open_handler h) {
    stream_.async_handshake(ssl::stream_base::client,
                            [self = shared_from_this(), h = std::move(h)](error_code ec) mutable {
                              if (ec) return std::move(h)(handshake_error(self->stream_.native_handle(), self->verify_peer_, ec));
                              SSL* ssl = self->stream_.native_handle();
                              self->log_.debug("TLS: {} {} with {}", SSL_get_version(ssl),
                                               SSL_get_cipher_name(ssl), self->server_name_);
                              std::move(h)(ec);
                            });
  }

  std::shared_ptr<ssl::context> ctx_;  // outlives the stream (declared first)
  tcp::resolver resolver_;
  ssl::stream<tcp::socket> stream_;
  std::string server_name_;
  bool verify_peer_;
  bool verify_host_;
  log::logger log_;
  std::vector<unsigned char> wbuf_;
  bool closed_ = false;
};

}  // namespace

result<std::shared_ptr<stream>> make_tls_stream(const asio::any_io_executor& ex, const tls_options& tls,
                                                const log::logger& log) {
  auto ctx = make_context(tls, log);
  if (!ctx) return ctx.error();
  return std::shared_ptr<stream>(std::make_shared<tls_stream>(ex, std::move(*ctx), tls, log));
}

}  // namespace tern::net
