// The transports of tern::client: TCP here, TLS in tls_transport.cpp (see
// transport.hpp for how WebSocket slots in).
#include "tern/client/transport.hpp"

#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "tern/client/error.hpp"

namespace tern::client_detail {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class tcp_transport final : public transport, public std::enable_shared_from_this<tcp_transport> {
 public:
  explicit tcp_transport(const asio::any_io_executor& ex) : resolver_(ex), socket_(ex) {}

  void async_open(const broker_uri& uri, open_handler h) override {
    resolver_.async_resolve(
        uri.host, std::to_string(uri.port),
        [self = shared_from_this(), h = std::move(h)](error_code ec, tcp::resolver::results_type r) mutable {
          if (ec) return std::move(h)(ec);
          if (self->closed_) return std::move(h)(asio::error::operation_aborted);
          asio::async_connect(self->socket_, r,
                              [self, h = std::move(h)](error_code ec2, const tcp::endpoint&) mutable {
                                if (!ec2) {
                                  error_code ignored;
                                  self->socket_.set_option(tcp::no_delay(true), ignored);
                                }
                                std::move(h)(ec2);
                              });
        });
  }

  void async_read_some(asio::mutable_buffer b, io_handler h) override {
    socket_.async_read_some(b, [self = shared_from_this(), h = std::move(h)](error_code ec, std::size_t n) mutable {
      std::move(h)(ec, n);
    });
  }

  void async_write(const std::vector<asio::const_buffer>& buffers, io_handler h) override {
    asio::async_write(socket_, buffers,
                      [self = shared_from_this(), h = std::move(h)](error_code ec, std::size_t n) mutable {
                        std::move(h)(ec, n);
                      });
  }

  void close() noexcept override {
    closed_ = true;
    resolver_.cancel();
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  tcp::resolver resolver_;
  tcp::socket socket_;
  bool closed_ = false;
};

}  // namespace

result<std::shared_ptr<transport>> make_transport(const asio::any_io_executor& ex, const broker_uri& uri,
                                                  const tls_options& tls, const log::logger& log) {
  switch (uri.transport) {
    case broker_uri::kind::tcp: return std::shared_ptr<transport>(std::make_shared<tcp_transport>(ex));
    case broker_uri::kind::tls: return make_tls_transport(ex, tls, log);
    // The extension point: ws, wss. See transport.hpp.
    case broker_uri::kind::ws:
    case broker_uri::kind::wss:
      log.warn("{}: WebSocket (ws://, wss://) is not supported yet", uri.to_string());
      return error{make_error_code(client_error::unsupported_scheme), "ws:// and wss:// are not supported yet"};
  }
  return error{make_error_code(client_error::unsupported_scheme), "unknown transport"};
}

}  // namespace tern::client_detail
