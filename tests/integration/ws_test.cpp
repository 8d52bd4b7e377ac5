// ws listeners of tern::Broker (issue 19): WebSocket as a byte filter under
// the connection (tern/net/ws_filter.hpp), on the same io threads and engine
// as TCP. The peer is a raw WebSocket client in this file (blocking
// sockets, frames made by hand), for what a client library hides: MQTT
// packets split across frames and several in one frame, every byte in its
// own send, the close frame's code after a DISCONNECT or a protocol error,
// and bad input: HTTP without Upgrade, a text frame, an unmasked frame, an
// oversized frame, a stalled upgrade. MQTT.js and paho over ws://:
// tests/interop.
#include <gtest/gtest.h>
#include <boost/asio/error.hpp>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "broker_fixture.hpp"
#include "support/pki.hpp"
#include "support/raw_connect.hpp"
#include "support/test_client.hpp"
#include "tern/client/client.hpp"
#include "tern/net/ws_frame.hpp"

namespace tern::testing {
namespace {

using namespace std::chrono_literals;
using bytes = std::vector<std::uint8_t>;

server::config ws_config(std::string path = {}) {
  auto c = test_config(2);
  server::listener_config l;
  l.address = "127.0.0.1";
  l.port = 0;
  l.protocol = server::listener_protocol::ws;
  l.handshake_timeout = 1;
  l.path = std::move(path);
  c.listeners = {l};
  c.limits.maximum_packet_size = 64 * 1024;
  return c;
}


// A client frame: masked unless told otherwise.
bytes frame(net::ws::opcode op, const bytes& payload, bool fin = true, bool masked = true) {
  std::array<std::byte, 14> h;
  const std::array<std::byte, 4> mask{std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}};
  const auto n = net::ws::write_header(h, op, payload.size(), masked ? &mask : nullptr);
  bytes out(reinterpret_cast<const std::uint8_t*>(h.data()), reinterpret_cast<const std::uint8_t*>(h.data()) + n);
  if (!fin) out[0] &= 0x7f;
  const auto at = out.size();
  out.insert(out.end(), payload.begin(), payload.end());
  if (masked) net::ws::apply_mask(reinterpret_cast<std::byte*>(out.data() + at), payload.size(), mask);
  return out;
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string upgrade_request(const std::string& path = "/mqtt", const std::string& protocol = "mqtt") {
  return "GET " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: " +
         protocol + "\r\n\r\n";
}

// A blocking raw client: sends bytes, reads the HTTP answer, then frames.
struct raw_ws {
  explicit raw_ws(std::uint16_t port) : fd(connect_tcp(port)) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~raw_ws() { ::close(fd); }
  void send(const std::string& s) { ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }
  void send(const bytes& b, bool bytewise = false) {
    if (!bytewise) {
      ::send(fd, b.data(), b.size(), MSG_NOSIGNAL);
      return;
    }
    for (auto c : b) {
      ::send(fd, &c, 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(100us);
    }
  }
  // Up to the end of the HTTP head ("" when the connection closed first).
  std::string head() {
    std::string h;
    char c;
    while (h.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) h += c;
    return h;
  }
  // The next data payload bytes, or a close frame's code (when one comes); false at the end.
  bool next(bytes& data, std::optional<std::uint16_t>& close) {
    std::byte buf[4096];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    for (std::size_t at = 0; at < static_cast<std::size_t>(n);) {
      const auto s = reader.step(buf + at, static_cast<std::size_t>(n) - at, buf + at);
      auto* p = reinterpret_cast<std::uint8_t*>(buf + at);
      data.insert(data.end(), p, p + s.produced);
      at += s.consumed;
      if (s.what == net::ws::frame_reader::event::close) close = s.code;
      if (s.what == net::ws::frame_reader::event::failed) return false;
    }
    return true;
  }
  // Reads until `want` data bytes came, or a close frame, or the end.
  bytes read(std::size_t want, std::optional<std::uint16_t>& close) {
    bytes data;
    while (data.size() < want && !close && next(data, close)) {
    }
    return data;
  }
  // Reads until the close frame; its code (0: none came before the end).
  std::uint16_t close_code() {
    bytes data;
    std::optional<std::uint16_t> close;
    while (!close && next(data, close)) {
    }
    return close.value_or(0);
  }
  bool ends() {
    char buf[256];
    for (;;) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) continue;
      return n == 0 || errno == ECONNRESET;
    }
  }
  int fd;
  net::ws::frame_reader reader{net::ws::role::client, 1 << 20};
};

const bytes connack_v5{0x20, 0x03, 0x00, 0x00, 0x00};

TEST(WsListener, UpgradesWithMqttAndCarriesPacketsSplitAcrossFramesAndSeveralInOne) {
  running_broker b(ws_config(), nullptr);
  raw_ws c(b.port);
  c.send(upgrade_request());
  const auto head = c.head();
  EXPECT_NE(head.find("HTTP/1.1 101"), std::string::npos) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Protocol: mqtt\r\n"), std::string::npos) << head;
  const auto connect = raw_connect_v5("ws-1");
  // The CONNECT in two frames of one fragmented message, with a ping between them.
  c.send(cat({frame(net::ws::opcode::binary, bytes(connect.begin(), connect.begin() + 5), false),
              frame(net::ws::opcode::ping, {'h', 'i'}),
              frame(net::ws::opcode::continuation, bytes(connect.begin() + 5, connect.end()))}));
  std::optional<std::uint16_t> close;
  auto got = c.read(connack_v5.size(), close);
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[0], 0x20);
  // SUBSCRIBE "t" QoS 0 and a PUBLISH to it in one frame.
  const bytes subscribe{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x00};
  const bytes publish{0x30, 0x05, 0x00, 0x01, 't', 0x00, 'x'};
  c.send(frame(net::ws::opcode::binary, cat({subscribe, publish})));
  got = c.read(6 + publish.size(), close);
  ASSERT_EQ(got.size(), 6u + publish.size());
  EXPECT_EQ(got[0], 0x90);  // SUBACK
  EXPECT_EQ(bytes(got.begin() + 6, got.end()), publish);
  // DISCONNECT: a close frame 1000, then the end.
  c.send(frame(net::ws::opcode::binary, {0xe0, 0x00}));
  EXPECT_EQ(c.close_code(), net::ws::close_code::normal);
  EXPECT_TRUE(c.ends());
}

TEST(WsListener, WorksWithEveryByteInItsOwnSegment) {
  running_broker b(ws_config("/mqtt"), nullptr);
  raw_ws c(b.port);
  const auto req = upgrade_request("/mqtt", "mqttv3.1");
  c.send(bytes(req.begin(), req.end()), true);
  const auto head = c.head();
  EXPECT_NE(head.find("Sec-WebSocket-Protocol: mqttv3.1\r\n"), std::string::npos) << head;
  c.send(frame(net::ws::opcode::binary, raw_connect_v5("ws-bytes")), true);
  std::optional<std::uint16_t> close;
  const auto got = c.read(connack_v5.size(), close);
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[0], 0x20);
  EXPECT_EQ(got[3], 0x00);
}

TEST(WsListener, AProtocolErrorEndsWithClose1002) {
  running_broker b(ws_config(), nullptr);
  raw_ws c(b.port);
  c.send(upgrade_request());
  c.head();
  c.send(frame(net::ws::opcode::binary, {0x30, 0x03, 0x00, 0x01, 't'}));  // PUBLISH before CONNECT
  EXPECT_EQ(c.close_code(), net::ws::close_code::protocol_error);
  EXPECT_TRUE(c.ends());
}

// Refuses every CONNECT: not authorized.
struct refuse_all : engine::hooks {
  reason on_connect(const engine::connect_request&) override { return reason::not_authorized; }
};

TEST(WsListener, ARefusedConnectEndsWithItsConnackThenClose1008) {
  refuse_all hooks;
  running_broker b(ws_config(), &hooks);
  raw_ws c(b.port);
  c.send(upgrade_request());
  c.head();
  c.send(frame(net::ws::opcode::binary, raw_connect_v5("refused")));
  std::optional<std::uint16_t> close;
  const auto connack = c.read(3, close);
  ASSERT_GE(connack.size(), 4u);
  EXPECT_EQ(connack[0], 0x20);
  EXPECT_EQ(connack[3], 0x87) << "CONNACK not authorized, read before the close frame";
  const auto code = close ? *close : c.close_code();
  EXPECT_EQ(code, net::ws::close_code::policy_violation);
  EXPECT_TRUE(c.ends());
}

TEST(WsListener, BadInputClosesOnlyItsConnection) {
  running_broker b(ws_config("/mqtt"), nullptr);
  {
    raw_ws c(b.port);  // plain HTTP
    c.send(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_NE(c.head().find("HTTP/1.1 426"), std::string::npos);
    EXPECT_TRUE(c.ends());
  }
  {
    raw_ws c(b.port);  // another path
    c.send(upgrade_request("/other"));
    EXPECT_NE(c.head().find("HTTP/1.1 404"), std::string::npos);
    EXPECT_TRUE(c.ends());
  }
  {
    raw_ws c(b.port);  // a text frame
    c.send(upgrade_request());
    c.head();
    c.send(frame(net::ws::opcode::text, {'h', 'i'}));
    EXPECT_EQ(c.close_code(), net::ws::close_code::unsupported_data);
    EXPECT_TRUE(c.ends());
  }
  {
    raw_ws c(b.port);  // an unmasked frame
    c.send(upgrade_request());
    c.head();
    c.send(frame(net::ws::opcode::binary, raw_connect_v5("unmasked"), true, false));
    EXPECT_EQ(c.close_code(), net::ws::close_code::protocol_error);
    EXPECT_TRUE(c.ends());
  }
  {
    raw_ws c(b.port);  // a frame over the limit (maximum_packet_size + 64 KiB)
    c.send(upgrade_request());
    c.head();
    c.send(bytes{0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4});
    EXPECT_EQ(c.close_code(), net::ws::close_code::too_big);
    EXPECT_TRUE(c.ends());
  }
  raw_ws stalled(b.port);
  stalled.send(std::string("GET /mqtt HTTP/1.1\r\nHost: x\r\n"));
  // Meanwhile a good client is served.
  raw_ws good(b.port);
  good.send(upgrade_request());
  EXPECT_NE(good.head().find("101"), std::string::npos);
  good.send(frame(net::ws::opcode::binary, raw_connect_v5("good")));
  std::optional<std::uint16_t> close;
  const auto connack = good.read(connack_v5.size(), close);
  ASSERT_GE(connack.size(), 3u);
  EXPECT_EQ(connack[0], 0x20);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(stalled.ends());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms) << "closed after handshake_timeout (1 s)";
}

pki& certificates() {
  static pki p;
  return p;
}

// Connects tern's client to `uri`, subscribes, publishes to itself at QoS 1
// and receives it: the first error, or none.
boost::system::error_code round_trip(const std::string& uri, client_options o = {}) {
  o.reconnect.enabled = false;
  Client client(o);
  if (auto ec = client.connect(uri, {.client_id = "ws-rt"})) return ec;
  auto s = client.subscribe("ws/echo", qos::at_least_once);
  if (!s.wait(5s) || s.error()) return s.error() ? s.error() : boost::system::error_code(boost::asio::error::timed_out);
  const std::string big(100'000, 'b');  // several frames' worth, several reads
  auto p = client.publish("ws/echo", big, qos::at_least_once);
  if (!p.wait_for_publish(5s) || p.error()) return p.error() ? p.error() : boost::system::error_code(boost::asio::error::timed_out);
  auto m = client.receive(5s);
  if (!m) return boost::asio::error::timed_out;
  EXPECT_EQ(m->payload().view(), big);
  client.disconnect().wait(5s);
  return {};
}

TEST(WsListener, TernsClientRoundTripsOverWsAndWss) {
  ASSERT_TRUE(certificates().ok()) << certificates().log();
  auto c = ws_config("/mqtt");
  c.limits.maximum_packet_size = 1 << 20;
  server::listener_config wss = c.listeners[0];
  wss.protocol = server::listener_protocol::wss;
  wss.cert_file = certificates().path("server.crt");
  wss.key_file = certificates().path("server.key");
  c.listeners.push_back(wss);
  running_broker b(c, nullptr);
  const auto ports = b.broker->ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_FALSE(round_trip("ws://127.0.0.1:" + std::to_string(ports[0]) + "/mqtt"));
  client_options o;
  o.tls.ca_file = certificates().path("ca.crt");
  o.ws_headers = {{"X-Test", "1"}};
  EXPECT_FALSE(round_trip("wss://127.0.0.1:" + std::to_string(ports[1]) + "/mqtt", o));
  // Another path: the upgrade is refused (404), the connect fails.
  EXPECT_TRUE(round_trip("ws://127.0.0.1:" + std::to_string(ports[0]) + "/other"));
}

}  // namespace
}  // namespace tern::testing
