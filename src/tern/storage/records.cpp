#include "tern/storage/records.hpp"

#include "tern/codec/decoder.hpp"
#include "tern/codec/encoder.hpp"
#include "tern/core/wire.hpp"

namespace tern::storage::detail {
namespace {

constexpr std::uint8_t format = 1;

// Header flags.
constexpr std::uint8_t has_expiry = 0x01;      // retained: an absolute expiry follows
constexpr std::uint8_t no_packet_id = 0x02;    // the PUBLISH was encoded with packet id 1 for want of one
constexpr std::uint8_t no_message = 0x04;      // outgoing: no PUBLISH stored
constexpr std::uint8_t has_expires_at = 0x01;  // session: an absolute expiry follows

constexpr std::string_view bad_format = "storage: unknown record format";
constexpr std::string_view bad_record = "storage: malformed record";

error malformed(std::string_view why) { return error{reason::malformed_packet, why}; }

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u16(std::string& out, std::uint16_t v) {
  put_u8(out, static_cast<std::uint8_t>(v >> 8));
  put_u8(out, static_cast<std::uint8_t>(v));
}
void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v));
}
void put_u64(std::string& out, std::uint64_t v) {
  put_u32(out, static_cast<std::uint32_t>(v >> 32));
  put_u32(out, static_cast<std::uint32_t>(v));
}
void put_i64(std::string& out, std::int64_t v) { put_u64(out, static_cast<std::uint64_t>(v)); }
void put_string(std::string& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

result<std::uint64_t> get_u64(wire::reader& r) {
  auto hi = r.u32();
  if (!hi) return hi.error();
  auto lo = r.u32();
  if (!lo) return lo.error();
  return (std::uint64_t{*hi} << 32) | *lo;
}
result<std::int64_t> get_i64(wire::reader& r) {
  auto v = get_u64(r);
  if (!v) return v.error();
  return static_cast<std::int64_t>(*v);
}

bytes_view bytes_of(std::string_view s) { return as_bytes(s); }

// Appends `m` encoded as an MQTT 5.0 PUBLISH; returns the flags it needs.
std::uint8_t put_publish(std::string& out, publish_packet m) {
  std::uint8_t flags = 0;
  if (m.qos == qos::at_most_once) {
    m.dup = false;
    m.packet_id = 0;
  } else if (m.packet_id == 0) {
    m.packet_id = 1;  // a QoS 1/2 PUBLISH must have one to decode
    flags |= no_packet_id;
  }
  const packet p{std::move(m)};
  const auto n = encoded_size(p, protocol_version::v5);
  const auto at = out.size();
  out.resize(at + n);
  encode_to(p, protocol_version::v5, reinterpret_cast<std::byte*>(out.data() + at));
  return flags;
}

result<publish_packet> get_publish(bytes_view rest, std::uint8_t flags) {
  auto p = decode(rest, protocol_version::v5);
  if (!p) return p.error();
  auto* m = std::get_if<publish_packet>(&*p);
  if (!m) return malformed("storage: the record holds no PUBLISH");
  if (flags & no_packet_id) m->packet_id = 0;
  return std::move(*m);
}

// Reads the format byte.
std::optional<error> check_format(wire::reader& r) {
  auto f = r.u8();
  if (!f) return f.error();
  if (*f != format) return malformed(bad_format);
  return std::nullopt;
}

bytes_view rest_of(const wire::reader& r) { return {r.position(), r.remaining()}; }

std::uint8_t options_byte(const subscribe_options& o) {
  return static_cast<std::uint8_t>(static_cast<unsigned>(o.max_qos) | (o.no_local ? 0x04u : 0u) |
                                   (o.retain_as_published ? 0x08u : 0u) |
                                   (static_cast<unsigned>(o.retain_handling) << 4));
}

std::optional<subscribe_options> options_of(std::uint8_t b) {
  if ((b & 0x03) > 2 || ((b >> 4) & 0x03) > 2 || (b & 0xC0) != 0) return std::nullopt;
  subscribe_options o;
  o.max_qos = static_cast<qos>(b & 0x03);
  o.no_local = (b & 0x04) != 0;
  o.retain_as_published = (b & 0x08) != 0;
  o.retain_handling = static_cast<retain_handling>((b >> 4) & 0x03);
  return o;
}

}  // namespace

// ---- keys ----

std::string client_prefix(std::string_view client_id) {
  std::string k;
  k.reserve(2 + client_id.size() + 9);
  put_string(k, client_id);
  return k;
}

std::string queued_key(std::string_view client_id, std::uint64_t seq) {
  auto k = client_prefix(client_id);
  k.push_back(kind_queued);
  put_u64(k, seq);
  return k;
}

std::string outgoing_key(std::string_view client_id, std::uint16_t packet_id) {
  auto k = client_prefix(client_id);
  k.push_back(kind_outgoing);
  put_u16(k, packet_id);
  return k;
}

std::string incoming_key(std::string_view client_id, std::uint16_t packet_id) {
  auto k = client_prefix(client_id);
  k.push_back(kind_incoming);
  put_u16(k, packet_id);
  return k;
}

std::optional<message_key> parse_message_key(std::string_view key) {
  wire::reader r(bytes_of(key));
  auto n = r.u16();
  if (!n) return std::nullopt;
  auto id = r.bytes(*n);
  if (!id) return std::nullopt;
  auto kind = r.u8();
  if (!kind) return std::nullopt;
  message_key k{as_chars(*id), static_cast<char>(*kind), 0};
  if (k.kind == kind_queued) {
    auto seq = get_u64(r);
    if (!seq) return std::nullopt;
    k.id = *seq;
  } else if (k.kind == kind_outgoing || k.kind == kind_incoming) {
    auto pid = r.u16();
    if (!pid) return std::nullopt;
    k.id = *pid;
  } else {
    return std::nullopt;
  }
  if (!r.empty()) return std::nullopt;
  return k;
}

// ---- retained ----
// format, flags, stored (i64), [expires (i64)], PUBLISH

std::string encode_retained(const publish_packet& m, std::int64_t stored_ms, std::optional<std::int64_t> expires_ms) {
  std::string v;
  put_u8(v, format);
  put_u8(v, 0);
  put_i64(v, stored_ms);
  if (expires_ms) put_i64(v, *expires_ms);
  v[1] = static_cast<char>(put_publish(v, m) | (expires_ms ? has_expiry : 0));
  return v;
}

result<retained_value> decode_retained(std::string_view value) {
  wire::reader r(bytes_of(value));
  if (auto e = check_format(r)) return *e;
  auto flags = r.u8();
  if (!flags) return flags.error();
  retained_value out;
  auto stored = get_i64(r);
  if (!stored) return stored.error();
  out.stored_ms = *stored;
  if (*flags & has_expiry) {
    auto exp = get_i64(r);
    if (!exp) return exp.error();
    out.expires_ms = *exp;
  }
  auto m = get_publish(rest_of(r), *flags);
  if (!m) return m.error();
  out.message = std::move(*m);
  return out;
}

// ---- messages ----
// queued: format, flags, queued (i64), PUBLISH
// outgoing: format, flags, phase, seq (u64), [PUBLISH]
// incoming: format

std::string encode_queued(const publish_packet& m, std::int64_t queued_ms) {
  std::string v;
  put_u8(v, format);
  put_u8(v, 0);
  put_i64(v, queued_ms);
  v[1] = static_cast<char>(put_publish(v, m));
  return v;
}

std::string encode_outgoing(std::uint64_t seq, inflight_phase phase, const publish_packet& m) {
  std::string v;
  put_u8(v, format);
  put_u8(v, 0);
  put_u8(v, static_cast<std::uint8_t>(phase));
  put_u64(v, seq);
  v[1] = static_cast<char>(m.topic().empty() ? no_message : put_publish(v, m));
  return v;
}

std::string encode_incoming() { return std::string(1, static_cast<char>(format)); }

result<message_record> decode_message(const message_key& key, std::string_view value, const time_base& t) {
  wire::reader r(bytes_of(value));
  if (auto e = check_format(r)) return *e;
  message_record out;
  if (key.kind == kind_incoming) {
    if (!r.empty()) return malformed(bad_record);
    out.kind = record_kind::incoming_qos2;
    out.packet_id = static_cast<std::uint16_t>(key.id);
    return out;
  }
  auto flags = r.u8();
  if (!flags) return flags.error();
  if (key.kind == kind_queued) {
    out.kind = record_kind::queued;
    out.seq = key.id;
    auto at = get_i64(r);
    if (!at) return at.error();
    out.queued_at = t.from_unix_ms(*at);
  } else {
    out.kind = record_kind::outgoing;
    out.packet_id = static_cast<std::uint16_t>(key.id);
    auto phase = r.u8();
    if (!phase) return phase.error();
    if (*phase > 1) return malformed(bad_record);
    out.phase = static_cast<inflight_phase>(*phase);
    auto seq = get_u64(r);
    if (!seq) return seq.error();
    out.seq = *seq;
    if (*flags & no_message) {
      if (!r.empty()) return malformed(bad_record);
      return out;
    }
  }
  auto m = get_publish(rest_of(r), *flags);
  if (!m) return m.error();
  out.message = std::move(*m);
  return out;
}

// ---- sessions ----
// format, protocol version, expiry interval (u32), flags, [expires at (i64)],
// count (u32), then per subscription: filter (u16 length, UTF-8), options
// byte (as in SUBSCRIBE), identifier (u32)

std::string encode_session(const session_record& s, const time_base& t) {
  std::string v;
  put_u8(v, format);
  put_u8(v, static_cast<std::uint8_t>(s.version));
  put_u32(v, s.expiry_interval);
  put_u8(v, s.expires_at ? has_expires_at : 0);
  if (s.expires_at) put_i64(v, t.to_unix_ms(*s.expires_at));
  put_u32(v, static_cast<std::uint32_t>(s.subscriptions.size()));
  for (const auto& sub : s.subscriptions) {
    put_string(v, sub.filter);
    put_u8(v, options_byte(sub.options));
    put_u32(v, sub.identifier);
  }
  return v;
}

result<session_record> decode_session(std::string_view client_id, std::string_view value, const time_base& t) {
  wire::reader r(bytes_of(value));
  if (auto e = check_format(r)) return *e;
  session_record s;
  s.client_id = client_id;
  auto version = r.u8();
  if (!version) return version.error();
  if (*version < 3 || *version > 5) return malformed(bad_record);
  s.version = static_cast<protocol_version>(*version);
  auto expiry = r.u32();
  if (!expiry) return expiry.error();
  s.expiry_interval = *expiry;
  auto flags = r.u8();
  if (!flags) return flags.error();
  if (*flags & has_expires_at) {
    auto at = get_i64(r);
    if (!at) return at.error();
    s.expires_at = t.from_unix_ms(*at);
  }
  auto n = r.u32();
  if (!n) return n.error();
  if (*n > r.remaining() / 7) return malformed(bad_record);  // each takes at least 7 bytes
  s.subscriptions.reserve(*n);
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto filter = r.utf8();
    if (!filter) return filter.error();
    auto ob = r.u8();
    if (!ob) return ob.error();
    auto options = options_of(*ob);
    if (!options) return malformed(bad_record);
    auto id = r.u32();
    if (!id) return id.error();
    s.subscriptions.push_back({std::string(*filter), *options, *id});
  }
  if (!r.empty()) return malformed(bad_record);
  return s;
}

// ---- wills ----
// format, due (i64), CONNECT (5.0) with the client id and the will

std::string encode_will(std::string_view client_id, const will_message& w, std::int64_t due_ms) {
  std::string v;
  put_u8(v, format);
  put_i64(v, due_ms);
  connect_packet c;
  c.version = protocol_version::v5;
  c.client_id = client_id;
  c.clean_start = true;
  c.keep_alive = 0;
  c.will = w;
  const packet p{std::move(c)};
  const auto n = encoded_size(p, protocol_version::v5);
  const auto at = v.size();
  v.resize(at + n);
  encode_to(p, protocol_version::v5, reinterpret_cast<std::byte*>(v.data() + at));
  return v;
}

result<will_record> decode_will(std::string_view client_id, std::string_view value, const time_base& t) {
  wire::reader r(bytes_of(value));
  if (auto e = check_format(r)) return *e;
  auto due = get_i64(r);
  if (!due) return due.error();
  auto p = decode(rest_of(r), protocol_version::v5);
  if (!p) return p.error();
  auto* c = std::get_if<connect_packet>(&*p);
  if (!c || !c->will || c->client_id != client_id) return malformed("storage: the record holds no will");
  return will_record{std::string(client_id), std::move(*c->will), t.from_unix_ms(*due)};
}

}  // namespace tern::storage::detail
