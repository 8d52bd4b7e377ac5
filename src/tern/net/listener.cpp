// Listening sockets (tern/net/listener.hpp). Asio resolves and binds them
// at start, nothing more: accepting is accept4 on the bare descriptor.
#include "tern/net/listener.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>

namespace tern::net {

namespace asio = boost::asio;
using tcp_endpoint = asio::ip::tcp::endpoint;

namespace {

std::string to_text(const tcp_endpoint& e) {
  auto a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(e.port());
  return a.to_string() + ":" + std::to_string(e.port());
}

// The endpoints a listener's address stands for.
std::vector<tcp_endpoint> resolve(asio::io_context& ctx, const listen_address& l, boost::system::error_code& ec) {
  std::vector<tcp_endpoint> out;
  const auto a = asio::ip::make_address(l.address, ec);
  if (!ec) {
    out.emplace_back(a, l.port);
    return out;
  }
  asio::ip::tcp::resolver r(ctx);
  auto found = r.resolve(l.address, std::to_string(l.port),
                         asio::ip::tcp::resolver::passive | asio::ip::tcp::resolver::numeric_service, ec);
  if (ec) return out;
  for (const auto& e : found)
    if (std::find(out.begin(), out.end(), e.endpoint()) == out.end()) out.push_back(e.endpoint());
  return out;
}

}  // namespace

std::string bound_address::to_string() const {
  boost::system::error_code ec;
  return to_text(tcp_endpoint(asio::ip::make_address(address, ec), port));
}

namespace detail {

std::string address_text(const sockaddr* a, socklen_t len) {
  tcp_endpoint e;
  if (len > e.capacity() || (a->sa_family != AF_INET && a->sa_family != AF_INET6)) return {};
  std::memcpy(e.data(), a, len);
  e.resize(len);
  return to_text(e);
}

void listener::close() {
  if (fd >= 0) ::close(std::exchange(fd, -1));
}

listener::accepted listener::accept() {
  for (;;) {
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) return {c, io_status::done, {}};
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {-1, io_status::would_block, {}};
    return {-1, io_status::failed, {errno, std::system_category()}};
  }
}

std::vector<std::unique_ptr<listener>> open_listeners(const std::vector<listen_address>& wanted, std::error_code& out_ec,
                                                      std::string& error) {
  std::vector<std::unique_ptr<listener>> out;
  // Resolve everything first: an IPv6 wildcard shares its port with IPv4
  // listeners only when it is IPv6-only.
  asio::io_context setup;  // for resolving and binding only
  std::vector<std::vector<tcp_endpoint>> endpoints;
  boost::system::error_code ec;
  for (const auto& l : wanted) {
    endpoints.push_back(resolve(setup, l, ec));
    if (ec) {
      error = "resolve " + l.address + ": " + ec.message();
      out_ec = ec;
      return {};
    }
  }
  auto fail = [&](const std::string& what, const tcp_endpoint& at) {
    error = what + " " + to_text(at) + ": " + ec.message();
    out_ec = ec;
    return std::vector<std::unique_ptr<listener>>{};  // closes what was opened
  };
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    std::uint16_t port = wanted[i].port;
    for (auto at : endpoints[i]) {
      at.port(port);
      asio::ip::tcp::acceptor a(setup);
      a.open(at.protocol(), ec);
      if (ec) return fail("open", at);
      // Not inherited by programs the process starts (accepted sockets
      // are made with SOCK_CLOEXEC, below).
      ::fcntl(a.native_handle(), F_SETFD, FD_CLOEXEC);
      if (at.address().is_v6()) {
        bool v4_on_port = false;
        for (const auto& eps : endpoints)
          for (const auto& other : eps) v4_on_port |= other.address().is_v4() && port != 0 && other.port() == port;
        a.set_option(asio::ip::v6_only(v4_on_port), ec);
      }
      a.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
      a.bind(at, ec);
      if (ec) return fail("bind", at);
      a.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return fail("listen", at);
      a.non_blocking(true, ec);  // accepted in batches until it would block
      if (ec) return fail("listen", at);
      const auto local = a.local_endpoint(ec);
      if (ec) return fail("listen", at);
      if (port == 0) port = local.port();
      out.push_back(std::make_unique<listener>(a.release(), bound_address{local.address().to_string(), local.port()},
                                               to_text(local), wanted[i].layers, wanted[i].gate));
    }
  }
  out_ec = {};
  return out;
}

}  // namespace detail
}  // namespace tern::net
