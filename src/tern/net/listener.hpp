// tern/net/listener.hpp: listening sockets: resolving and binding the
// runtime's listen addresses (Asio does that part, at start only), and
// accepting from a bound socket. Which thread a new connection goes to, the
// connection limit and the pause after a failed accept are the io thread's
// (io_thread.cpp).
//
//   std::string error;
//   auto ls = tern::net::detail::open_listeners({{"127.0.0.1", 0}}, error);
//   if (!ls) { ... error: "bind 127.0.0.1:1883: Address already in use" ... }
//   auto a = (*ls)[0]->accept();   // a.fd, or a.status
//
// Thread safety: none; a listener belongs to one io thread.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "tern/net/admission.hpp"
#include "tern/net/byte_filter.hpp"
#include "tern/net/reactor.hpp"
#include "tern/net/runtime.hpp"

namespace tern::net::detail {

// "127.0.0.1:1883" or "[::1]:1883" (an IPv4-mapped IPv6 address as IPv4);
// "" for an address that is not IP.
std::string address_text(const sockaddr* a, socklen_t len);

// A listening socket, non-blocking; watched by its thread's reactor
// (watch_mode::readable, or paused).
struct listener {
  listener(int f, bound_address a, std::string n, std::shared_ptr<const byte_filter_maker> l = nullptr,
           std::shared_ptr<listener_gate> g = nullptr)
      : fd(f), at(std::move(a)), name(std::move(n)), layers(std::move(l)), gate(std::move(g)) {}
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener() { close(); }
  void close();  // leaves the reactor's set too

  struct accepted {
    int fd = -1;  // the connection, non-blocking, close-on-exec; -1: see status
    io_status status = io_status::done;  // would_block: none waiting; failed: `ec`
    std::error_code ec;
  };
  // Takes one connection that is waiting, if any.
  accepted accept();

  int fd;
  bound_address at;
  std::string name;  // for logs: address_text of `at`
  // Its connections' filters (TLS); nullptr: plain TCP.
  std::shared_ptr<const byte_filter_maker> layers;
  // Its connection limit and CONNECT check; nullptr: none.
  std::shared_ptr<listener_gate> gate;
  // After a failed accept (out of descriptors, most likely) it is paused
  // until then, rather than keep the loop busy.
  time_point paused_until = time_point::max();
};

// Binds and listens on every address `wanted` stands for (a host name: every
// address it resolves to; port 0: a free port, the same one for every address
// of a host name; an IPv6 wildcard is IPv6-only where an IPv4 listener shares
// its port). On failure nothing is left open and `error` names the listener
// ("bind 127.0.0.1:1883: Address already in use").
std::vector<std::unique_ptr<listener>> open_listeners(const std::vector<listen_address>& wanted, std::error_code& ec,
                                                      std::string& error);

}  // namespace tern::net::detail
