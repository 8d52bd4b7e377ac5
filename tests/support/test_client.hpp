// tests/support/test_client.hpp: a small blocking MQTT client for the
// black-box tests: POSIX sockets and tern's codec, every receive bounded by a
// socket timeout, no threads.
//
//   tern::testing::test_client c(port, tern::protocol_version::v5);
//   auto ack = c.connect("c1");                       // CONNECT, then the CONNACK
//   c.subscribe("t/#", tern::qos::exactly_once);      // SUBSCRIBE, then the SUBACK
//   c.publish("t/1", "hi", tern::qos::at_least_once); // and the PUBACK
//   auto m = c.expect<tern::publish_packet>();        // fails the test on anything else
//   c.disconnect();
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tern/codec/codec.hpp"

namespace tern::testing {

using namespace std::chrono_literals;

// A TCP socket connected to 127.0.0.1:port, or -1.
inline int connect_tcp(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline connect_packet make_connect(std::string id, protocol_version v, bool clean_start = true,
                                   std::uint16_t keep_alive = 60) {
  connect_packet c;
  c.version = v;
  c.client_id = std::move(id);
  c.clean_start = clean_start;
  c.keep_alive = keep_alive;
  return c;
}

class test_client {
 public:
  enum class status { ok, eof, timeout };

  explicit test_client(std::uint16_t port, protocol_version v = protocol_version::v5,
                       std::chrono::milliseconds timeout = 5s)
      : v_(v), dec_({v, 268'435'460}), timeout_(timeout) {
    fd_ = connect_tcp(port);
    EXPECT_GE(fd_, 0) << "connect to port " << port << ": " << std::strerror(errno);
  }
  // Adopts a connected socket.
  test_client(int fd, protocol_version v) : v_(v), fd_(fd), dec_({v, 268'435'460}) {}
  ~test_client() { close(); }
  test_client(const test_client&) = delete;
  test_client& operator=(const test_client&) = delete;

  protocol_version version() const { return v_; }
  int fd() const { return fd_; }
  status last() const { return last_; }

  void send_raw(bytes_view b) {
    while (fd_ >= 0 && !b.empty()) {
      const auto n = ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        return;  // the broker closed: the test sees it on the next receive
      }
      b = b.subspan(static_cast<std::size_t>(n));
    }
  }
  void send(const packet& p) {
    const auto b = encode(p, v_);
    send_raw(b);
  }

  // The next packet, or nullopt (last() says eof or timeout) within `timeout`.
  std::optional<packet> receive(std::chrono::milliseconds timeout) {
    last_ = status::ok;
    if (!in_.empty()) return pop();
    if (fd_ < 0) {
      last_ = status::eof;
      return std::nullopt;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        last_ = status::timeout;
        return std::nullopt;
      }
      timeval tv{static_cast<time_t>(left.count() / 1'000'000), static_cast<suseconds_t>(left.count() % 1'000'000)};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::byte buf[16384];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        last_ = status::eof;
        return std::nullopt;
      }
      if (n < 0) continue;  // timed out or interrupted: the deadline decides
      bytes_view b(buf, static_cast<std::size_t>(n));
      while (!b.empty()) {
        auto r = dec_.next(b);
        if (!r) {
          ADD_FAILURE() << "the broker sent a malformed packet: " << r.error().message();
          last_ = status::eof;
          return std::nullopt;
        }
        if (*r) in_.push_back(std::move(**r));
      }
      if (!in_.empty()) return pop();
    }
  }
  std::optional<packet> receive() { return receive(timeout_); }

  // The next packet, which must be a P.
  template <class P>
  P expect() {
    auto p = receive();
    if (!p) {
      ADD_FAILURE() << "expected " << name(P::type) << ", got "
                    << (last_ == status::eof ? "end of stream" : "nothing (timeout)");
      return P{};
    }
    if (!std::holds_alternative<P>(*p)) {
      ADD_FAILURE() << "expected " << name(P::type) << ", got " << name(type_of(*p));
      return P{};
    }
    return std::get<P>(std::move(*p));
  }

  // True when nothing arrives for `quiet` (the connection stays open).
  bool nothing_within(std::chrono::milliseconds quiet) {
    auto p = receive(quiet);
    if (p) ADD_FAILURE() << "unexpected " << name(type_of(*p));
    return !p && last_ == status::timeout;
  }

  // True when the broker closes the connection within the timeout; packets
  // before the end are collected in `before`.
  bool closed_by_broker(std::vector<packet>* before = nullptr) {
    for (;;) {
      auto p = receive();
      if (!p) return last_ == status::eof;
      if (before) before->push_back(std::move(*p));
    }
  }

  // What the broker sends, undecoded: the first bytes within the timeout,
  // then more until it closes the connection (`closed`) or `quiet` passes
  // without a byte. For tests of exact bytes, and of bytes this client's
  // decoder would refuse.
  struct raw_bytes {
    std::vector<std::byte> bytes;
    bool closed = false;
  };
  raw_bytes receive_raw(std::chrono::milliseconds quiet = 300ms) {
    raw_bytes r;
    for (auto wait = timeout_; fd_ >= 0; wait = quiet) {
      const timeval tv{static_cast<time_t>(wait.count() / 1000), static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::byte buf[4096];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        r.bytes.insert(r.bytes.end(), buf, buf + n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      r.closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
      return r;
    }
    r.closed = true;
    return r;
  }

  connack_packet connect(connect_packet c) {
    c.version = v_;
    send(c);
    return expect<connack_packet>();
  }
  connack_packet connect(std::string id, bool clean_start = true) {
    return connect(make_connect(std::move(id), v_, clean_start));
  }

  suback_packet subscribe(std::string filter, qos q, std::uint16_t id = 1, subscribe_options o = {}) {
    subscribe_packet s;
    s.packet_id = id;
    o.max_qos = q;
    s.entries.push_back({std::move(filter), o});
    send(s);
    auto a = expect<suback_packet>();
    EXPECT_EQ(a.packet_id, id);
    return a;
  }

  // Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP).
  void publish(std::string_view topic, std::string_view payload, qos q = qos::at_most_once, bool retain = false,
               std::uint16_t id = 1) {
    publish_packet p(topic, shared_bytes::copy(payload), q, retain);
    if (q != qos::at_most_once) p.packet_id = id;
    send(p);
    if (q == qos::at_least_once) {
      EXPECT_EQ(expect<puback_packet>().packet_id, id);
    } else if (q == qos::exactly_once) {
      EXPECT_EQ(expect<pubrec_packet>().packet_id, id);
      send(pubrel_packet{id, reason::success, {}, {}});
      EXPECT_EQ(expect<pubcomp_packet>().packet_id, id);
    }
  }

  // Receives a PUBLISH and completes its QoS flow as the receiver.
  publish_packet receive_publish() {
    auto m = expect<publish_packet>();
    if (m.qos == qos::at_least_once) {
      send(puback_packet{m.packet_id, reason::success, {}, {}});
    } else if (m.qos == qos::exactly_once) {
      send(pubrec_packet{m.packet_id, reason::success, {}, {}});
      EXPECT_EQ(expect<pubrel_packet>().packet_id, m.packet_id);
      send(pubcomp_packet{m.packet_id, reason::success, {}, {}});
    }
    return m;
  }

  // A PINGREQ answered: the connection works.
  bool alive() {
    send(pingreq_packet{});
    auto p = receive();
    return p && std::holds_alternative<pingresp_packet>(*p);
  }

  void disconnect() {
    send(disconnect_packet{});
    close();
  }
  // Closes the socket without DISCONNECT.
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  packet pop() {
    auto p = std::move(in_.front());
    in_.pop_front();
    return p;
  }

  protocol_version v_;
  int fd_ = -1;
  decoder dec_;
  std::chrono::milliseconds timeout_{5000};
  std::deque<packet> in_;
  status last_ = status::ok;
};

}  // namespace tern::testing
