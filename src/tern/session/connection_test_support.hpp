// tern/session/connection_test_support.hpp: what the connection tests share
// (connection_connect_test.cpp, connection_flows_test.cpp,
// connection_test.cpp): packets described as text, a recording handler, and
// one end of a connection driven by a test on a manual clock.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "support/hex.hpp"
#include "tern/session/connection.hpp"

namespace tern::session::conn_test {

using namespace std::chrono_literals;
using strings = std::vector<std::string>;
using tern::testing::from_hex;
using tern::testing::to_hex;

constexpr auto v5 = protocol_version::v5;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v31 = protocol_version::v3_1;
const time_point t0 = time_point{} + 1h;

// ---------------------------------------------------------------- describing packets

inline std::string rc(reason r) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02x", static_cast<unsigned>(r));
  return b;
}

inline std::string props_text(const properties& p) {
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

inline std::string describe_publish(const publish_packet& p) {
  std::string s = p.topic().empty() ? "-" : std::string(p.topic());
  s += " q" + std::to_string(static_cast<int>(p.qos));
  if (p.qos != qos::at_most_once) s += " id=" + std::to_string(p.packet_id);
  if (p.dup) s += " dup";
  if (p.retain) s += " retain";
  s += " '" + std::string(p.payload().view()) + "'";
  return s + props_text(p.props());
}

template <class A>
inline std::string describe_ack(std::string_view name, const A& a) {
  return std::string(name) + " " + std::to_string(a.packet_id) + " rc=" + rc(a.reason_code) + props_text(a.props);
}

inline std::string describe(const packet& pk) {
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

inline std::string closed_text(const error& e) {
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

inline std::vector<std::byte> take_bytes(connection& c) {
  std::vector<std::byte> all;
  for (auto b : c.output().buffers()) all.insert(all.end(), b.begin(), b.end());
  c.output().clear();
  return all;
}

// Decodes every packet in `bytes` (as the peer of version `v` would).
inline strings decode_all(const std::vector<std::byte>& bytes, protocol_version v) {
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

inline properties props_of(std::initializer_list<std::pair<property_id, std::uint32_t>> ints) {
  properties::builder b;
  for (auto [id, v] : ints) {
    property p;
    p.id = id;
    p.integer = v;
    EXPECT_FALSE(b.add(p));
  }
  return b.build();
}

inline publish_packet pub(std::string_view topic, std::string_view payload, qos q = qos::at_most_once,
                   std::uint16_t id = 0, properties props = {}) {
  publish_packet m(topic, shared_bytes::copy(payload), q, false, std::move(props));
  m.packet_id = id;
  return m;
}

inline connect_packet connect_msg(protocol_version v, std::uint16_t keep_alive = 60, bool clean = true,
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

// An Authentication Method property, and a CONNECT that starts enhanced
// authentication with one (SCRAM-SHA-1).
inline properties auth_method(std::string_view m) {
  return properties::builder{}.add<property_id::authentication_method>(m).build();
}
inline connect_packet enhanced_connect() {
  auto c = connect_msg(v5);
  c.props = auth_method("SCRAM-SHA-1");
  return c;
}

// A session to resume: QoS 1 and 2 messages in flight (one released,
// awaiting PUBCOMP) and one queued.
inline state resumable_state() {
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

}  // namespace tern::session::conn_test
