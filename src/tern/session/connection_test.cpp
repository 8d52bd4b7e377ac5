// The protocol state machine: real encoded bytes in, the exact packets out
// (decoded and described as text) and the exact handler calls, in order.
// Time is a manual time_point; nothing sleeps.
#include "tern/session/connection.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "support/hex.hpp"

namespace tern::session {
namespace {

using namespace std::chrono_literals;
using strings = std::vector<std::string>;
using tern::testing::from_hex;
using tern::testing::to_hex;

constexpr auto v5 = protocol_version::v5;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v31 = protocol_version::v3_1;
const time_point t0 = time_point{} + 1h;

// ---------------------------------------------------------------- describing packets

std::string rc(reason r) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02x", static_cast<unsigned>(r));
  return b;
}

std::string props_text(const properties& p) {
  if (p.empty()) return {};
  std::string s = " {";
  bool first = true;
  p.for_each([&](const property& x) {
    if (!first) s += ',';
    first = false;
    char id[4];
    std::snprintf(id, sizeof id, "%02x", static_cast<unsigned>(x.id));
    s += id;
    s += '=';
    switch (*type_of(x.id)) {
      case property_type::utf8: s += x.text; break;
      case property_type::utf8_pair: s += std::string(x.text) + ":" + std::string(x.value); break;
      case property_type::binary: s += to_hex(x.data); break;
      default: s += std::to_string(x.integer);
    }
  });
  return s + "}";
}

std::string describe_publish(const publish_packet& p) {
  std::string s = p.topic().empty() ? "-" : std::string(p.topic());
  s += " q" + std::to_string(static_cast<int>(p.qos));
  if (p.qos != qos::at_most_once) s += " id=" + std::to_string(p.packet_id);
  if (p.dup) s += " dup";
  if (p.retain) s += " retain";
  s += " '" + std::string(p.payload().view()) + "'";
  return s + props_text(p.props());
}

template <class A>
std::string describe_ack(std::string_view name, const A& a) {
  return std::string(name) + " " + std::to_string(a.packet_id) + " rc=" + rc(a.reason_code) + props_text(a.props);
}

std::string describe(const packet& pk) {
  struct visitor {
    std::string operator()(const connect_packet& c) const {
      std::string s = "CONNECT v" + std::to_string(static_cast<int>(c.version)) + " " + c.client_id;
      if (c.clean_start) s += " clean";
      s += " ka=" + std::to_string(c.keep_alive);
      return s + props_text(c.props);
    }
    std::string operator()(const connack_packet& a) const {
      return "CONNACK sp=" + std::to_string(a.session_present ? 1 : 0) + " rc=" + rc(a.reason_code) +
             props_text(a.props);
    }
    std::string operator()(const publish_packet& p) const { return "PUBLISH " + describe_publish(p); }
    std::string operator()(const puback_packet& a) const { return describe_ack("PUBACK", a); }
    std::string operator()(const pubrec_packet& a) const { return describe_ack("PUBREC", a); }
    std::string operator()(const pubrel_packet& a) const { return describe_ack("PUBREL", a); }
    std::string operator()(const pubcomp_packet& a) const { return describe_ack("PUBCOMP", a); }
    std::string operator()(const subscribe_packet& p) const {
      std::string s = "SUBSCRIBE " + std::to_string(p.packet_id);
      for (const auto& e : p.entries) s += " " + e.filter + " q" + std::to_string(static_cast<int>(e.options.max_qos));
      return s + props_text(p.props);
    }
    std::string operator()(const suback_packet& p) const {
      std::string s = "SUBACK " + std::to_string(p.packet_id);
      for (auto c : p.reason_codes) s += " " + rc(c);
      return s;
    }
    std::string operator()(const unsubscribe_packet& p) const {
      std::string s = "UNSUBSCRIBE " + std::to_string(p.packet_id);
      for (const auto& f : p.filters) s += " " + f;
      return s;
    }
    std::string operator()(const unsuback_packet& p) const {
      std::string s = "UNSUBACK " + std::to_string(p.packet_id);
      for (auto c : p.reason_codes) s += " " + rc(c);
      return s;
    }
    std::string operator()(const pingreq_packet&) const { return "PINGREQ"; }
    std::string operator()(const pingresp_packet&) const { return "PINGRESP"; }
    std::string operator()(const disconnect_packet& d) const {
      return "DISCONNECT rc=" + rc(d.reason_code) + props_text(d.props);
    }
    std::string operator()(const auth_packet& a) const { return "AUTH rc=" + rc(a.reason_code) + props_text(a.props); }
  };
  return std::visit(visitor{}, pk);
}

std::string closed_text(const error& e) {
  if (e.code.category() == reason_category()) return rc(static_cast<reason>(e.code.value()));
  if (e.code == std::errc::timed_out) return "timed_out";
  return e.code.message();
}

// ---------------------------------------------------------------- the handler

struct recorder : handler {
  strings log;
  std::function<void(connect_packet&)> connect_hook;
  std::function<void(const publish_packet&)> publish_hook;
  std::function<void()> connack_hook;

  void on_connect(connect_packet&& c) override {
    log.push_back("connect " + c.client_id + " ka=" + std::to_string(c.keep_alive));
    if (connect_hook) connect_hook(c);
  }
  void on_connack(const connack_packet& a) override {
    log.push_back("connack sp=" + std::to_string(a.session_present ? 1 : 0) + " rc=" + rc(a.reason_code));
    if (connack_hook) connack_hook();
  }
  void on_publish(publish_packet&& m) override {
    log.push_back("publish " + describe_publish(m));
    if (publish_hook) publish_hook(m);
  }
  void on_delivered(const publish_packet& m, reason code) override {
    log.push_back("delivered " + std::string(m.topic()) + " id=" + std::to_string(m.packet_id) + " rc=" + rc(code));
  }
  void on_dropped(const publish_packet& m, reason why) override {
    log.push_back("dropped " + std::string(m.topic()) + " rc=" + rc(why));
  }
  void on_subscribe(subscribe_packet&& s) override { log.push_back("subscribe " + std::to_string(s.packet_id)); }
  void on_suback(suback_packet&& a) override { log.push_back("suback " + std::to_string(a.packet_id)); }
  void on_unsubscribe(unsubscribe_packet&& u) override {
    log.push_back("unsubscribe " + std::to_string(u.packet_id));
  }
  void on_unsuback(unsuback_packet&& a) override { log.push_back("unsuback " + std::to_string(a.packet_id)); }
  void on_auth(auth_packet&& a) override { log.push_back("auth rc=" + rc(a.reason_code)); }
  void on_disconnect(const disconnect_packet& d) override { log.push_back("disconnect rc=" + rc(d.reason_code)); }
  void on_closed(const error& e) override { log.push_back("closed " + closed_text(e)); }
};

// ---------------------------------------------------------------- helpers

std::vector<std::byte> take_bytes(connection& c) {
  std::vector<std::byte> all;
  for (auto b : c.output().buffers()) all.insert(all.end(), b.begin(), b.end());
  c.output().clear();
  return all;
}

// Decodes every packet in `bytes` (as the peer of version `v` would).
strings decode_all(const std::vector<std::byte>& bytes, protocol_version v) {
  strings out;
  decoder d({v});
  bytes_view in(bytes);
  while (!in.empty()) {
    auto r = d.next(in);
    if (!r) {
      out.push_back("DECODE ERROR: " + r.error().message());
      break;
    }
    if (*r) out.push_back(describe(**r));
    else out.push_back("INCOMPLETE");
  }
  return out;
}

properties props_of(std::initializer_list<std::pair<property_id, std::uint32_t>> ints) {
  properties::builder b;
  for (auto [id, v] : ints) {
    property p;
    p.id = id;
    p.integer = v;
    EXPECT_FALSE(b.add(p));
  }
  return b.build();
}

publish_packet pub(std::string_view topic, std::string_view payload, qos q = qos::at_most_once,
                   std::uint16_t id = 0, properties props = {}) {
  publish_packet m(topic, shared_bytes::copy(payload), q, false, std::move(props));
  m.packet_id = id;
  return m;
}

connect_packet connect_msg(protocol_version v, std::uint16_t keep_alive = 60, bool clean = true,
                           properties props = {}) {
  connect_packet c;
  c.version = v;
  c.client_id = "c1";
  c.keep_alive = keep_alive;
  c.clean_start = clean;
  c.props = std::move(props);
  return c;
}

// One end of a connection, driven by a test.
struct side {
  recorder h;
  state st;
  connection conn;
  protocol_version v;
  time_point now = t0;

  side(role r, protocol_version ver, options o = {}) : conn(r, h, o, t0), v(ver) {}

  void feed_bytes(bytes_view b) { conn.receive(b, now); }
  void feed(const packet& p) {
    auto b = encode(p, v);
    conn.receive(b, now);
  }
  strings out() { return decode_all(take_bytes(conn), v); }
  strings calls() {
    auto x = std::move(h.log);
    h.log.clear();
    return x;
  }
  void advance(std::chrono::milliseconds d) { now += d; }
};

// A server whose client has connected and been accepted.
struct server : side {
  explicit server(protocol_version ver, options o = {}) : side(role::server, ver, o) {}
  void open(connect_packet c, accept_options a = {}) {
    feed(c);
    conn.accept(st, a, now);
    out();
    calls();
  }
  void open(std::uint16_t keep_alive = 60) { open(connect_msg(v, keep_alive)); }
};

// A client whose CONNECT has been answered with `ack`.
struct client : side {
  explicit client(protocol_version ver, options o = {}) : side(role::client, ver, o) {}
  void open(connect_packet c, connack_packet ack = {}) {
    conn.connect(std::move(c), st, now);
    feed(ack);
    out();
    calls();
  }
  void open(std::uint16_t keep_alive = 60) { open(connect_msg(v, keep_alive)); }
};

// ================================================================ server: CONNECT

TEST(ServerConnect, V311AcceptSendsConnack) {
  side s(role::server, v311);
  s.feed(connect_msg(v311, 30));
  EXPECT_EQ(s.calls(), strings{"connect c1 ka=30"});
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_FALSE(s.conn.connected());
  EXPECT_EQ(s.conn.version(), v311);
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020100");
  EXPECT_TRUE(s.conn.connected());
  EXPECT_EQ(s.conn.session(), &s.st);
  EXPECT_EQ(s.conn.peer().keep_alive, 30);
  EXPECT_TRUE(s.calls().empty());
}

TEST(ServerConnect, SharedOptionsAreEnforcedAndNotCopied) {
  const options shared{.maximum_packet_size = 40, .maximum_qos = qos::at_least_once};
  recorder h;
  state st;
  connection c(role::server, h, shared, t0, shared_options);
  EXPECT_EQ(&c.local(), &shared);
  auto connect = encode(connect_msg(v5, 30), v5);
  c.receive(connect, t0);
  c.accept(st, {}, t0);
  EXPECT_EQ(decode_all(take_bytes(c), v5), strings{"CONNACK sp=0 rc=0x00 {27=40,24=1}"});
  auto big = encode(pub("t", std::string(40, 'x')), v5);
  c.receive(big, t0);
  EXPECT_EQ(decode_all(take_bytes(c), v5), strings{"DISCONNECT rc=0x95"});
  EXPECT_EQ(&c.local(), &shared);
}

TEST(ServerConnect, ConnectTimerFromTheSharedOptions) {
  const options shared{.connect_timeout = std::chrono::milliseconds(500)};
  recorder h;
  connection c(role::server, h, shared, t0, shared_options);
  EXPECT_EQ(c.next_timeout(), t0 + 500ms);
  c.on_timeout(t0 + 500ms);
  EXPECT_TRUE(c.closing());
  EXPECT_EQ(h.log, strings{"closed timed_out"});
  EXPECT_EQ(c.next_timeout(), std::nullopt);
}

TEST(ServerConnect, V31AcceptSendsConnack) {
  side s(role::server, v31);
  s.feed(connect_msg(v31));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020000");  // 3.1 has no Session Present
}

TEST(ServerConnect, V5AcceptWithoutLimitsHasNoProperties) {
  side s(role::server, v5);
  s.feed(connect_msg(v5));
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003000000");
}

TEST(ServerConnect, V5AcceptAnnouncesLimits) {
  options o;
  o.receive_maximum = 10;
  o.maximum_packet_size = 1024;
  o.topic_alias_maximum = 5;
  o.maximum_qos = qos::at_least_once;
  o.retain_available = false;
  side s(role::server, v5, o);
  s.feed(connect_msg(v5, 60));
  accept_options a;
  a.session_present = true;
  a.server_keep_alive = 30;
  a.props = properties::builder{}.add<property_id::assigned_client_identifier>("abc").build();
  s.conn.accept(s.st, a, s.now);
  EXPECT_EQ(to_hex(take_bytes(s.conn)),
            "201b0100"
            "18"
            "21000a"
            "2700000400"
            "220005"
            "2401"
            "2500"
            "13001e"
            "120003616263");
  EXPECT_EQ(s.conn.peer().keep_alive, 30);
}

TEST(ServerConnect, RecordsTheClientsLimits) {
  side s(role::server, v5);
  s.feed(connect_msg(v5, 60, true,
                     props_of({{property_id::receive_maximum, 7},
                               {property_id::maximum_packet_size, 500},
                               {property_id::topic_alias_maximum, 3}})));
  EXPECT_EQ(s.conn.peer().receive_maximum, 7);
  EXPECT_EQ(s.conn.peer().maximum_packet_size, 500u);
  EXPECT_EQ(s.conn.peer().topic_alias_maximum, 3);
}

TEST(ServerConnect, RefuseV311MapsTheReturnCode) {
  side s(role::server, v311);
  s.feed(connect_msg(v311));
  s.calls();
  s.conn.refuse(reason::not_authorized);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020005");
  EXPECT_TRUE(s.conn.closing());
  EXPECT_FALSE(s.conn.connected());
  EXPECT_EQ(s.calls(), strings{"closed 0x87"});
  s.conn.accept(s.st, {}, s.now);  // too late: ignored
  EXPECT_TRUE(s.conn.output().empty());
}

TEST(ServerConnect, RefuseV5WithReasonAndProperties) {
  side s(role::server, v5);
  s.feed(connect_msg(v5));
  s.calls();
  s.conn.refuse(reason::bad_user_name_or_password,
                properties::builder{}.add<property_id::reason_string>("no").build());
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20080086051f00026e6f");
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x86"});
  EXPECT_EQ(s.conn.next_timeout(), std::nullopt);
}

TEST(ServerConnect, UnsupportedLevelBelow5GetsV311Connack) {
  side s(role::server, v311);
  // "MQTT" level 3: a 3.1 level with the 3.1.1 name.
  s.feed_bytes(from_hex("100e 0004 4d515454 03 02 003c 0002 6331"));
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020001");
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x84"});
}

TEST(ServerConnect, UnsupportedLevelAbove5GetsV311ConnackToo) {
  side s(role::server, v5);
  auto bytes = from_hex("100f 0004 4d515454 06 02 003c 00 0002 6331");
  for (auto b : bytes) s.feed_bytes({&b, 1});  // byte by byte
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020001");  // MQTT-3.1.2-2 (3.1.1), not 5.0's 0x84
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x84"});
}

TEST(ServerConnect, MqisdpWithAnotherLevelGetsV31Connack) {
  for (const char* level : {"04", "05", "06"}) {
    side s(role::server, v311);
    s.feed_bytes(from_hex(std::string("1010 0006 4d5149736470 ") + level + " 02 003c 0002 6331"));
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "20020001") << level;  // 3.1: return code 1, the same bytes
    EXPECT_TRUE(s.conn.closing());
    EXPECT_EQ(s.calls(), strings{"closed 0x84"});
  }
}

TEST(ServerConnect, WrongProtocolNameClosesSilently) {
  side s(role::server, v311);
  s.feed_bytes(from_hex("100e 0004 4d515458 04 02 003c 0002 6331"));
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x84"});
}

TEST(ServerConnect, MalformedV5ConnectGetsConnackWithTheReason) {
  side s(role::server, v5);
  s.feed_bytes(from_hex("100f 0004 4d515454 05 03 003c 00 0002 6331"));  // reserved flag set
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003008100");
  EXPECT_EQ(s.calls(), strings{"closed 0x81"});
}

TEST(ServerConnect, MalformedV311ConnectClosesSilently) {
  side s(role::server, v311);
  s.feed_bytes(from_hex("100c 0004 4d515454 04 03 003c 0000"));
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), strings{"closed 0x81"});
}

TEST(ServerConnect, FirstPacketNotConnect) {
  side s(role::server, v5);
  s.feed(pingreq_packet{});
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
  s.feed(connect_msg(v5));  // nothing more is read
  EXPECT_TRUE(s.calls().empty());
}

TEST(ServerConnect, SecondConnectV5IsAProtocolError) {
  server s(v5);
  s.open();
  s.feed(connect_msg(v5));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x82"});
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
}

TEST(ServerConnect, SecondConnectV311Closes) {
  server s(v311);
  s.open();
  s.feed(connect_msg(v311));
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
}

TEST(ServerConnect, ConnectTimeout) {
  side s(role::server, v5);
  EXPECT_EQ(s.conn.next_timeout(), t0 + 10s);
  s.conn.on_timeout(t0 + 9999ms);  // early: nothing
  EXPECT_FALSE(s.conn.closing());
  s.feed_bytes(from_hex("10"));  // a partial CONNECT does not stop the clock
  EXPECT_EQ(s.conn.next_timeout(), t0 + 10s);
  s.conn.on_timeout(t0 + 10s);
  EXPECT_TRUE(s.conn.closing());
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), strings{"closed timed_out"});
  EXPECT_EQ(s.conn.next_timeout(), std::nullopt);
}

TEST(ServerConnect, ConnectTimeoutStartsAtFirstBytesWithoutAnOpeningTime) {
  recorder h;
  connection c(role::server, h, {.connect_timeout = 2s});
  EXPECT_EQ(c.next_timeout(), std::nullopt);
  auto b = from_hex("10");
  c.receive(b, t0);
  EXPECT_EQ(c.next_timeout(), t0 + 2s);
}

TEST(ServerConnect, PacketsAreHeldUntilAccept) {
  side s(role::server, v5);
  auto bytes = encode(connect_msg(v5), v5);
  for (const packet& p : {packet{pub("a/b", "one", qos::at_least_once, 1)}, packet{pingreq_packet{}},
                          packet{pub("a/b", "two")}}) {
    auto more = encode(p, v5);
    bytes.insert(bytes.end(), more.begin(), more.end());
  }
  s.feed_bytes(bytes);
  EXPECT_EQ(s.calls(), strings{"connect c1 ka=60"});
  EXPECT_TRUE(s.conn.output().empty());
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=0 rc=0x00", "PUBACK 1 rc=0x00", "PINGRESP"}));
  EXPECT_EQ(s.calls(), (strings{"publish a/b q1 id=1 'one'", "publish a/b q0 'two'"}));
}

properties auth_method(std::string_view m) {
  return properties::builder{}.add<property_id::authentication_method>(m).build();
}

connect_packet enhanced_connect() {
  auto c = connect_msg(v5);
  c.props = auth_method("SCRAM-SHA-1");
  return c;
}

TEST(ServerConnect, AuthReachesTheHandlerBeforeAccept) {
  side s(role::server, v5);
  s.feed(enhanced_connect());
  s.conn.send(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
  s.feed(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "auth rc=0x18"}));
  EXPECT_EQ(s.out(), strings{"AUTH rc=0x18 {15=SCRAM-SHA-1}"});
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(s.out(), strings{"CONNACK sp=0 rc=0x00"});
  // Re-authentication (4.12.1) after CONNACK, with the same method.
  s.feed(auth_packet{reason::re_authenticate, auth_method("SCRAM-SHA-1"), {}});
  EXPECT_EQ(s.calls(), strings{"auth rc=0x19"});
  EXPECT_FALSE(s.conn.closing());
}

// MQTT 5.0 3.15: an AUTH needs the CONNECT's Authentication Method
// (MQTT-4.12.0-5/-6/-7, MQTT-4.12.1-1).
TEST(ServerConnect, AuthWithoutAMethodInTheConnectIsAProtocolError) {
  {  // before the CONNACK: a CONNACK says so
    side s(role::server, v5);
    s.feed(connect_msg(v5));
    s.calls();
    s.feed(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003008200");
    EXPECT_EQ(s.calls(), strings{"closed 0x82"});
  }
  {  // after: a DISCONNECT
    server s(v5);
    s.open();
    s.feed(auth_packet{reason::re_authenticate, auth_method("SCRAM-SHA-1"), {}});
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "e00182");
    EXPECT_EQ(s.calls(), strings{"closed 0x82"});
  }
}

TEST(ServerConnect, AuthWithAnotherMethodThanTheConnectsIsAProtocolError) {
  for (auto props : {auth_method("OTHER"), properties{}}) {
    server s(v5);
    s.open(enhanced_connect());
    s.feed(auth_packet{reason::re_authenticate, props, {}});
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "e00182");
    EXPECT_EQ(s.calls(), strings{"closed 0x82"});
  }
}

TEST(ServerConnect, AuthWithTheClientsReasonCodesOnly) {
  // 3.15.2.1: Success (0x00) is the Server's to send.
  server s(v5);
  s.open(enhanced_connect());
  s.feed(auth_packet{reason::success, auth_method("SCRAM-SHA-1"), {}});
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "e00182");
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
}

TEST(ServerConnect, AcceptInsideOnConnectGoesOnWithTheSameBuffer) {
  side s(role::server, v311);
  s.h.connect_hook = [&](connect_packet&) { s.conn.accept(s.st, {}, s.now); };
  auto bytes = encode(connect_msg(v311), v311);
  auto more = encode(pub("x", "p", qos::exactly_once, 9), v311);
  bytes.insert(bytes.end(), more.begin(), more.end());
  s.feed_bytes(bytes);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=0 rc=0x00", "PUBREC 9 rc=0x00"}));
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "publish x q2 id=9 'p'"}));
}

TEST(ServerConnect, AnyByteSplitGivesTheSameResult) {
  auto bytes = encode(connect_msg(v5), v5);
  for (const packet& p : {packet{pub("a/b", "one", qos::at_least_once, 1)}, packet{pingreq_packet{}},
                          packet{pub("a/b", "two", qos::exactly_once, 2)}, packet{pubrel_packet{2, {}, {}, {}}}}) {
    auto more = encode(p, v5);
    bytes.insert(bytes.end(), more.begin(), more.end());
  }
  const strings want_out{"CONNACK sp=0 rc=0x00", "PUBACK 1 rc=0x00", "PINGRESP", "PUBREC 2 rc=0x00",
                         "PUBCOMP 2 rc=0x00"};
  const strings want_calls{"connect c1 ka=60", "publish a/b q1 id=1 'one'", "publish a/b q2 id=2 'two'"};
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    side s(role::server, v5);
    s.h.connect_hook = [&](connect_packet&) { s.conn.accept(s.st, {}, s.now); };
    s.feed_bytes(bytes_view(bytes).subspan(0, cut));
    s.feed_bytes(bytes_view(bytes).subspan(cut));
    ASSERT_EQ(s.out(), want_out) << "cut at " << cut;
    ASSERT_EQ(s.calls(), want_calls) << "cut at " << cut;
  }
}

TEST(ServerConnect, ErrorWhileAwaitingAcceptV5AnswersWithConnack) {
  side s(role::server, v5);
  s.feed(connect_msg(v5));
  s.calls();
  s.feed_bytes(from_hex("0000"));  // reserved packet type 0
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003008100");
  EXPECT_EQ(s.calls(), strings{"closed 0x81"});
  s.conn.accept(s.st, {}, s.now);  // ignored
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_FALSE(s.conn.connected());
}

TEST(ServerConnect, InboundPacketTooLarge) {
  server s(v5, {.maximum_packet_size = 20});
  s.open();
  s.feed(pub("a/b", std::string(30, 'x')));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x95"});
  EXPECT_EQ(s.calls(), strings{"closed 0x95"});
}

TEST(ServerConnect, ClientOnlyPacketIsAProtocolError) {
  server s(v5);
  s.open();
  s.feed(suback_packet{1, {reason::granted_qos_0}, {}});
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x82"});
  EXPECT_EQ(s.calls(), strings{"closed 0x82"});
}

TEST(ServerConnect, SubscribeAndUnsubscribeReachTheHandler) {
  server s(v5);
  s.open();
  s.feed(subscribe_packet{3, {{"a/#", {}}}, {}});
  s.feed(unsubscribe_packet{4, {"a/#"}, {}});
  EXPECT_EQ(s.calls(), (strings{"subscribe 3", "unsubscribe 4"}));
  s.conn.send(suback_packet{3, {reason::granted_qos_0}, {}});
  s.conn.send(unsuback_packet{4, {reason::success}, {}});
  EXPECT_EQ(s.out(), (strings{"SUBACK 3 0x00", "UNSUBACK 4 0x00"}));
}

// ================================================================ keep alive

TEST(KeepAlive, ServerV5ClosesAfterOneAndAHalfIntervals) {
  server s(v5);
  s.open(10);
  EXPECT_EQ(s.conn.next_timeout(), t0 + 15s);
  s.advance(5s);
  s.feed(pingreq_packet{});
  EXPECT_EQ(s.out(), strings{"PINGRESP"});
  EXPECT_EQ(s.conn.next_timeout(), t0 + 20s);
  s.conn.on_timeout(t0 + 19s);
  EXPECT_FALSE(s.conn.closing());
  s.conn.on_timeout(t0 + 20s);
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x8d"});
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x8d"});
}

TEST(KeepAlive, ServerV311ClosesWithoutDisconnect) {
  server s(v311);
  s.open(10);
  s.conn.on_timeout(t0 + 15s);
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x8d"});
}

TEST(KeepAlive, AnyPacketResetsTheServerTimer) {
  server s(v311);
  s.open(4);
  s.advance(5s);
  s.feed(pub("t", "x"));
  EXPECT_EQ(s.conn.next_timeout(), t0 + 11s);
}

TEST(KeepAlive, ServerKeepAliveImposedOnV5) {
  server s(v5);
  s.open(connect_msg(v5, 100), {.server_keep_alive = 20});
  EXPECT_EQ(s.conn.peer().keep_alive, 20);
  EXPECT_EQ(s.conn.next_timeout(), t0 + 30s);
}

TEST(KeepAlive, ServerKeepAliveOnV311OnlyShortens) {
  {
    server s(v311);
    s.open(connect_msg(v311, 100), {.server_keep_alive = 20});
    EXPECT_EQ(s.conn.next_timeout(), t0 + 30s);
  }
  {
    server s(v311);
    s.open(connect_msg(v311, 10), {.server_keep_alive = 20});
    EXPECT_EQ(s.conn.next_timeout(), t0 + 15s);
  }
  {
    server s(v311);
    s.open(connect_msg(v311, 0), {.server_keep_alive = 20});
    EXPECT_EQ(s.conn.next_timeout(), t0 + 30s);
  }
}

TEST(KeepAlive, ZeroMeansNoTimer) {
  server s(v5);
  s.open(0);
  EXPECT_EQ(s.conn.next_timeout(), std::nullopt);
  client c(v5);
  c.open(0);
  EXPECT_EQ(c.conn.next_timeout(), std::nullopt);
}

TEST(KeepAlive, ClientPingCycle) {
  client c(v5);
  c.open(10);
  EXPECT_EQ(c.conn.next_timeout(), t0 + 10s);
  c.advance(4s);
  EXPECT_EQ(c.conn.publish(pub("t", "x"), c.now), enqueue_result::queued);
  EXPECT_EQ(c.out(), strings{"PUBLISH t q0 'x'"});
  EXPECT_EQ(c.conn.next_timeout(), t0 + 14s);
  c.conn.on_timeout(t0 + 14s);
  EXPECT_EQ(c.out(), strings{"PINGREQ"});
  EXPECT_EQ(c.conn.next_timeout(), t0 + 24s);  // PINGRESP due within the keep alive
  c.now = t0 + 15s;
  c.feed(pingresp_packet{});
  EXPECT_EQ(c.conn.next_timeout(), t0 + 24s);  // the next PINGREQ: 10 s after the last send
  c.conn.on_timeout(t0 + 24s);
  EXPECT_EQ(c.out(), strings{"PINGREQ"});
  c.conn.on_timeout(t0 + 34s);
  EXPECT_TRUE(c.conn.closing());
  EXPECT_TRUE(c.conn.output().empty());
  EXPECT_EQ(c.calls(), strings{"closed 0x8d"});
}

TEST(KeepAlive, ClientPingTimeoutOption) {
  client c(v311, {.ping_timeout = 2s});
  c.open(10);
  c.conn.on_timeout(t0 + 10s);
  EXPECT_EQ(c.out(), strings{"PINGREQ"});
  EXPECT_EQ(c.conn.next_timeout(), t0 + 12s);
  c.conn.on_timeout(t0 + 12s);
  EXPECT_TRUE(c.conn.closing());
  EXPECT_EQ(c.calls(), strings{"closed 0x8d"});
}

TEST(KeepAlive, ClientUsesTheServerKeepAlive) {
  client c(v5);
  c.open(connect_msg(v5, 60), connack_packet{false, reason::success, props_of({{property_id::server_keep_alive, 5}})});
  EXPECT_EQ(c.conn.peer().keep_alive, 5);
  EXPECT_EQ(c.conn.next_timeout(), t0 + 5s);
}

TEST(KeepAlive, ClientConnackTimeout) {
  side c(role::client, v5, {.connect_timeout = 3s});
  EXPECT_EQ(c.conn.next_timeout(), std::nullopt);
  c.conn.connect(connect_msg(v5), c.st, t0);
  EXPECT_EQ(c.conn.next_timeout(), t0 + 3s);
  c.conn.on_timeout(t0 + 3s);
  EXPECT_TRUE(c.conn.closing());
  EXPECT_EQ(c.calls(), strings{"closed timed_out"});
}

TEST(KeepAlive, ServerAwaitingAcceptUsesTheRequestedKeepAlive) {
  side s(role::server, v5);
  s.feed(connect_msg(v5, 2));
  EXPECT_EQ(s.conn.next_timeout(), t0 + 3s);
  s.conn.on_timeout(t0 + 3s);
  EXPECT_TRUE(s.conn.output().empty());  // no CONNACK was sent: no DISCONNECT either
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=2", "closed 0x8d"}));
}

// ================================================================ inbound PUBLISH

TEST(InboundPublish, Qos0IsDelivered) {
  server s(v5);
  s.open();
  s.feed(pub("a/b", "hello"));
  EXPECT_EQ(s.calls(), strings{"publish a/b q0 'hello'"});
  EXPECT_TRUE(s.conn.output().empty());
}

TEST(InboundPublish, Qos1IsAcknowledged) {
  server s(v311);
  s.open();
  s.feed(pub("a/b", "hello", qos::at_least_once, 7));
  EXPECT_EQ(s.calls(), strings{"publish a/b q1 id=7 'hello'"});
  EXPECT_EQ(s.out(), strings{"PUBACK 7 rc=0x00"});
}

TEST(InboundPublish, Qos2IsDeliveredOnceEvenWhenResent) {
  server s(v5);
  s.open();
  s.feed(pub("a/b", "m", qos::exactly_once, 3));
  EXPECT_EQ(s.calls(), strings{"publish a/b q2 id=3 'm'"});
  EXPECT_EQ(s.out(), strings{"PUBREC 3 rc=0x00"});
  EXPECT_TRUE(s.st.incoming_qos2(3));

  auto again = pub("a/b", "m", qos::exactly_once, 3);
  again.dup = true;
  s.feed(again);
  EXPECT_TRUE(s.calls().empty());
  EXPECT_EQ(s.out(), strings{"PUBREC 3 rc=0x00"});

  s.feed(pubrel_packet{3, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBCOMP 3 rc=0x00"});
  EXPECT_FALSE(s.st.incoming_qos2(3));

  s.feed(pub("a/b", "new", qos::exactly_once, 3));  // the id is free: a new message
  EXPECT_EQ(s.calls(), strings{"publish a/b q2 id=3 'new'"});
}

TEST(InboundPublish, Qos2SurvivesAReconnect) {
  state st;
  {
    recorder h;
    connection c(role::server, h, {}, t0);
    h.connect_hook = [&](connect_packet&) { c.accept(st, {}, t0); };
    auto b = encode(connect_msg(v5), v5);
    c.receive(b, t0);
    b = encode(pub("a", "m", qos::exactly_once, 4), v5);
    c.receive(b, t0);
    c.transport_closed({std::make_error_code(std::errc::connection_reset)});
  }
  server s(v5);
  s.st = st;
  s.feed(connect_msg(v5, 60, false));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  s.out();
  s.calls();
  auto again = pub("a", "m", qos::exactly_once, 4);
  again.dup = true;
  s.feed(again);
  EXPECT_TRUE(s.calls().empty());
  EXPECT_EQ(s.out(), strings{"PUBREC 4 rc=0x00"});
}

TEST(InboundPublish, PubrelForAnUnknownId) {
  {
    server s(v5);
    s.open();
    s.feed(pubrel_packet{8, {}, {}, {}});
    EXPECT_EQ(s.out(), strings{"PUBCOMP 8 rc=0x92"});
    EXPECT_FALSE(s.conn.closing());
  }
  {
    server s(v311);
    s.open();
    s.feed(pubrel_packet{8, {}, {}, {}});
    EXPECT_EQ(s.out(), strings{"PUBCOMP 8 rc=0x00"});
  }
}

TEST(InboundPublish, ManualAcknowledgement) {
  server s(v5, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("q1", "a", qos::at_least_once, 1));
  s.feed(pub("q2", "b", qos::exactly_once, 2));
  EXPECT_EQ(s.calls(), (strings{"publish q1 q1 id=1 'a'", "publish q2 q2 id=2 'b'"}));
  EXPECT_TRUE(s.conn.output().empty());

  auto dup2 = pub("q2", "b", qos::exactly_once, 2);
  dup2.dup = true;
  s.feed(dup2);  // not acknowledged yet: neither delivered again nor answered
  EXPECT_TRUE(s.calls().empty());
  EXPECT_TRUE(s.conn.output().empty());

  s.conn.acknowledge(2);
  s.conn.acknowledge(1, reason::no_matching_subscribers);
  s.conn.acknowledge(1);   // answered already: ignored
  s.conn.acknowledge(99);  // unknown: ignored
  EXPECT_EQ(s.out(), (strings{"PUBREC 2 rc=0x00", "PUBACK 1 rc=0x10"}));
  EXPECT_TRUE(s.st.incoming_qos2(2));

  s.feed(dup2);  // acknowledged now: answered again, still not delivered
  EXPECT_TRUE(s.calls().empty());
  EXPECT_EQ(s.out(), strings{"PUBREC 2 rc=0x00"});
}

TEST(InboundPublish, ManualRefusalOfQos2EndsTheFlow) {
  server s(v5, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "a", qos::exactly_once, 5));
  s.conn.acknowledge(5, reason::not_authorized);
  EXPECT_EQ(s.out(), strings{"PUBREC 5 rc=0x87"});
  EXPECT_FALSE(s.st.incoming_qos2(5));
  s.feed(pub("t", "b", qos::exactly_once, 5));  // a new message with the free id
  EXPECT_EQ(s.calls(), (strings{"publish t q2 id=5 'a'", "publish t q2 id=5 'b'"}));
}

TEST(InboundPublish, AcknowledgeAfterCloseStillRecordsQos2) {
  server s(v5, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "a", qos::exactly_once, 6));
  s.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  s.conn.acknowledge(6);
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.st.incoming_qos2(6));  // the resend on the next connection is not delivered again
}

TEST(InboundPublish, PubrelBeforePubrecIsAProtocolError) {
  server s(v5, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "a", qos::exactly_once, 6));
  s.feed(pubrel_packet{6, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x82"});
}

TEST(InboundPublish, AcknowledgeInsideOnPublishWithAutoAcknowledge) {
  server s(v5);
  s.open();
  s.h.publish_hook = [&](const publish_packet& m) { s.conn.acknowledge(m.packet_id, reason::quota_exceeded); };
  s.feed(pub("t", "a", qos::at_least_once, 1));
  EXPECT_EQ(s.out(), strings{"PUBACK 1 rc=0x97"});  // once
}

TEST(InboundPublish, ReceiveMaximumExceeded) {
  server s(v5, {.receive_maximum = 2, .auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "1", qos::at_least_once, 1));
  s.feed(pub("t", "2", qos::exactly_once, 2));
  s.feed(pub("t", "0", qos::at_most_once));  // QoS 0 does not count
  s.feed(pub("t", "3", qos::at_least_once, 3));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x93"});
  EXPECT_EQ(s.calls(),
            (strings{"publish t q1 id=1 '1'", "publish t q2 id=2 '2'", "publish t q0 '0'", "closed 0x93"}));
}

TEST(InboundPublish, ReceiveMaximumFreesOnAcknowledgement) {
  server s(v5, {.receive_maximum = 1, .auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "1", qos::at_least_once, 1));
  s.conn.acknowledge(1);
  s.feed(pub("t", "2", qos::at_least_once, 2));
  EXPECT_EQ(s.out(), strings{"PUBACK 1 rc=0x00"});
  EXPECT_FALSE(s.conn.closing());
}

TEST(InboundPublish, ReceiveMaximumCountsQos2UntilPubcomp) {
  server s(v5, {.receive_maximum = 1});
  s.open();
  s.feed(pub("t", "1", qos::exactly_once, 1));
  s.feed(pubrel_packet{1, {}, {}, {}});
  s.feed(pub("t", "2", qos::exactly_once, 2));
  EXPECT_EQ(s.out(), (strings{"PUBREC 1 rc=0x00", "PUBCOMP 1 rc=0x00", "PUBREC 2 rc=0x00"}));
  s.feed(pub("t", "3", qos::exactly_once, 3));  // 2 is still waiting for PUBREL
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x93"});
}

TEST(InboundPublish, ReceiveMaximumIsNotEnforcedOnV311) {
  server s(v311, {.receive_maximum = 1, .auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "1", qos::at_least_once, 1));
  s.feed(pub("t", "2", qos::at_least_once, 2));
  EXPECT_FALSE(s.conn.closing());
}

TEST(InboundPublish, QosAboveMaximum) {
  server s(v5, {.maximum_qos = qos::at_least_once});
  s.open();
  s.feed(pub("t", "1", qos::exactly_once, 1));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x9b"});
  EXPECT_EQ(s.calls(), strings{"closed 0x9b"});
}

TEST(InboundPublish, RetainNotAvailable) {
  server s(v5, {.retain_available = false});
  s.open();
  auto m = pub("t", "1");
  m.retain = true;
  s.feed(m);
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x9a"});
  EXPECT_EQ(s.calls(), strings{"closed 0x9a"});
}

TEST(InboundPublish, SubscriptionIdentifierFromAClient) {
  server s(v5);
  s.open();
  s.feed(pub("t", "1", qos::at_most_once, 0, props_of({{property_id::subscription_identifier, 4}})));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x82"});
}

TEST(InboundPublish, SubscriptionIdentifierToAClientIsFine) {
  client c(v5);
  c.open();
  c.feed(pub("t", "1", qos::at_most_once, 0, props_of({{property_id::subscription_identifier, 4}})));
  EXPECT_EQ(c.calls(), strings{"publish t q0 '1' {0b=4}"});
}

TEST(InboundPublish, TopicAliasesAreResolvedAndRemoved) {
  server s(v5, {.topic_alias_maximum = 5});
  s.open();
  auto user = properties::builder{}.user_property("k", "v").add<property_id::topic_alias>(1).build();
  s.feed(pub("a/b", "1", qos::at_most_once, 0, user));
  s.feed(pub("", "2", qos::at_least_once, 1, props_of({{property_id::topic_alias, 1}})));
  s.feed(pub("c", "3", qos::at_most_once, 0, props_of({{property_id::topic_alias, 1}})));  // remapped
  s.feed(pub("", "4", qos::at_most_once, 0, props_of({{property_id::topic_alias, 1}})));
  s.feed(pub("", "5", qos::at_most_once, 0, props_of({{property_id::topic_alias, 5}})));
  EXPECT_EQ(s.calls(), (strings{"publish a/b q0 '1' {26=k:v}", "publish a/b q1 id=1 '2'", "publish c q0 '3'",
                                "publish c q0 '4'", "closed 0x82"}));
  EXPECT_EQ(s.out(), (strings{"PUBACK 1 rc=0x00", "DISCONNECT rc=0x82"}));  // alias 5 was never set
}

TEST(InboundPublish, TopicAliasAboveTheMaximum) {
  server s(v5, {.topic_alias_maximum = 2});
  s.open();
  s.feed(pub("a", "1", qos::at_most_once, 0, props_of({{property_id::topic_alias, 3}})));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x94"});
  EXPECT_EQ(s.calls(), strings{"closed 0x94"});
}

TEST(InboundPublish, TopicAliasWhenNoneAllowed) {
  server s(v5);
  s.open();
  s.feed(pub("a", "1", qos::at_most_once, 0, props_of({{property_id::topic_alias, 1}})));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x94"});
}

TEST(InboundPublish, TopicAliasZero) {
  server s(v5, {.topic_alias_maximum = 2});
  s.open();
  // The builder does not judge: a Topic Alias of 0 goes on the wire.
  s.feed(pub("a", "1", qos::at_most_once, 0, props_of({{property_id::topic_alias, 0}})));
  EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x94"});
  EXPECT_EQ(s.calls(), strings{"closed 0x94"});
}

TEST(InboundPublish, MalformedPacketAfterConnectV5AndV311) {
  {
    server s(v5);
    s.open();
    s.feed_bytes(from_hex("3602 0001"));  // QoS 3
    EXPECT_EQ(s.out(), strings{"DISCONNECT rc=0x81"});
    EXPECT_EQ(s.calls(), strings{"closed 0x81"});
  }
  {
    server s(v311);
    s.open();
    s.feed_bytes(from_hex("3602 0001"));
    EXPECT_TRUE(s.conn.output().empty());
    EXPECT_EQ(s.calls(), strings{"closed 0x81"});
  }
}

// ================================================================ outbound PUBLISH

TEST(OutboundPublish, Qos0GoesAtOnce) {
  server s(v5);
  s.open();
  EXPECT_EQ(s.conn.publish(pub("t", "x"), s.now), enqueue_result::queued);
  EXPECT_EQ(s.out(), strings{"PUBLISH t q0 'x'"});
  EXPECT_TRUE(s.st.queue().empty());
}

TEST(OutboundPublish, Qos1Flow) {
  server s(v5);
  s.open();
  EXPECT_EQ(s.conn.publish(pub("t", "x", qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.out(), strings{"PUBLISH t q1 id=1 'x'"});
  EXPECT_EQ(s.st.inflight(), 1u);
  s.feed(puback_packet{1, reason::no_matching_subscribers, {}, {}});
  EXPECT_EQ(s.calls(), strings{"delivered t id=1 rc=0x10"});
  EXPECT_EQ(s.st.inflight(), 0u);
  EXPECT_FALSE(s.st.packet_id_in_use(1));
}

TEST(OutboundPublish, Qos2Flow) {
  server s(v311);
  s.open();
  (void)s.conn.publish(pub("t", "x", qos::exactly_once), s.now);
  EXPECT_EQ(s.out(), strings{"PUBLISH t q2 id=1 'x'"});
  s.feed(pubrec_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBREL 1 rc=0x00"});
  EXPECT_EQ(s.st.find_outgoing(1)->phase, outgoing::phase::awaiting_comp);
  s.feed(pubrec_packet{1, {}, {}, {}});  // a duplicate PUBREC: PUBREL again
  EXPECT_EQ(s.out(), strings{"PUBREL 1 rc=0x00"});
  EXPECT_TRUE(s.calls().empty());
  s.feed(pubcomp_packet{1, {}, {}, {}});
  EXPECT_EQ(s.calls(), strings{"delivered t id=1 rc=0x00"});
  EXPECT_EQ(s.st.inflight(), 0u);
}

TEST(OutboundPublish, Qos2RefusedInPubrec) {
  server s(v5);
  s.open();
  (void)s.conn.publish(pub("t", "x", qos::exactly_once), s.now);
  s.out();
  s.feed(pubrec_packet{1, reason::not_authorized, {}, {}});
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), strings{"delivered t id=1 rc=0x87"});
  EXPECT_FALSE(s.st.packet_id_in_use(1));
}

TEST(OutboundPublish, AcknowledgementsForUnknownIds) {
  {
    server s(v5);
    s.open();
    s.feed(puback_packet{4, {}, {}, {}});
    s.feed(pubcomp_packet{4, {}, {}, {}});
    s.feed(pubrec_packet{4, {}, {}, {}});
    EXPECT_EQ(s.out(), strings{"PUBREL 4 rc=0x92"});
    EXPECT_TRUE(s.calls().empty());
    EXPECT_FALSE(s.conn.closing());
  }
  {
    server s(v311);
    s.open();
    s.feed(pubrec_packet{4, {}, {}, {}});
    EXPECT_EQ(s.out(), strings{"PUBREL 4 rc=0x00"});
  }
  {
    // 5.0: a PUBREC that refuses ends the flow: no PUBREL, known id or not.
    server s(v5);
    s.open();
    s.feed(pubrec_packet{4, reason::not_authorized, {}, {}});
    EXPECT_TRUE(s.conn.output().empty());
    EXPECT_FALSE(s.conn.closing());
  }
}

// The acknowledgement of another QoS or phase than the message's: 5.0
// DISCONNECT 0x82, 3.1.1 closed without a packet (MQTT-4.8.0-1); the message
// stays in flight in the session, for the next connection. Either role.
struct wrong_ack {
  std::string name;
  qos q;
  bool released;  // a QoS 2 message's PUBREC arrived (PUBREL sent)
  packet ack;
};

std::vector<wrong_ack> wrong_acks() {
  return {
      {"PubrecForQos1", qos::at_least_once, false, pubrec_packet{1, {}, {}, {}}},
      {"PubcompForQos1", qos::at_least_once, false, pubcomp_packet{1, {}, {}, {}}},
      {"PubackForQos2", qos::exactly_once, false, puback_packet{1, {}, {}, {}}},
      {"PubcompBeforePubrec", qos::exactly_once, false, pubcomp_packet{1, {}, {}, {}}},
      {"PubackAfterPubrec", qos::exactly_once, true, puback_packet{1, {}, {}, {}}},
  };
}

template <class Side>
void answer_wrongly(Side& x, const wrong_ack& w) {
  (void)x.conn.publish(pub("t", "x", w.q), x.now);
  if (w.released) x.feed(pubrec_packet{1, {}, {}, {}});
  EXPECT_EQ(x.out().size(), w.released ? 2u : 1u) << w.name;
  x.feed(w.ack);
  EXPECT_EQ(to_hex(take_bytes(x.conn)), x.v == v5 ? "e00182" : "") << w.name;
  EXPECT_TRUE(x.conn.closing()) << w.name;
  EXPECT_EQ(x.calls(), strings{"closed 0x82"}) << w.name;
  ASSERT_NE(x.st.find_outgoing(1), nullptr) << w.name;
  EXPECT_EQ(x.st.find_outgoing(1)->phase, w.released ? outgoing::phase::awaiting_comp : outgoing::phase::awaiting_ack);
}

TEST(OutboundPublish, TheWrongAcknowledgementIsAProtocolError) {
  for (const auto& w : wrong_acks()) {
    for (auto v : {v5, v311}) {
      server s(v);
      s.open();
      answer_wrongly(s, w);
      client c(v);  // a server that answers our client wrongly
      c.open();
      answer_wrongly(c, w);
    }
  }
}

TEST(OutboundPublish, ReceiveMaximumWindowQueuesAndDrains) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 2}})));
  for (char ch : std::string("abcd"))
    EXPECT_EQ(s.conn.publish(pub(std::string(1, ch), "p", qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.conn.publish(pub("z", "0"), s.now), enqueue_result::queued);  // QoS 0 does not wait
  EXPECT_EQ(s.out(), (strings{"PUBLISH a q1 id=1 'p'", "PUBLISH b q1 id=2 'p'", "PUBLISH z q0 '0'"}));
  EXPECT_EQ(s.st.queue().size(), 2u);
  s.feed(puback_packet{2, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH c q1 id=3 'p'"});
  s.feed(puback_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH d q1 id=4 'p'"});
  s.feed(puback_packet{3, {}, {}, {}});
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), (strings{"delivered b id=2 rc=0x00", "delivered a id=1 rc=0x00", "delivered c id=3 rc=0x00"}));
  EXPECT_TRUE(s.st.queue().empty());
}

TEST(OutboundPublish, Qos2HoldsItsSlotUntilPubcomp) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 1}})));
  (void)s.conn.publish(pub("a", "1", qos::exactly_once), s.now);
  (void)s.conn.publish(pub("b", "2", qos::exactly_once), s.now);
  EXPECT_EQ(s.out(), strings{"PUBLISH a q2 id=1 '1'"});
  s.feed(pubrec_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBREL 1 rc=0x00"});
  s.feed(pubcomp_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH b q2 id=2 '2'"});
}

TEST(OutboundPublish, TopicAliasesAreAssignedInOrder) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::topic_alias_maximum, 2}})));
  for (auto t : {"a", "a", "b", "c", "b", "a"}) (void)s.conn.publish(pub(t, "p"), s.now);
  EXPECT_EQ(s.out(), (strings{"PUBLISH a q0 'p' {23=1}", "PUBLISH - q0 'p' {23=1}", "PUBLISH b q0 'p' {23=2}",
                              "PUBLISH c q0 'p'", "PUBLISH - q0 'p' {23=2}", "PUBLISH - q0 'p' {23=1}"}));
}

TEST(OutboundPublish, TopicAliasKeepsOtherPropertiesAndIsNotStored) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::topic_alias_maximum, 1}})));
  auto m = pub("a", "p", qos::at_least_once, 0, properties::builder{}.user_property("k", "v").build());
  (void)s.conn.publish(m, s.now);
  (void)s.conn.publish(m, s.now);
  EXPECT_EQ(s.out(), (strings{"PUBLISH a q1 id=1 'p' {26=k:v,23=1}", "PUBLISH - q1 id=2 'p' {26=k:v,23=1}"}));
  EXPECT_EQ(s.st.find_outgoing(2)->message.topic(), "a");  // resends carry the topic
  EXPECT_EQ(s.st.find_outgoing(2)->message.props().find(property_id::topic_alias), std::nullopt);
}

TEST(OutboundPublish, ACallersTopicAliasIsDropped) {
  server s(v5);
  s.open();
  (void)s.conn.publish(pub("a", "p", qos::at_most_once, 0, props_of({{property_id::topic_alias, 9}})), s.now);
  EXPECT_EQ(s.out(), strings{"PUBLISH a q0 'p'"});
}

TEST(OutboundPublish, NoTopicAliasesForV311) {
  client c(v311);
  c.open();
  (void)c.conn.publish(pub("a", "p"), c.now);
  (void)c.conn.publish(pub("a", "p"), c.now);
  EXPECT_EQ(c.out(), (strings{"PUBLISH a q0 'p'", "PUBLISH a q0 'p'"}));
}

TEST(OutboundPublish, TooLargeForThePeerIsDropped) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::maximum_packet_size, 30}})));
  const std::string big(40, 'x');
  EXPECT_EQ(s.conn.publish(pub("t", big, qos::at_least_once), s.now), enqueue_result::dropped);
  EXPECT_EQ(s.conn.publish(pub("t", big), s.now), enqueue_result::dropped);
  EXPECT_EQ(s.calls(), (strings{"dropped t rc=0x95", "dropped t rc=0x95"}));
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.st.inflight(), 0u);
  EXPECT_FALSE(s.st.packet_id_in_use(1));
  // 2 + 3 (topic) + 2 (id) + 1 (properties) + 22 = 30 bytes: fits exactly.
  EXPECT_EQ(s.conn.publish(pub("t", std::string(22, 'y'), qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.out(), strings{"PUBLISH t q1 id=2 '" + std::string(22, 'y') + "'"});
}

TEST(OutboundPublish, TooLargeFromTheQueueIsDroppedAndTheNextGoes) {
  server s(v5);
  (void)s.st.enqueue(pub("big", std::string(100, 'x'), qos::at_least_once), t0);
  (void)s.st.enqueue(pub("ok", "y", qos::at_least_once), t0);
  s.feed(connect_msg(v5, 60, true, props_of({{property_id::maximum_packet_size, 50}})));
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=0 rc=0x00", "PUBLISH ok q1 id=2 'y'"}));
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "dropped big rc=0x95"}));
}

TEST(OutboundPublish, MessageExpiryInTheQueue) {
  server s(v5);
  auto expiring = [](std::uint32_t secs) {
    return properties::builder{}
        .add<property_id::content_type>("text")
        .add<property_id::message_expiry_interval>(secs)
        .user_property("k", "v")
        .build();
  };
  (void)s.st.enqueue(pub("gone", "1", qos::at_least_once, 0, expiring(10)), t0);
  (void)s.st.enqueue(pub("left", "2", qos::at_least_once, 0, expiring(100)), t0);
  (void)s.st.enqueue(pub("edge", "3", qos::at_most_once, 0, expiring(30)), t0);
  (void)s.st.enqueue(pub("fresh", "4", qos::at_most_once, 0, expiring(5)), t0 + 29500ms);
  s.now = t0 + 30s;
  s.feed(connect_msg(v5));
  s.conn.accept(s.st, {}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=0 rc=0x00", "PUBLISH left q1 id=1 '2' {03=text,02=70,26=k:v}",
                              "PUBLISH fresh q0 '4' {03=text,02=5,26=k:v}"}));
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "dropped gone rc=0x00", "dropped edge rc=0x00"}));
  EXPECT_EQ(s.st.inflight(), 1u);
}

TEST(OutboundPublish, MessageExpiryWhileWaitingForTheWindow) {
  server s(v5);
  s.open(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 1}})));
  (void)s.conn.publish(pub("a", "1", qos::at_least_once), s.now);
  (void)s.conn.publish(pub("b", "2", qos::at_least_once, 0, props_of({{property_id::message_expiry_interval, 5}})),
                       s.now);
  (void)s.conn.publish(pub("c", "3", qos::at_least_once, 0, props_of({{property_id::message_expiry_interval, 60}})),
                       s.now);
  EXPECT_EQ(s.out(), strings{"PUBLISH a q1 id=1 '1'"});
  s.advance(6s);
  s.feed(puback_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH c q1 id=2 '3' {02=54}"});
  EXPECT_EQ(s.calls(), (strings{"delivered a id=1 rc=0x00", "dropped b rc=0x00"}));
}

TEST(OutboundPublish, QueuedWhileNotConnected) {
  client c(v5);
  EXPECT_EQ(c.conn.publish(pub("t", "x"), c.now), enqueue_result::dropped);  // no state yet
  EXPECT_EQ(c.conn.publish(pub("t", "x", qos::at_least_once), c.now), enqueue_result::refused);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  EXPECT_EQ(c.out(), strings{"CONNECT v5 c1 clean ka=60"});
  EXPECT_EQ(c.conn.publish(pub("a", "0"), c.now), enqueue_result::queued);
  EXPECT_EQ(c.conn.publish(pub("b", "1", qos::at_least_once), c.now), enqueue_result::queued);
  EXPECT_TRUE(c.conn.output().empty());
  EXPECT_EQ(c.st.queue().size(), 2u);
  c.feed(connack_packet{});
  EXPECT_EQ(c.out(), (strings{"PUBLISH a q0 '0'", "PUBLISH b q1 id=1 '1'"}));
  EXPECT_EQ(c.calls(), strings{"connack sp=0 rc=0x00"});
}

TEST(OutboundPublish, QueueLimitsApplyThroughPublish) {
  server s(v5);
  s.st.set_limits({.max_messages = 2, .max_bytes = 1000});
  s.open(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 1}})));
  EXPECT_EQ(s.conn.publish(pub("a", "1", qos::at_least_once), s.now), enqueue_result::queued);  // sent
  EXPECT_EQ(s.conn.publish(pub("b", "2", qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.conn.publish(pub("c", "3", qos::at_least_once), s.now), enqueue_result::queued);
  EXPECT_EQ(s.conn.publish(pub("d", "4", qos::at_least_once), s.now), enqueue_result::refused);
  EXPECT_EQ(s.st.dropped(), 1u);
  s.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  // Closed: QoS 0 now waits in the queue too, pushing nothing out but itself.
  EXPECT_EQ(s.conn.publish(pub("e", "5"), s.now), enqueue_result::dropped);
}

// ================================================================ resuming a session

state resumable_state() {
  state st;
  auto m1 = pub("r1", "1", qos::at_least_once, 5);
  auto m2 = pub("r2", "2", qos::exactly_once, 6);
  auto m3 = pub("r3", "3", qos::exactly_once, 7);
  st.add_outgoing(m1);
  st.add_outgoing(m2);
  st.add_outgoing(m3);
  st.find_outgoing(6)->phase = outgoing::phase::awaiting_comp;
  (void)st.enqueue(pub("q", "4", qos::at_least_once), t0);
  return st;
}

TEST(Resume, AcceptResendsInFlightWithDupThenTheQueue) {
  server s(v5);
  s.st = resumable_state();
  s.feed(connect_msg(v5, 60, false));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=1 rc=0x00", "PUBLISH r1 q1 id=5 dup '1'", "PUBREL 6 rc=0x00",
                              "PUBLISH r3 q2 id=7 dup '3'", "PUBLISH q q1 id=1 '4'"}));
  s.feed(puback_packet{5, {}, {}, {}});
  s.feed(pubcomp_packet{6, {}, {}, {}});
  s.feed(pubrec_packet{7, {}, {}, {}});
  s.feed(pubcomp_packet{7, {}, {}, {}});
  s.feed(puback_packet{1, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBREL 7 rc=0x00"});
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "delivered r1 id=5 rc=0x00", "delivered r2 id=6 rc=0x00",
                                "delivered r3 id=7 rc=0x00", "delivered q id=1 rc=0x00"}));
  EXPECT_EQ(s.st.inflight(), 0u);
}

TEST(Resume, ResendsStayWithinTheReceiveMaximum) {
  server s(v5);
  s.st = resumable_state();
  s.feed(connect_msg(v5, 60, false, props_of({{property_id::receive_maximum, 1}})));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=1 rc=0x00", "PUBLISH r1 q1 id=5 dup '1'", "PUBREL 6 rc=0x00"}));
  s.feed(puback_packet{5, {}, {}, {}});
  EXPECT_EQ(s.out(), strings{"PUBLISH r3 q2 id=7 dup '3'"});
  s.feed(pubcomp_packet{6, {}, {}, {}});  // the PUBREL took no quota: nothing more may go yet
  EXPECT_TRUE(s.conn.output().empty());
  s.feed(pubrec_packet{7, {}, {}, {}});
  s.feed(pubcomp_packet{7, {}, {}, {}});
  EXPECT_EQ(s.out(), (strings{"PUBREL 7 rc=0x00", "PUBLISH q q1 id=1 '4'"}));
}

TEST(Resume, V311ClientGetsTheSameResends) {
  server s(v311);
  s.st = resumable_state();
  s.feed(connect_msg(v311, 60, false));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=1 rc=0x00", "PUBLISH r1 q1 id=5 dup '1'", "PUBREL 6 rc=0x00",
                              "PUBLISH r3 q2 id=7 dup '3'", "PUBLISH q q1 id=1 '4'"}));
}

TEST(Resume, ClientReconnectResendsWithDup) {
  state st;
  {
    recorder h;
    connection c(role::client, h, {}, t0);
    c.connect(connect_msg(v5), st, t0);
    auto ack = encode(connack_packet{}, v5);
    c.receive(ack, t0);
    (void)c.publish(pub("one", "1", qos::at_least_once), t0);
    (void)c.publish(pub("two", "2", qos::exactly_once), t0);
    auto rec = encode(pubrec_packet{2, {}, {}, {}}, v5);
    c.receive(rec, t0);
    EXPECT_EQ(decode_all(take_bytes(c), v5),
              (strings{"CONNECT v5 c1 clean ka=60", "PUBLISH one q1 id=1 '1'", "PUBLISH two q2 id=2 '2'",
                       "PUBREL 2 rc=0x00"}));
    c.transport_closed({std::make_error_code(std::errc::connection_reset)});
    EXPECT_EQ(h.log, (strings{"connack sp=0 rc=0x00", "closed Connection reset by peer"}));
  }
  client c(v5);
  c.st = st;
  c.conn.connect(connect_msg(v5, 60, false), c.st, c.now);
  c.feed(connack_packet{true, reason::success, {}});
  EXPECT_EQ(c.out(), (strings{"CONNECT v5 c1 ka=60", "PUBLISH one q1 id=1 dup '1'", "PUBREL 2 rc=0x00"}));
  c.feed(puback_packet{1, {}, {}, {}});
  c.feed(pubcomp_packet{2, {}, {}, {}});
  EXPECT_EQ(c.calls(), (strings{"connack sp=1 rc=0x00", "delivered one id=1 rc=0x00", "delivered two id=2 rc=0x00"}));
}

TEST(Resume, ClientWithoutSessionPresentSendsAgainAsNew) {
  client c(v5);
  c.st = resumable_state();
  c.st.add_incoming_qos2(42);
  c.conn.connect(connect_msg(v5, 60, false), c.st, c.now);
  c.feed(connack_packet{false, reason::success, {}});
  EXPECT_EQ(c.out(), (strings{"CONNECT v5 c1 ka=60", "PUBLISH r1 q1 id=5 '1'", "PUBREL 6 rc=0x00",
                              "PUBLISH r3 q2 id=7 '3'", "PUBLISH q q1 id=1 '4'"}));
  EXPECT_FALSE(c.st.incoming_qos2(42));
}

TEST(Resume, CleanStartClearsTheClientState) {
  client c(v5);
  c.st = resumable_state();
  c.conn.connect(connect_msg(v5), c.st, c.now);
  EXPECT_EQ(c.st.inflight(), 0u);
  EXPECT_TRUE(c.st.queue().empty());
  c.feed(connack_packet{});
  EXPECT_EQ(c.out(), strings{"CONNECT v5 c1 clean ka=60"});
}

// ================================================================ client role

TEST(Client, ConnectAnnouncesItsLimits) {
  client c(v5, {.maximum_packet_size = 4096, .receive_maximum = 10, .topic_alias_maximum = 3});
  c.conn.connect(connect_msg(v5, 30, true, props_of({{property_id::session_expiry_interval, 60}})), c.st, c.now);
  EXPECT_EQ(c.out(), strings{"CONNECT v5 c1 clean ka=30 {11=60,21=10,27=4096,22=3}"});
  EXPECT_EQ(c.conn.version(), v5);
  EXPECT_FALSE(c.conn.connected());
}

TEST(Client, ConnectPropertiesWinOverOptions) {
  client c(v5, {.receive_maximum = 10});
  c.conn.connect(connect_msg(v5, 30, true, props_of({{property_id::receive_maximum, 1}})), c.st, c.now);
  EXPECT_EQ(c.out(), strings{"CONNECT v5 c1 clean ka=30 {21=1}"});
  c.feed(connack_packet{});
  c.feed(pub("t", "1", qos::exactly_once, 1));
  c.feed(pub("t", "2", qos::exactly_once, 2));
  EXPECT_EQ(c.out(), (strings{"PUBREC 1 rc=0x00", "DISCONNECT rc=0x93"}));
}

TEST(Client, ConnectPropertiesWinOverSharedOptionsWithoutChangingThem) {
  // The caller's options serve other connections: the CONNECT's values go
  // into a copy of the connection's own.
  const options shared{.maximum_packet_size = 4096, .receive_maximum = 10};
  recorder h;
  state st;
  connection c(role::client, h, shared, t0, shared_options);
  EXPECT_EQ(&c.local(), &shared);
  c.connect(connect_msg(v5, 30, true, props_of({{property_id::maximum_packet_size, 64}})), st, t0);
  EXPECT_EQ(decode_all(take_bytes(c), v5), strings{"CONNECT v5 c1 clean ka=30 {27=64,21=10}"});
  EXPECT_EQ(shared.maximum_packet_size, 4096u);
  EXPECT_NE(&c.local(), &shared);
  EXPECT_EQ(c.local().maximum_packet_size, 64u);
  EXPECT_EQ(c.local().receive_maximum, 10);
  auto ack = encode(connack_packet{}, v5);
  c.receive(ack, t0);
  auto big = encode(pub("t", std::string(80, 'x')), v5);
  c.receive(big, t0);  // above the CONNECT's 64: refused by the decoder
  EXPECT_EQ(decode_all(take_bytes(c), v5), strings{"DISCONNECT rc=0x95"});
  EXPECT_EQ(h.log.back(), "closed 0x95");
}

TEST(Client, ConnectWithoutOverridesKeepsReferringToSharedOptions) {
  const options shared{.receive_maximum = 10};
  recorder h;
  state st;
  connection c(role::client, h, shared, t0, shared_options);
  c.connect(connect_msg(v5, 30), st, t0);
  EXPECT_EQ(&c.local(), &shared);
}

TEST(Client, V311ConnectCarriesNoProperties) {
  client c(v311, {.receive_maximum = 10});
  c.conn.connect(connect_msg(v311, 30), c.st, c.now);
  EXPECT_EQ(to_hex(take_bytes(c.conn)), "100e00044d5154540402001e00026331");
}

TEST(Client, ConnackRecordsTheServersLimits) {
  client c(v5);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  c.feed(connack_packet{false, reason::success,
                        props_of({{property_id::receive_maximum, 3},
                                  {property_id::maximum_packet_size, 2000},
                                  {property_id::topic_alias_maximum, 4},
                                  {property_id::server_keep_alive, 15},
                                  {property_id::maximum_qos, 1},
                                  {property_id::retain_available, 0}})});
  EXPECT_TRUE(c.conn.connected());
  const auto& p = c.conn.peer();
  EXPECT_EQ(p.receive_maximum, 3);
  EXPECT_EQ(p.maximum_packet_size, 2000u);
  EXPECT_EQ(p.topic_alias_maximum, 4);
  EXPECT_EQ(p.keep_alive, 15);
  EXPECT_EQ(p.maximum_qos, qos::at_least_once);
  EXPECT_FALSE(p.retain_available);
  EXPECT_EQ(c.calls(), strings{"connack sp=0 rc=0x00"});
}

TEST(Client, ConnackRefusedV5) {
  client c(v5);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  c.out();
  c.feed(connack_packet{false, reason::not_authorized, {}});
  EXPECT_TRUE(c.conn.closing());
  EXPECT_FALSE(c.conn.connected());
  EXPECT_TRUE(c.conn.output().empty());
  EXPECT_EQ(c.calls(), (strings{"connack sp=0 rc=0x87", "closed 0x87"}));
}

TEST(Client, ConnackRefusedV311) {
  client c(v311);
  c.conn.connect(connect_msg(v311), c.st, c.now);
  c.out();
  c.feed_bytes(from_hex("20020004"));
  EXPECT_TRUE(c.conn.closing());
  EXPECT_EQ(c.calls(), (strings{"connack sp=0 rc=0x86", "closed 0x86"}));
}

TEST(Client, SessionPresentWithCleanStartIsAProtocolError) {
  client c(v5);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  c.out();
  c.feed(connack_packet{true, reason::success, {}});
  EXPECT_EQ(c.out(), strings{"DISCONNECT rc=0x82"});
  EXPECT_EQ(c.calls(), strings{"closed 0x82"});
}

TEST(Client, PacketBeforeConnackIsAProtocolError) {
  client c(v5);
  c.conn.connect(connect_msg(v5), c.st, c.now);
  c.out();
  c.feed(pub("t", "x"));
  EXPECT_EQ(c.out(), strings{"DISCONNECT rc=0x82"});
  EXPECT_EQ(c.calls(), strings{"closed 0x82"});
}

TEST(Client, SecondConnackIsAProtocolError) {
  client c(v311);
  c.open();
  c.feed(connack_packet{});
  EXPECT_TRUE(c.conn.output().empty());  // 3.1.1: no DISCONNECT with a reason; just close
  EXPECT_EQ(c.calls(), strings{"closed 0x82"});
}

TEST(Client, SubscribeAndUnsubscribeGetPacketIds) {
  client c(v5);
  c.open();
  c.conn.send(subscribe_packet{0, {{"a/#", {qos::at_least_once}}}, {}});
  c.conn.send(unsubscribe_packet{0, {"a/#"}, {}});
  c.conn.send(subscribe_packet{77, {{"b", {}}}, {}});  // the caller's id is kept
  EXPECT_EQ(c.out(), (strings{"SUBSCRIBE 1 a/# q1", "UNSUBSCRIBE 2 a/#", "SUBSCRIBE 77 b q0"}));
  EXPECT_TRUE(c.st.packet_id_in_use(1));
  EXPECT_TRUE(c.st.packet_id_in_use(2));
  c.feed(suback_packet{1, {reason::granted_qos_1}, {}});
  c.feed(unsuback_packet{2, {reason::success}, {}});
  c.feed(suback_packet{77, {reason::granted_qos_0}, {}});
  EXPECT_EQ(c.calls(), (strings{"suback 1", "unsuback 2", "suback 77"}));
  EXPECT_FALSE(c.st.packet_id_in_use(1));
  EXPECT_FALSE(c.st.packet_id_in_use(2));
  // The ids do not collide with messages in flight.
  (void)c.conn.publish(pub("t", "x", qos::at_least_once), c.now);
  c.conn.send(subscribe_packet{0, {{"c", {}}}, {}});
  EXPECT_EQ(c.out(), (strings{"PUBLISH t q1 id=3 'x'", "SUBSCRIBE 4 c q0"}));
}

TEST(Client, SubscribeIdsAreReleasedWhenTheConnectionCloses) {
  client c(v311);
  c.open();
  c.conn.send(subscribe_packet{0, {{"a", {}}}, {}});
  EXPECT_TRUE(c.st.packet_id_in_use(1));
  c.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  EXPECT_FALSE(c.st.packet_id_in_use(1));
}

TEST(Client, ServerOnlyPacketIsAProtocolError) {
  client c(v5);
  c.open();
  c.feed(pingreq_packet{});
  EXPECT_EQ(c.out(), strings{"DISCONNECT rc=0x82"});
}

TEST(Client, PublishInsideOnConnackGoesAfterTheResends) {
  client c(v5);
  c.st = resumable_state();
  c.h.connack_hook = [&] { (void)c.conn.publish(pub("new", "n"), c.now); };
  c.conn.connect(connect_msg(v5, 60, false), c.st, c.now);
  c.feed(connack_packet{true, reason::success, {}});
  EXPECT_EQ(c.out(), (strings{"CONNECT v5 c1 ka=60", "PUBLISH r1 q1 id=5 dup '1'", "PUBREL 6 rc=0x00",
                              "PUBLISH r3 q2 id=7 dup '3'", "PUBLISH q q1 id=1 '4'", "PUBLISH new q0 'n'"}));
}

// ================================================================ disconnecting

TEST(Disconnect, ServerV5SendsDisconnect) {
  server s(v5);
  s.open();
  s.conn.disconnect(reason::server_shutting_down);
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "e0018b");
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x8b"});
  s.conn.disconnect();  // once only
  (void)s.conn.publish(pub("t", "x"), s.now);
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.calls().empty());
}

TEST(Disconnect, ServerV311JustCloses) {
  server s(v311);
  s.open();
  s.conn.disconnect(reason::server_shutting_down);
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.calls(), strings{"closed 0x8b"});
}

TEST(Disconnect, ServerBeforeAcceptJustCloses) {
  side s(role::server, v5);
  s.feed(connect_msg(v5));
  s.conn.disconnect();
  EXPECT_TRUE(s.conn.output().empty());
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "closed 0x00"}));
}

TEST(Disconnect, ClientSendsDisconnect) {
  client c5(v5);
  c5.open();
  c5.conn.disconnect(reason::disconnect_with_will_message);
  EXPECT_EQ(to_hex(take_bytes(c5.conn)), "e00104");
  client c3(v311);
  c3.open();
  c3.conn.disconnect();
  EXPECT_EQ(to_hex(take_bytes(c3.conn)), "e000");
  EXPECT_EQ(c3.calls(), strings{"closed 0x00"});
}

TEST(Disconnect, PeerDisconnect) {
  server s(v5);
  s.open();
  auto b = encode(disconnect_packet{reason::disconnect_with_will_message, {}, {}}, v5);
  auto more = encode(pub("after", "x"), v5);
  b.insert(b.end(), more.begin(), more.end());
  s.feed_bytes(b);
  EXPECT_EQ(s.calls(), (strings{"disconnect rc=0x04", "closed 0x00"}));
  EXPECT_TRUE(s.conn.closing());
  EXPECT_TRUE(s.conn.output().empty());
}

TEST(Disconnect, ServerDisconnectReachesTheClient) {
  client c(v5);
  c.open();
  c.feed(disconnect_packet{reason::session_taken_over, {}, {}});
  EXPECT_EQ(c.calls(), (strings{"disconnect rc=0x8e", "closed 0x00"}));
}

TEST(Disconnect, TransportClosedReportsOnce) {
  server s(v5);
  s.open();
  s.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  s.conn.transport_closed({std::make_error_code(std::errc::connection_reset)});
  s.conn.disconnect();
  EXPECT_EQ(s.calls(), strings{"closed Connection reset by peer"});
  EXPECT_TRUE(s.conn.closing());
  EXPECT_EQ(s.conn.next_timeout(), std::nullopt);
  s.feed(pingreq_packet{});
  EXPECT_TRUE(s.conn.output().empty());
}

// ================================================================ edges

// ================================================================ the peer's Maximum Packet Size

properties reason_and_user() {
  return properties::builder{}.add<property_id::reason_string>("busy").user_property("k", "v").build();
}

connect_packet small_client(std::uint32_t maximum) {
  return connect_msg(v5, 60, true, props_of({{property_id::maximum_packet_size, maximum}}));
}

TEST(MaximumPacketSize, PacketsLoseTheReasonStringThenUserPropertiesToFit) {
  // PUBACK 0x97 with both: 20 bytes; without the Reason String: 13; without either: 5.
  for (auto [maximum, bytes] : {std::pair{20u, "4012000197" "0e" "1f000462757379" "2600016b000176"},
                                std::pair{19u, "400b000197" "07" "2600016b000176"},
                                std::pair{12u, "4003000197"}}) {
    server s(v5, {.auto_acknowledge = false});
    s.open(small_client(maximum));
    s.feed(pub("t", "a", qos::at_least_once, 1));
    s.calls();
    s.conn.acknowledge(1, reason::quota_exceeded, reason_and_user());
    EXPECT_EQ(to_hex(take_bytes(s.conn)), bytes) << maximum;
  }
  // The same for every packet that may carry them: SUBACK, DISCONNECT...
  server s(v5);
  s.open(small_client(13));
  s.conn.send(suback_packet{1, {reason::granted_qos_1}, reason_and_user()});
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "900b0001" "07" "2600016b000176" "01");
  // ...and one that does not fit even so is not sent (MQTT-3.1.2-24/-25).
  s.conn.send(suback_packet{2, std::vector<reason>(9, reason::granted_qos_1), {}});
  EXPECT_TRUE(s.conn.output().empty());
  s.conn.disconnect(reason::server_shutting_down, reason_and_user());
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "e0098b" "07" "2600016b000176");
}

TEST(MaximumPacketSize, AClientDropsThemForTheServersMaximumToo) {
  client c(v5, {.auto_acknowledge = false});
  c.open(connect_msg(v5), connack_packet{false, reason::success, props_of({{property_id::maximum_packet_size, 12}})});
  c.feed(pub("t", "a", qos::exactly_once, 1));
  c.calls();
  c.conn.acknowledge(1, reason::quota_exceeded, reason_and_user());
  EXPECT_EQ(to_hex(take_bytes(c.conn)), "5003000197");
}

TEST(MaximumPacketSize, TheConnackLosesWhatTheClientCanDoWithout) {
  const options o{.receive_maximum = 10, .topic_alias_maximum = 5};
  accept_options a;
  a.props = properties::builder{}
                .add<property_id::reason_string>("hello")
                .user_property("k", "v")
                .add<property_id::response_information>("r")
                .add<property_id::assigned_client_identifier>("abc")
                .build();
  // 36 bytes in all. In this order go the Reason String (28), the User
  // Property (21), Response Information (17), Topic Alias Maximum (14).
  for (auto [maximum, bytes] :
       {std::pair{36u, "20220000" "1f" "21000a" "220005" "1f000568656c6c6f" "2600016b000176" "1a000172" "120003616263"},
        std::pair{21u, "2013000010" "21000a" "220005" "1a000172" "120003616263"},
        std::pair{16u, "200c000009" "21000a" "120003616263"}}) {
    server s(v5, o);
    s.feed(small_client(maximum));
    s.conn.accept(s.st, a, s.now);
    EXPECT_EQ(to_hex(take_bytes(s.conn)), bytes) << maximum;
    EXPECT_TRUE(s.conn.connected());
  }
}

TEST(MaximumPacketSize, AConnackThatCannotFitIsARefusal) {
  const options o{.receive_maximum = 10, .topic_alias_maximum = 5};
  accept_options a;
  a.props = properties::builder{}.add<property_id::assigned_client_identifier>("abc").build();
  {  // with the handler's Assigned Client Identifier, 14 bytes at least
    side s(role::server, v5, o);
    s.feed(small_client(13));
    EXPECT_EQ(s.calls(), strings{"connect c1 ka=60"});
    s.conn.accept(s.st, a, s.now);
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003009500");
    EXPECT_FALSE(s.conn.connected());
    EXPECT_EQ(s.conn.session(), nullptr);
    EXPECT_EQ(s.calls(), strings{"closed 0x95"});
  }
  {  // this side's own CONNACK, 8 bytes at least: refused before the handler hears of it
    side s(role::server, v5, o);
    s.feed(small_client(7));
    EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003009500");
    EXPECT_EQ(s.calls(), strings{"closed 0x95"});
  }
  {  // not even the refusal fits: nothing
    side s(role::server, v5, o);
    s.feed(small_client(4));
    EXPECT_TRUE(s.conn.output().empty());
    EXPECT_TRUE(s.conn.closing());
    EXPECT_EQ(s.calls(), strings{"closed 0x95"});
  }
}

TEST(Edges, BytesHeldBeforeAcceptAreBounded) {
  side s(role::server, v5, {.maximum_packet_size = 40});
  s.feed(connect_msg(v5));  // 17 bytes
  s.feed(pub("t", std::string(10, 'x')));  // 16 bytes each
  s.feed(pub("t", std::string(10, 'x')));
  EXPECT_FALSE(s.conn.closing());
  s.feed(pub("t", std::string(10, 'x')));
  EXPECT_EQ(to_hex(take_bytes(s.conn)), "2003009700");
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "closed 0x97"}));
}

TEST(Edges, ResendTooLargeForTheNewConnectionIsDropped) {
  server s(v5);
  s.st.add_outgoing(pub("big", std::string(100, 'x'), qos::at_least_once, 3));
  s.st.add_outgoing(pub("small", "y", qos::at_least_once, 4));
  s.feed(connect_msg(v5, 60, false, props_of({{property_id::maximum_packet_size, 50}})));
  s.conn.accept(s.st, {.session_present = true}, s.now);
  EXPECT_EQ(s.out(), (strings{"CONNACK sp=1 rc=0x00", "PUBLISH small q1 id=4 dup 'y'"}));
  EXPECT_EQ(s.calls(), (strings{"connect c1 ka=60", "dropped big rc=0x95"}));
  EXPECT_FALSE(s.st.packet_id_in_use(3));
}

TEST(Edges, ADroppedMessageDoesNotEstablishAnAlias) {
  server s(v5);
  s.open(connect_msg(v5, 60, true,
                     props_of({{property_id::topic_alias_maximum, 1}, {property_id::maximum_packet_size, 30}})));
  EXPECT_EQ(s.conn.publish(pub("a", std::string(40, 'x')), s.now), enqueue_result::dropped);
  (void)s.conn.publish(pub("a", "1"), s.now);
  (void)s.conn.publish(pub("a", "2"), s.now);
  EXPECT_EQ(s.out(), (strings{"PUBLISH a q0 '1' {23=1}", "PUBLISH - q0 '2' {23=1}"}));
}

TEST(Edges, V311Qos2CannotBeRefused) {
  server s(v311, {.auto_acknowledge = false});
  s.open();
  s.feed(pub("t", "a", qos::exactly_once, 5));
  s.conn.acknowledge(5, reason::not_authorized);
  EXPECT_EQ(s.out(), strings{"PUBREC 5 rc=0x00"});
  EXPECT_TRUE(s.st.incoming_qos2(5));  // the PUBREL will come
}

TEST(Edges, SendRoutesAPublishThroughPublish) {
  server s(v5);
  s.open();
  s.conn.send(pub("t", "x", qos::at_least_once));
  EXPECT_EQ(s.out(), strings{"PUBLISH t q1 id=1 'x'"});
  EXPECT_EQ(s.st.inflight(), 1u);
}

TEST(Edges, ClientHearsAuthBeforeConnack) {
  client c(v5);
  c.conn.connect(enhanced_connect(), c.st, c.now);
  c.feed(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
  c.conn.send(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
  EXPECT_EQ(c.out(), (strings{"CONNECT v5 c1 clean ka=60 {15=SCRAM-SHA-1}", "AUTH rc=0x18 {15=SCRAM-SHA-1}"}));
  EXPECT_EQ(c.calls(), strings{"auth rc=0x18"});
  EXPECT_FALSE(c.conn.closing());
}

TEST(Edges, ClientRefusesAnAuthOutsideItsMethod) {
  {  // no Authentication Method in its CONNECT (MQTT-4.12.0-6)
    client c(v5);
    c.conn.connect(connect_msg(v5), c.st, c.now);
    c.out();
    c.feed(auth_packet{reason::continue_authentication, auth_method("SCRAM-SHA-1"), {}});
    EXPECT_EQ(to_hex(take_bytes(c.conn)), "e00182");
    EXPECT_EQ(c.calls(), strings{"closed 0x82"});
  }
  {  // another method (MQTT-4.12.0-5)
    client c(v5);
    c.conn.connect(enhanced_connect(), c.st, c.now);
    c.out();
    c.feed(auth_packet{reason::continue_authentication, auth_method("OTHER"), {}});
    EXPECT_EQ(to_hex(take_bytes(c.conn)), "e00182");
    EXPECT_EQ(c.calls(), strings{"closed 0x82"});
  }
  {  // Re-authenticate (0x19) is the Client's to send (3.15.2.1)
    client c(v5);
    c.open(enhanced_connect());
    c.feed(auth_packet{reason::re_authenticate, auth_method("SCRAM-SHA-1"), {}});
    EXPECT_EQ(to_hex(take_bytes(c.conn)), "e00182");
    EXPECT_EQ(c.calls(), strings{"closed 0x82"});
  }
}

TEST(Edges, PublishingFromInsideOnPublish) {
  server s(v5);
  s.open();
  s.h.publish_hook = [&](const publish_packet& m) {
    (void)s.conn.publish(pub(std::string("echo/") + std::string(m.topic()), m.payload().view(), m.qos), s.now);
  };
  s.feed(pub("t", "x", qos::at_least_once, 9));
  EXPECT_EQ(s.out(), (strings{"PUBLISH echo/t q1 id=1 'x'", "PUBACK 9 rc=0x00"}));
}

TEST(Edges, PublishingFromInsideOnDelivered) {
  struct chain : recorder {
    connection* c = nullptr;
    int left = 3;
    void on_delivered(const publish_packet& m, reason code) override {
      recorder::on_delivered(m, code);
      if (left-- > 0) (void)c->publish(pub("next", "n", qos::at_least_once), t0);
    }
  };
  chain h;
  state st;
  connection c(role::server, h, {}, t0);
  h.c = &c;
  auto b = encode(connect_msg(v5, 60, true, props_of({{property_id::receive_maximum, 1}})), v5);
  c.receive(b, t0);
  c.accept(st, {}, t0);
  (void)c.publish(pub("first", "f", qos::at_least_once), t0);
  for (std::uint16_t id = 1; id <= 4; ++id) {
    auto ack = encode(puback_packet{id, {}, {}, {}}, v5);
    c.receive(ack, t0);
  }
  EXPECT_EQ(decode_all(take_bytes(c), v5),
            (strings{"CONNACK sp=0 rc=0x00", "PUBLISH first q1 id=1 'f'", "PUBLISH next q1 id=2 'n'",
                     "PUBLISH next q1 id=3 'n'", "PUBLISH next q1 id=4 'n'"}));
  EXPECT_EQ(st.inflight(), 0u);
}

// ================================================================ a client and a server back to back

// Moves bytes both ways until both sides are quiet; `chunk` bytes at a time.
void shuttle(side& a, side& b, std::size_t chunk = 1 << 20) {
  for (int round = 0; round < 1000; ++round) {
    bool moved = false;
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      auto bytes = take_bytes(from->conn);
      for (std::size_t i = 0; i < bytes.size(); i += chunk) {
        to->feed_bytes(bytes_view(bytes).subspan(i, std::min(chunk, bytes.size() - i)));
        moved = true;
      }
    }
    if (!moved) return;
  }
  FAIL() << "the two sides never went quiet";
}

struct pair_fixture {
  side cl{role::client, v5, {.receive_maximum = 1, .topic_alias_maximum = 4}};
  side sv{role::server, v5, {.receive_maximum = 1, .topic_alias_maximum = 4}};

  void connect(std::size_t chunk) {
    sv.h.connect_hook = [this](connect_packet&) { sv.conn.accept(sv.st, {}, sv.now); };
    cl.conn.connect(connect_msg(v5), cl.st, cl.now);
    shuttle(cl, sv, chunk);
    ASSERT_TRUE(cl.conn.connected());
    ASSERT_TRUE(sv.conn.connected());
    ASSERT_EQ(cl.calls(), strings{"connack sp=0 rc=0x00"});
    ASSERT_EQ(sv.calls(), strings{"connect c1 ka=60"});
  }
};

void exchange_qos2_both_ways(std::size_t chunk) {
  pair_fixture p;
  p.connect(chunk);
  for (auto payload : {"u1", "u2", "u3"})
    (void)p.cl.conn.publish(pub("up/t", payload, qos::exactly_once), p.cl.now);
  EXPECT_EQ(p.cl.st.queue().size(), 2u);  // the server's Receive Maximum is 1
  shuttle(p.cl, p.sv, chunk);
  EXPECT_EQ(p.sv.calls(),
            (strings{"publish up/t q2 id=1 'u1'", "publish up/t q2 id=2 'u2'", "publish up/t q2 id=3 'u3'"}));
  EXPECT_EQ(p.cl.calls(), (strings{"delivered up/t id=1 rc=0x00", "delivered up/t id=2 rc=0x00",
                                   "delivered up/t id=3 rc=0x00"}));

  for (auto payload : {"d1", "d2"}) (void)p.sv.conn.publish(pub("down/t", payload, qos::exactly_once), p.sv.now);
  shuttle(p.cl, p.sv, chunk);
  EXPECT_EQ(p.cl.calls(), (strings{"publish down/t q2 id=1 'd1'", "publish down/t q2 id=2 'd2'"}));
  EXPECT_EQ(p.sv.calls(), (strings{"delivered down/t id=1 rc=0x00", "delivered down/t id=2 rc=0x00"}));

  // Both ways at once, mixed QoS.
  (void)p.cl.conn.publish(pub("up/t", "a", qos::at_least_once), p.cl.now);
  (void)p.sv.conn.publish(pub("down/t", "b", qos::exactly_once), p.sv.now);
  (void)p.cl.conn.publish(pub("up/other", "c", qos::exactly_once), p.cl.now);
  (void)p.sv.conn.publish(pub("down/t", "d"), p.sv.now);
  shuttle(p.cl, p.sv, chunk);
  auto only = [](strings log, std::string_view prefix) {
    strings out;
    for (auto& l : log)
      if (l.starts_with(prefix)) out.push_back(l);
    return out;
  };
  auto cl = p.cl.calls(), sv = p.sv.calls();
  EXPECT_EQ(only(sv, "publish"), (strings{"publish up/t q1 id=4 'a'", "publish up/other q2 id=5 'c'"}));
  EXPECT_EQ(only(cl, "publish"), (strings{"publish down/t q2 id=3 'b'", "publish down/t q0 'd'"}));
  EXPECT_EQ(only(cl, "delivered"), (strings{"delivered up/t id=4 rc=0x00", "delivered up/other id=5 rc=0x00"}));
  EXPECT_EQ(only(sv, "delivered"), strings{"delivered down/t id=3 rc=0x00"});

  EXPECT_EQ(p.cl.st.inflight(), 0u);
  EXPECT_EQ(p.sv.st.inflight(), 0u);
  EXPECT_TRUE(p.cl.st.incoming_qos2_ids().empty());
  EXPECT_TRUE(p.sv.st.incoming_qos2_ids().empty());
  EXPECT_FALSE(p.cl.conn.closing());
  EXPECT_FALSE(p.sv.conn.closing());

  p.cl.conn.disconnect();
  shuttle(p.cl, p.sv, chunk);
  EXPECT_EQ(p.sv.calls(), (strings{"disconnect rc=0x00", "closed 0x00"}));
  EXPECT_EQ(p.cl.calls(), strings{"closed 0x00"});
}

TEST(Pair, Qos2BothWays) { exchange_qos2_both_ways(1 << 20); }
TEST(Pair, Qos2BothWaysByteByByte) { exchange_qos2_both_ways(1); }
TEST(Pair, Qos2BothWaysInThreeByteChunks) { exchange_qos2_both_ways(3); }

TEST(Pair, TopicAliasesAreUsedOnTheWire) {
  pair_fixture p;
  p.connect(1 << 20);
  (void)p.cl.conn.publish(pub("long/topic/name", "1"), p.cl.now);
  (void)p.cl.conn.publish(pub("long/topic/name", "2"), p.cl.now);
  const auto second = take_bytes(p.cl.conn);
  EXPECT_EQ(decode_all(second, v5), (strings{"PUBLISH long/topic/name q0 '1' {23=1}", "PUBLISH - q0 '2' {23=1}"}));
  p.sv.feed_bytes(second);
  EXPECT_EQ(p.sv.calls(), (strings{"publish long/topic/name q0 '1'", "publish long/topic/name q0 '2'"}));
}

TEST(Pair, KeepAliveKeepsBothSidesUp) {
  pair_fixture p;
  p.connect(1 << 20);
  for (int i = 0; i < 10; ++i) {
    auto t = *p.cl.conn.next_timeout();
    ASSERT_LT(t, *p.sv.conn.next_timeout());
    p.cl.now = p.sv.now = t;
    p.cl.conn.on_timeout(t);
    shuttle(p.cl, p.sv);
  }
  EXPECT_FALSE(p.cl.conn.closing());
  EXPECT_FALSE(p.sv.conn.closing());
  EXPECT_EQ(p.cl.now, t0 + 600s);
}

}  // namespace
}  // namespace tern::session
