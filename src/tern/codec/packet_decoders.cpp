// What one packet's body means: the decoding and checking of each control
// packet of MQTT 3.1, 3.1.1 and 5.0 once its bytes are all there. Finding
// packets in a byte stream is decoder.cpp's job.
#include "tern/codec/packet_decoders.hpp"

#include <algorithm>
#include <cstring>

#include "tern/core/utf8.hpp"

#include "tern/core/wire.hpp"

namespace tern {
namespace {

using codec_detail::trailing;

// Rules named in refusals. Where 3.1.1 numbers a rule differently, both are given.
constexpr std::string_view reserved_type = "MQTT 5.0 2.1.2: reserved control packet type";
constexpr std::string_view auth_before_5 = "MQTT 3.1.1 2.2.1: AUTH (type 15) is reserved before MQTT 5.0";
constexpr std::string_view bad_flags =
    "MQTT-2.1.3-1 (3.1.1: MQTT-2.2.2-2): reserved fixed header flags not as specified";
constexpr std::string_view first_connect = "MQTT-3.1.0-1: the first packet must be CONNECT";
constexpr std::string_view qos3 = "MQTT-3.3.1-4: PUBLISH with QoS 3";
constexpr std::string_view dup_qos0 = "MQTT-3.3.1-2: DUP set on a QoS 0 PUBLISH";
constexpr std::string_view topic_wildcard = "MQTT-3.3.2-2: wildcard in a PUBLISH Topic Name";
constexpr std::string_view packet_id_zero =
    "MQTT-2.2.1-3 (3.1.1: MQTT-2.3.1-1): Packet Identifier of 0";

error malformed(std::string_view rule) noexcept { return {reason::malformed_packet, rule}; }
error protocol(std::string_view rule) noexcept { return {reason::protocol_error, rule}; }

bool is_v5(protocol_version v) noexcept { return v == protocol_version::v5; }

// Reads a property length and the block it announces, and validates it.
result<properties> read_properties(wire::reader& r, const shared_bytes& body, property_context c) {
  auto len = r.varint();
  if (!len) return len.error();
  auto raw = r.bytes(*len);
  if (!raw) return malformed("MQTT 5.0 2.2.2.1: Property Length runs past the end of the packet");
  if (raw->empty()) return properties{};
  return properties::parse(body.share(*raw), c);
}

result<std::uint16_t> read_packet_id(wire::reader& r) {
  auto id = r.u16();
  if (!id) return id.error();
  if (*id == 0) return protocol(packet_id_zero);
  return *id;
}

bool has_wildcard(std::string_view s) noexcept {
  return s.find_first_of("+#") != std::string_view::npos;
}

// A PUBLISH Topic Name: valid UTF-8 with no wildcard.
std::optional<error> check_topic_name(std::string_view topic) noexcept {
  auto c = utf8::check_topic_name(topic);
  if (c.encoding) return c.encoding;
  if (c.wildcard) return malformed(topic_wildcard);
  return std::nullopt;
}

// ---- reason code sets (MQTT 5.0 section 3, per packet) ----

bool connack_reason(std::uint8_t c) noexcept {
  switch (c) {
    case 0x00: case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8A: case 0x8C: case 0x90: case 0x95: case 0x97: case 0x99: case 0x9A:
    case 0x9B: case 0x9C: case 0x9D: case 0x9F: return true;
    default: return false;
  }
}
bool puback_reason(std::uint8_t c) noexcept {  // PUBACK and PUBREC
  switch (c) {
    case 0x00: case 0x10: case 0x80: case 0x83: case 0x87: case 0x90: case 0x91: case 0x97: case 0x99:
      return true;
    default: return false;
  }
}
bool pubrel_reason(std::uint8_t c) noexcept { return c == 0x00 || c == 0x92; }  // PUBREL and PUBCOMP
bool suback_reason(std::uint8_t c) noexcept {
  switch (c) {
    case 0x00: case 0x01: case 0x02: case 0x80: case 0x83: case 0x87: case 0x8F: case 0x91: case 0x97:
    case 0x9E: case 0xA1: case 0xA2: return true;
    default: return false;
  }
}
bool unsuback_reason(std::uint8_t c) noexcept {
  switch (c) {
    case 0x00: case 0x11: case 0x80: case 0x83: case 0x87: case 0x8F: case 0x91: return true;
    default: return false;
  }
}
bool disconnect_reason(std::uint8_t c) noexcept {
  switch (c) {
    case 0x00: case 0x04: case 0x80: case 0x81: case 0x82: case 0x83: case 0x87: case 0x89: case 0x8B:
    case 0x8D: case 0x8E: case 0x8F: case 0x90: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9A: case 0x9B: case 0x9C: case 0x9D: case 0x9E: case 0x9F: case 0xA0:
    case 0xA1: case 0xA2: return true;
    default: return false;
  }
}
bool auth_reason(std::uint8_t c) noexcept { return c == 0x00 || c == 0x18 || c == 0x19; }

// ---- packets ----

std::optional<error> decode_connect(const shared_bytes& body, packet& out) {
  wire::reader r(body.span());
  auto name = r.utf8();
  if (!name) return name.error();
  auto level = r.u8();
  if (!level) return level.error();
  connect_packet p;
  if (*name == "MQTT" && (*level == 4 || *level == 5)) {
    p.version = static_cast<protocol_version>(*level);
  } else if (*name == "MQIsdp" && *level == 3) {
    p.version = protocol_version::v3_1;
  } else if (*name != "MQTT" && *name != "MQIsdp") {
    return error{reason::unsupported_protocol_version, "MQTT-3.1.2-1: protocol name is not MQTT"};
  } else {
    return error{reason::unsupported_protocol_version, "MQTT-3.1.2-2: unsupported protocol level"};
  }
  const bool v5 = is_v5(p.version);
  auto flags = r.u8();
  if (!flags) return flags.error();
  if (*flags & 0x01u) return malformed("MQTT-3.1.2-3: CONNECT reserved flag is set");
  p.clean_start = (*flags & 0x02u) != 0;
  const bool will = (*flags & 0x04u) != 0;
  const auto will_qos = static_cast<std::uint8_t>((*flags >> 3) & 0x03u);
  const bool will_retain = (*flags & 0x20u) != 0;
  const bool has_password = (*flags & 0x40u) != 0;
  const bool has_username = (*flags & 0x80u) != 0;
  if (!will && will_qos != 0)
    return malformed("MQTT-3.1.2-11 (3.1.1: MQTT-3.1.2-13): Will QoS set without a Will");
  if (!will && will_retain)
    return malformed("MQTT-3.1.2-13 (3.1.1: MQTT-3.1.2-15): Will Retain set without a Will");
  if (will_qos == 3) return malformed("MQTT-3.1.2-12 (3.1.1: MQTT-3.1.2-14): Will QoS 3");
  if (!v5 && has_password && !has_username)
    return malformed("MQTT-3.1.2-22: password without a user name before MQTT 5.0");
  auto keep_alive = r.u16();
  if (!keep_alive) return keep_alive.error();
  p.keep_alive = *keep_alive;
  if (v5) {
    auto props = read_properties(r, body, property_context::connect);
    if (!props) return props.error();
    p.props = std::move(*props);
  }
  auto client_id = r.utf8();
  if (!client_id) return client_id.error();
  p.client_id = *client_id;
  if (will) {
    will_message w;
    if (v5) {
      auto props = read_properties(r, body, property_context::will);
      if (!props) return props.error();
      w.props = std::move(*props);
    }
    auto topic = r.utf8();
    if (!topic) return topic.error();
    if (topic->empty()) return malformed("MQTT-4.7.3-1: empty Will Topic");
    if (has_wildcard(*topic)) return malformed("MQTT-3.3.2-2: wildcard in the Will Topic");
    auto payload = r.binary();
    if (!payload) return payload.error();
    w.topic = *topic;
    w.payload = body.share(*payload);
    w.qos = static_cast<tern::qos>(will_qos);
    w.retain = will_retain;
    p.will = std::move(w);
  }
  if (has_username) {
    auto user = r.utf8();
    if (!user) return user.error();
    p.username = std::string(*user);
  }
  if (has_password) {
    auto pass = r.binary();
    if (!pass) return pass.error();
    p.password = std::string(as_chars(*pass));
  }
  if (!r.empty()) return malformed(trailing);
  out = std::move(p);
  return std::nullopt;
}

std::optional<error> decode_connack(const shared_bytes& body, protocol_version v, packet& out) {
  wire::reader r(body.span());
  auto flags = r.u8();
  if (!flags) return flags.error();
  auto code = r.u8();
  if (!code) return code.error();
  connack_packet p;
  if (v == protocol_version::v3_1) {
    // 3.1: the first byte is an unused "topic name compression" byte.
  } else {
    if (*flags & 0xFEu) return malformed("MQTT-3.2.2-1 (5.0: 3.2.2.1): CONNACK reserved flags are set");
    p.session_present = (*flags & 0x01u) != 0;
  }
  if (is_v5(v)) {
    if (!connack_reason(*code)) return malformed("MQTT 5.0 3.2.2.2: reason code not valid in CONNACK");
    p.reason_code = static_cast<reason>(*code);
    if (p.session_present && *code != 0)
      return protocol("MQTT-3.2.2-6: Session Present set with a non-zero reason code");
    auto props = read_properties(r, body, property_context::connack);
    if (!props) return props.error();
    p.props = std::move(*props);
  } else {
    if (*code > 5) return malformed("MQTT 3.1.1 3.2.2.3: CONNACK return code above 5");
    p.reason_code = to_reason(static_cast<connect_return_code>(*code));
    if (p.session_present && *code != 0)
      return protocol("MQTT-3.2.2-4: Session Present set with a non-zero return code");
  }
  if (!r.empty()) return malformed(trailing);
  out = std::move(p);
  return std::nullopt;
}

// Takes `body` over: the payload keeps its reference.
std::optional<error> decode_publish(std::uint8_t flags, shared_bytes& body, protocol_version v, packet& out) {
  const auto q = static_cast<std::uint8_t>((flags >> 1) & 0x03u);
  const bool dup = (flags & 0x08u) != 0;
  if (q == 3) return malformed(qos3);
  if (dup && q == 0) return malformed(dup_qos0);
  wire::reader r(body.span());
  auto topic_field = r.binary();
  if (!topic_field) return topic_field.error();
  const auto topic = as_chars(*topic_field);
  if (auto e = check_topic_name(topic)) return e;
  std::uint16_t id = 0;
  if (q != 0) {
    auto pid = read_packet_id(r);
    if (!pid) return pid.error();
    id = *pid;
  }
  properties props;
  if (is_v5(v)) {
    auto pr = read_properties(r, body, property_context::publish);
    if (!pr) return pr.error();
    props = std::move(*pr);
    if (topic.empty() && !props.find(property_id::topic_alias))
      return protocol("MQTT 5.0 3.3.2.1: empty Topic Name without a Topic Alias");
  } else if (topic.empty()) {
    return malformed("MQTT-4.7.3-1: empty Topic Name");
  }
  const auto payload = r.bytes(r.remaining());
  auto topic_bytes = body.share(*topic_field);
  body.narrow(*payload);
  out.emplace<publish_packet>(std::move(topic_bytes), std::move(body), std::move(props), static_cast<qos>(q),
                              (flags & 0x01u) != 0, dup, id);
  return std::nullopt;
}

// The optional reason code and properties of a 5.0 ack, DISCONNECT or AUTH.
template <class P>
std::optional<error> read_reason_and_props(wire::reader& r, const shared_bytes& body, P& p,
                                           bool (*allowed)(std::uint8_t), property_context c,
                                           std::string_view bad_reason) {
  if (r.empty()) return std::nullopt;
  auto code = r.u8();
  if (!allowed(*code)) return malformed(bad_reason);
  p.reason_code = static_cast<reason>(*code);
  p.form = wire_form::with_reason;
  if (r.empty()) return std::nullopt;
  auto props = read_properties(r, body, c);
  if (!props) return props.error();
  p.props = std::move(*props);
  p.form = wire_form::with_properties;
  if (!r.empty()) return malformed(trailing);
  return std::nullopt;
}

// `bytes` is the body; `body` the block holding it, which properties share
// (empty for a body of at most 4 bytes, which has room for no property).
template <packet_type T>
std::optional<error> decode_ack(bytes_view bytes, const shared_bytes& body, protocol_version v, packet& out) {
  wire::reader r(bytes);
  ack_packet<T> p;
  auto id = read_packet_id(r);
  if (!id) return id.error();
  p.packet_id = *id;
  if (is_v5(v)) {
    constexpr bool pub = T == packet_type::puback || T == packet_type::pubrec;
    constexpr auto ctx = T == packet_type::puback   ? property_context::puback
                         : T == packet_type::pubrec ? property_context::pubrec
                         : T == packet_type::pubrel ? property_context::pubrel
                                                    : property_context::pubcomp;
    if (auto e = read_reason_and_props(r, body, p, pub ? &puback_reason : &pubrel_reason, ctx,
                                       "MQTT 5.0 3.4.2.1: reason code not valid in this acknowledgement"))
      return *e;
  } else if (!r.empty()) {
    return malformed("MQTT 3.1.1 3.4.1: acknowledgement longer than 2 bytes");
  }
  out = std::move(p);
  return std::nullopt;
}

std::optional<error> decode_subscribe(const shared_bytes& body, protocol_version v, packet& out) {
  wire::reader r(body.span());
  subscribe_packet p;
  auto id = read_packet_id(r);
  if (!id) return id.error();
  p.packet_id = *id;
  const bool v5 = is_v5(v);
  if (v5) {
    auto props = read_properties(r, body, property_context::subscribe);
    if (!props) return props.error();
    p.props = std::move(*props);
  }
  if (r.empty()) return protocol("MQTT-3.8.3-2 (3.1.1: MQTT-3.8.3-3): SUBSCRIBE without a topic filter");
  while (!r.empty()) {
    auto filter = r.utf8();
    if (!filter) return filter.error();
    if (filter->empty()) return malformed("MQTT-4.7.3-1: empty Topic Filter");
    auto opts = r.u8();
    if (!opts) return opts.error();
    subscription s;
    s.filter = *filter;
    const auto q = static_cast<std::uint8_t>(*opts & 0x03u);
    if (q == 3) return malformed("MQTT-3.8.3-4 (5.0: 3.8.3.1): subscription QoS 3");
    s.options.max_qos = static_cast<qos>(q);
    if (v5) {
      if (*opts & 0xC0u) return malformed("MQTT-3.8.3-5: subscription options reserved bits are set");
      s.options.no_local = (*opts & 0x04u) != 0;
      s.options.retain_as_published = (*opts & 0x08u) != 0;
      const auto rh = static_cast<std::uint8_t>((*opts >> 4) & 0x03u);
      if (rh == 3) return protocol("MQTT 5.0 3.8.3.1: Retain Handling 3");
      s.options.retain_handling = static_cast<retain_handling>(rh);
      if (s.options.no_local && s.filter.starts_with("$share/"))
        return protocol("MQTT-3.8.3-4: No Local on a shared subscription");
    } else if (*opts & 0xFCu) {
      return malformed("MQTT-3-8.3-4 (3.1.1): subscription reserved bits are set");
    }
    p.entries.push_back(std::move(s));
  }
  out = std::move(p);
  return std::nullopt;
}

std::optional<error> decode_suback(const shared_bytes& body, protocol_version v, packet& out) {
  wire::reader r(body.span());
  suback_packet p;
  auto id = read_packet_id(r);
  if (!id) return id.error();
  p.packet_id = *id;
  const bool v5 = is_v5(v);
  if (v5) {
    auto props = read_properties(r, body, property_context::suback);
    if (!props) return props.error();
    p.props = std::move(*props);
  }
  if (r.empty()) return protocol("MQTT-3.9.3-1: SUBACK without a reason code");
  p.reason_codes.reserve(r.remaining());
  while (!r.empty()) {
    auto c = *r.u8();
    if (v5 ? !suback_reason(c) : (c > 2 && c != 0x80))
      return malformed("MQTT-3.9.3-2 (5.0: 3.9.3): return code not valid in SUBACK");
    p.reason_codes.push_back(static_cast<reason>(c));
  }
  out = std::move(p);
  return std::nullopt;
}

std::optional<error> decode_unsubscribe(const shared_bytes& body, protocol_version v, packet& out) {
  wire::reader r(body.span());
  unsubscribe_packet p;
  auto id = read_packet_id(r);
  if (!id) return id.error();
  p.packet_id = *id;
  if (is_v5(v)) {
    auto props = read_properties(r, body, property_context::unsubscribe);
    if (!props) return props.error();
    p.props = std::move(*props);
  }
  if (r.empty()) return protocol("MQTT-3.10.3-2: UNSUBSCRIBE without a topic filter");
  while (!r.empty()) {
    auto filter = r.utf8();
    if (!filter) return filter.error();
    if (filter->empty()) return malformed("MQTT-4.7.3-1: empty Topic Filter");
    p.filters.emplace_back(*filter);
  }
  out = std::move(p);
  return std::nullopt;
}

std::optional<error> decode_unsuback(const shared_bytes& body, protocol_version v, packet& out) {
  wire::reader r(body.span());
  unsuback_packet p;
  auto id = read_packet_id(r);
  if (!id) return id.error();
  p.packet_id = *id;
  if (!is_v5(v)) {
    if (!r.empty()) return malformed("MQTT 3.1.1 3.11.1: UNSUBACK longer than 2 bytes");
    out = std::move(p);
  return std::nullopt;
  }
  auto props = read_properties(r, body, property_context::unsuback);
  if (!props) return props.error();
  p.props = std::move(*props);
  if (r.empty()) return protocol("MQTT 5.0 3.11.3: UNSUBACK without a reason code");
  while (!r.empty()) {
    auto c = *r.u8();
    if (!unsuback_reason(c)) return malformed("MQTT 5.0 3.11.3: reason code not valid in UNSUBACK");
    p.reason_codes.push_back(static_cast<reason>(c));
  }
  out = std::move(p);
  return std::nullopt;
}

std::optional<error> decode_disconnect(const shared_bytes& body, protocol_version v, packet& out) {
  disconnect_packet p;
  if (!is_v5(v)) {
    if (!body.empty()) return malformed("MQTT 3.1.1 3.14.1: DISCONNECT with a body");
    out = p;
    return std::nullopt;
  }
  wire::reader r(body.span());
  if (auto e = read_reason_and_props(r, body, p, &disconnect_reason, property_context::disconnect,
                                     "MQTT 5.0 3.14.2.1: reason code not valid in DISCONNECT"))
    return *e;
  out = std::move(p);
  return std::nullopt;
}

std::optional<error> decode_auth(const shared_bytes& body, packet& out) {
  auth_packet p;
  wire::reader r(body.span());
  if (auto e = read_reason_and_props(r, body, p, &auth_reason, property_context::auth,
                                     "MQTT 5.0 3.15.2.1: reason code not valid in AUTH"))
    return *e;
  out = std::move(p);
  return std::nullopt;
}

// The fixed header flags each type must carry (MQTT 5.0 table 2-2).
std::optional<error> check_flags(packet_type t, std::uint8_t flags, protocol_version v) noexcept {
  switch (t) {
    case packet_type::publish: return std::nullopt;
    case packet_type::pubrel:
    case packet_type::subscribe:
    case packet_type::unsubscribe:
      // 3.1 sent these as QoS 1 and allowed DUP on a resend.
      if (flags == 0x02 || (v == protocol_version::v3_1 && flags == 0x0A)) return std::nullopt;
      return malformed(bad_flags);
    default: return flags == 0 ? std::nullopt : std::optional<error>(malformed(bad_flags));
  }
}


}  // namespace

namespace codec_detail {

std::optional<error> decode_packet(std::uint8_t first_byte, shared_bytes& body, protocol_version v,
                                   packet& out) {
  const auto t = static_cast<packet_type>(first_byte >> 4);
  const auto flags = static_cast<std::uint8_t>(first_byte & 0x0Fu);
  if (first_byte >> 4 == 0) return malformed(reserved_type);
  if (auto e = check_flags(t, flags, v)) return e;
  if (t == packet_type::connect) return decode_connect(body, out);
  if (v == protocol_version::unknown) return protocol(first_connect);
  switch (t) {
    case packet_type::connect: break;
    case packet_type::connack: return decode_connack(body, v, out);
    case packet_type::publish: return decode_publish(flags, body, v, out);
    case packet_type::puback: return decode_ack<packet_type::puback>(body.span(), body, v, out);
    case packet_type::pubrec: return decode_ack<packet_type::pubrec>(body.span(), body, v, out);
    case packet_type::pubrel: return decode_ack<packet_type::pubrel>(body.span(), body, v, out);
    case packet_type::pubcomp: return decode_ack<packet_type::pubcomp>(body.span(), body, v, out);
    case packet_type::subscribe: return decode_subscribe(body, v, out);
    case packet_type::suback: return decode_suback(body, v, out);
    case packet_type::unsubscribe: return decode_unsubscribe(body, v, out);
    case packet_type::unsuback: return decode_unsuback(body, v, out);
    case packet_type::pingreq:
      if (!body.empty()) return malformed("MQTT 5.0 3.12.1: PINGREQ with a body");
      out.emplace<pingreq_packet>();
      return std::nullopt;
    case packet_type::pingresp:
      if (!body.empty()) return malformed("MQTT 5.0 3.13.1: PINGRESP with a body");
      out.emplace<pingresp_packet>();
      return std::nullopt;
    case packet_type::disconnect: return decode_disconnect(body, v, out);
    case packet_type::auth:
      if (!is_v5(v)) return malformed(auth_before_5);
      return decode_auth(body, out);
  }
  return malformed(reserved_type);
}

bool is_ack(packet_type t) noexcept {
  return t == packet_type::puback || t == packet_type::pubrec || t == packet_type::pubrel ||
         t == packet_type::pubcomp;
}

std::optional<error> decode_small_ack(std::uint8_t first_byte, bytes_view bytes, protocol_version v, packet& out) {
  const auto t = static_cast<packet_type>(first_byte >> 4);
  if (auto e = check_flags(t, static_cast<std::uint8_t>(first_byte & 0x0Fu), v)) return e;
  if (v == protocol_version::unknown) return protocol(first_connect);
  const shared_bytes none;
  switch (t) {
    case packet_type::puback: return decode_ack<packet_type::puback>(bytes, none, v, out);
    case packet_type::pubrec: return decode_ack<packet_type::pubrec>(bytes, none, v, out);
    case packet_type::pubrel: return decode_ack<packet_type::pubrel>(bytes, none, v, out);
    default: return decode_ack<packet_type::pubcomp>(bytes, none, v, out);
  }
}

std::optional<error> start_packet(std::uint8_t first, protocol_version v) noexcept {
  auto t = static_cast<packet_type>(first >> 4);
  if (first >> 4 == 0) return malformed(reserved_type);
  if (t == packet_type::auth && v != protocol_version::unknown && v != protocol_version::v5)
    return malformed(auth_before_5);
  if (auto e = check_flags(t, static_cast<std::uint8_t>(first & 0x0Fu), v)) return e;
  if (t != packet_type::connect && v == protocol_version::unknown) return protocol(first_connect);
  return std::nullopt;
}

}  // namespace codec_detail

result<packet> decode_packet(std::uint8_t first_byte, shared_bytes body, protocol_version v) {
  packet out;
  if (auto e = codec_detail::decode_packet(first_byte, body, v, out)) return *e;
  return out;
}

}  // namespace tern
