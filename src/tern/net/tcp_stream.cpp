// A client's TCP stream (tern/net/stream.hpp).
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "tern/net/stream.hpp"

namespace tern::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class tcp_stream final : public stream, public std::enable_shared_from_this<tcp_stream> {
 public:
  explicit tcp_stream(const asio::any_io_executor& ex) : resolver_(ex), socket_(ex) {}

  void async_open(const std::string& host, std::uint16_t port, open_handler h) override {
    resolver_.async_resolve(
        host, std::to_string(port),
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

std::shared_ptr<stream> make_tcp_stream(const asio::any_io_executor& ex) { return std::make_shared<tcp_stream>(ex); }

}  // namespace tern::net
