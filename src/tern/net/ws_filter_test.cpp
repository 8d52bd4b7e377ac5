// WebSocket framing (tern/net/ws_frame.hpp) and the WebSocket filter's two
// sides (tern/net/ws_filter.hpp) over a socket pair, driven by hand (no
// reactor): frames split at every byte, the reader's refusals with their
// close codes, the upgrade, bytes both ways, a refused path, the close frame
// that says why.
#include "tern/net/ws_filter.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "support/socket_pair.hpp"
#include "tern/net/ws_frame.hpp"

namespace tern::net {
namespace {

using bytes = std::vector<std::byte>;
using clock_type = std::chrono::steady_clock;

bytes frame(ws::opcode op, std::string_view payload, bool masked = true, bool fin = true) {
  std::array<std::byte, 14> h;
  const std::array<std::byte, 4> mask{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const auto n = ws::write_header(h, op, payload.size(), masked ? &mask : nullptr);
  bytes out(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(n));
  if (!fin) out[0] &= std::byte{0x7f};
  const auto at = out.size();
  for (char c : payload) out.push_back(static_cast<std::byte>(c));
  if (masked) ws::apply_mask(out.data() + at, payload.size(), mask);
  return out;
}

// What a server-side reader makes of `in` fed `piece` bytes at a time: the
// payload, and the events in order ("ping:hi", "close:1000", "failed:1003").
std::pair<std::string, std::vector<std::string>> read_all(bytes in, std::size_t piece, std::uint64_t max = 1000) {
  ws::frame_reader r(ws::role::server, max);
  std::string payload;
  std::vector<std::string> events;
  for (std::size_t at = 0; at < in.size();) {
    const std::size_t n = std::min(piece, in.size() - at);
    std::size_t used = 0, out = 0;
    while (used < n && !r.failed()) {
      const auto s = r.step(in.data() + at + used, n - used, in.data() + at + out);
      used += s.consumed;
      out += s.produced;
      using ev = ws::frame_reader::event;
      if (s.what == ev::ping) {
        const auto p = r.control_payload();
        events.push_back("ping:" + std::string(reinterpret_cast<const char*>(p.data()), p.size()));
      }
      if (s.what == ev::close) events.push_back("close:" + std::to_string(s.code));
      if (s.what == ev::failed) events.push_back("failed:" + std::to_string(s.code));
    }
    payload.append(reinterpret_cast<const char*>(in.data() + at), out);
    if (r.failed()) break;
    at += n;
  }
  return {payload, events};
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(WsFrameReader, PayloadOfFragmentsAndMessagesWithControlFramesBetweenAtEverySplit) {
  const auto in = cat({frame(ws::opcode::binary, "MQTT ", true, false), frame(ws::opcode::ping, "hi"),
                       frame(ws::opcode::continuation, "bytes"), frame(ws::opcode::binary, std::string(300, 'x')),
                       frame(ws::opcode::binary, ""), frame(ws::opcode::close, "\x03\xe8")});
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, in.size()}) {
    const auto [payload, events] = read_all(in, piece);
    EXPECT_EQ(payload, "MQTT bytes" + std::string(300, 'x')) << "pieces of " << piece;
    EXPECT_EQ(events, (std::vector<std::string>{"ping:hi", "close:1000"})) << "pieces of " << piece;
  }
}

TEST(WsFrameReader, RefusesWithTheCloseCodeThatSaysWhy) {
  EXPECT_EQ(read_all(frame(ws::opcode::text, "hi"), 64).second, std::vector<std::string>{"failed:1003"});
  EXPECT_EQ(read_all(frame(ws::opcode::binary, "hi", false), 64).second, std::vector<std::string>{"failed:1002"});
  EXPECT_EQ(read_all(frame(ws::opcode::binary, std::string(1001, 'x')), 2000).second,
            std::vector<std::string>{"failed:1009"});
  EXPECT_EQ(read_all(frame(ws::opcode::continuation, "x"), 64).second, std::vector<std::string>{"failed:1002"});
  EXPECT_EQ(read_all(frame(ws::opcode::ping, "x", true, false), 64).second, std::vector<std::string>{"failed:1002"});
  EXPECT_EQ(read_all(frame(static_cast<ws::opcode>(3), "x"), 64).second, std::vector<std::string>{"failed:1002"});
  auto rsv = frame(ws::opcode::binary, "x");
  rsv[0] |= std::byte{0x40};
  EXPECT_EQ(read_all(rsv, 64).second, std::vector<std::string>{"failed:1002"});
  // A 16-bit length that fits in 7 bits (then the mask): not the shortest form.
  EXPECT_EQ(read_all(bytes{std::byte{0x82}, std::byte{0xfe}, std::byte{0}, std::byte{5}, std::byte{1}, std::byte{2},
                          std::byte{3}, std::byte{4}},
                    64)
                .second,
            std::vector<std::string>{"failed:1002"});
}

TEST(WsFrameReader, AcceptKeyOfRfc6455) {
  EXPECT_EQ(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// A server filter and a client filter over the two ends of a socket pair.
struct ws_pair {
  explicit ws_pair(ws_server_options so = {}, ws_client_options co = {}) {
    server = ws_server(std::move(so)).make(std::exchange(p.fd[0], -1), clock_type::now());
    client = ws_client(std::move(co)).make(std::exchange(p.fd[1], -1), clock_type::now());
  }
  // Steps both sides until `text` written by `from` is read whole by `to`
  // (or it fails: what was read).
  static std::string send(byte_filter& from, byte_filter& to, const std::string& text, io_status* last = nullptr) {
    std::string got;
    std::vector<iovec> iov{{const_cast<char*>(text.data()), text.size()}};
    std::size_t first = 0;
    for (int i = 0; i < 200 && got.size() < text.size(); ++i) {
      if (first < iov.size()) from.write(iov, first);
      std::byte buf[512];
      const auto r = to.read(buf);
      got.append(reinterpret_cast<const char*>(buf), r.bytes);
      if (last) *last = r.status;
      if (r.status == io_status::failed || r.status == io_status::end) break;
      std::byte other[512];
      from.read(other);  // the upgrade's answer, pongs
    }
    return got;
  }
  test::socket_pair p;
  std::unique_ptr<byte_filter> server;
  std::unique_ptr<byte_filter> client;
};

TEST(WsFilter, UpgradesThenCarriesBytesBothWays) {
  ws_pair w({.path = "/mqtt"}, {.host = "h", .path = "/mqtt"});
  EXPECT_NE(w.server->handshake_deadline(), byte_filter::time_point::max());
  const std::string big(70'000, 'b');  // a 64-bit length, several reads
  EXPECT_EQ(ws_pair::send(*w.client, *w.server, big), big);
  EXPECT_EQ(w.server->handshake_deadline(), byte_filter::time_point::max()) << "upgraded";
  EXPECT_EQ(ws_pair::send(*w.server, *w.client, "back"), "back");
  // The server's close frame says why: a refused CONNECT is 1008.
  w.server->will_close(close_cause::refused);
  w.server->shutdown_write();
  std::byte buf[64];
  io_result r;
  for (int i = 0; i < 50 && (r = w.client->read(buf)).status == io_status::would_block; ++i) {
  }
  EXPECT_EQ(r.status, io_status::end) << "the client ends at the close frame";
}

TEST(WsFilter, AnotherPathIsRefused) {
  ws_pair w({.path = "/mqtt"}, {.host = "h", .path = "/other"});
  io_status last{};
  EXPECT_EQ(ws_pair::send(*w.client, *w.server, "x", &last), "");
  EXPECT_EQ(last, io_status::failed);
}

}  // namespace
}  // namespace tern::net
