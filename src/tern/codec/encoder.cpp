#include "tern/codec/encoder.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "tern/core/wire.hpp"

namespace tern {
namespace {

bool is_v5(protocol_version v) noexcept { return v == protocol_version::v5; }

std::size_t props_size(const properties& p) noexcept { return varint::size(static_cast<std::uint32_t>(p.size())) + p.size(); }
void write_props(wire::writer& w, const properties& p) noexcept {
  w.varint(static_cast<std::uint32_t>(p.size()));
  w.bytes(p.raw());
}

std::uint8_t first(packet_type t, std::uint8_t flags) noexcept {
  return static_cast<std::uint8_t>((static_cast<unsigned>(t) << 4) | flags);
}

// ---- per packet: first byte, body size, body ----

// The bytes of a 5.0 ack/DISCONNECT/AUTH after any packet id: how much of
// the optional reason code and properties the form needs.
template <class P>
wire_form needed_form(const P& p) noexcept {
  if (!p.props.empty() || p.form == wire_form::with_properties) return wire_form::with_properties;
  if (p.reason_code != reason::success || p.form == wire_form::with_reason) return wire_form::with_reason;
  return wire_form::shortest;
}
template <class P>
std::size_t tail_size(const P& p) noexcept {
  switch (needed_form(p)) {
    case wire_form::shortest: return 0;
    case wire_form::with_reason: return 1;
    case wire_form::with_properties: return 1 + props_size(p.props);
  }
  return 0;
}
template <class P>
void write_tail(wire::writer& w, const P& p) noexcept {
  auto f = needed_form(p);
  if (f == wire_form::shortest) return;
  w.u8(static_cast<std::uint8_t>(p.reason_code));
  if (f == wire_form::with_properties) write_props(w, p.props);
}

struct sizer {
  protocol_version v;

  std::size_t operator()(const connect_packet& p) const noexcept {
    const bool v5 = is_v5(p.version);
    std::size_t n = (p.version == protocol_version::v3_1 ? 8 : 6) + 1 + 1 + 2;
    if (v5) n += props_size(p.props);
    n += wire::utf8_size(p.client_id);
    if (p.will) {
      if (v5) n += props_size(p.will->props);
      n += wire::utf8_size(p.will->topic) + wire::binary_size(p.will->payload.size());
    }
    if (p.username) n += wire::utf8_size(*p.username);
    if (p.password) n += wire::binary_size(p.password->size());
    return n;
  }
  std::size_t operator()(const connack_packet& p) const noexcept {
    return 2 + (is_v5(v) ? props_size(p.props) : 0);
  }
  std::size_t operator()(const publish_packet& p) const noexcept {
    return wire::utf8_size(p.topic()) + (p.qos != qos::at_most_once ? 2 : 0) +
           (is_v5(v) ? props_size(p.props()) : 0) + p.payload().size();
  }
  template <packet_type T>
  std::size_t operator()(const ack_packet<T>& p) const noexcept {
    return 2 + (is_v5(v) ? tail_size(p) : 0);
  }
  std::size_t operator()(const subscribe_packet& p) const noexcept {
    std::size_t n = 2 + (is_v5(v) ? props_size(p.props) : 0);
    for (const auto& s : p.entries) n += wire::utf8_size(s.filter) + 1;
    return n;
  }
  std::size_t operator()(const suback_packet& p) const noexcept {
    return 2 + (is_v5(v) ? props_size(p.props) : 0) + p.reason_codes.size();
  }
  std::size_t operator()(const unsubscribe_packet& p) const noexcept {
    std::size_t n = 2 + (is_v5(v) ? props_size(p.props) : 0);
    for (const auto& f : p.filters) n += wire::utf8_size(f);
    return n;
  }
  std::size_t operator()(const unsuback_packet& p) const noexcept {
    return 2 + (is_v5(v) ? props_size(p.props) + p.reason_codes.size() : 0);
  }
  std::size_t operator()(const pingreq_packet&) const noexcept { return 0; }
  std::size_t operator()(const pingresp_packet&) const noexcept { return 0; }
  std::size_t operator()(const disconnect_packet& p) const noexcept { return is_v5(v) ? tail_size(p) : 0; }
  std::size_t operator()(const auth_packet& p) const noexcept { return tail_size(p); }
};

struct first_byte {
  protocol_version v;
  template <class P>
  std::uint8_t operator()(const P&) const noexcept {
    constexpr auto t = P::type;
    constexpr bool qos1 = t == packet_type::pubrel || t == packet_type::subscribe || t == packet_type::unsubscribe;
    return first(t, qos1 ? 0x02 : 0x00);
  }
  std::uint8_t operator()(const publish_packet& p) const noexcept {
    return first(packet_type::publish, static_cast<std::uint8_t>((p.dup ? 0x08u : 0u) |
                                                                  (static_cast<unsigned>(p.qos) << 1) |
                                                                  (p.retain ? 0x01u : 0u)));
  }
};

// Writes everything of a PUBLISH body but its payload.
void write_publish_head(wire::writer& w, const publish_packet& p, protocol_version v) noexcept {
  w.utf8(p.topic());
  if (p.qos != qos::at_most_once) w.u16(p.packet_id);
  if (is_v5(v)) write_props(w, p.props());
}

struct body_writer {
  protocol_version v;
  wire::writer& w;

  void operator()(const connect_packet& p) const noexcept {
    const bool v5 = is_v5(p.version);
    w.utf8(p.version == protocol_version::v3_1 ? "MQIsdp" : "MQTT");
    w.u8(static_cast<std::uint8_t>(p.version));
    unsigned flags = p.clean_start ? 0x02u : 0u;
    if (p.will) {
      flags |= 0x04u | (static_cast<unsigned>(p.will->qos) << 3) | (p.will->retain ? 0x20u : 0u);
    }
    if (p.password) flags |= 0x40u;
    if (p.username) flags |= 0x80u;
    w.u8(static_cast<std::uint8_t>(flags));
    w.u16(p.keep_alive);
    if (v5) write_props(w, p.props);
    w.utf8(p.client_id);
    if (p.will) {
      if (v5) write_props(w, p.will->props);
      w.utf8(p.will->topic);
      w.binary(p.will->payload.span());
    }
    if (p.username) w.utf8(*p.username);
    if (p.password) w.binary(as_bytes(*p.password));
  }
  void operator()(const connack_packet& p) const noexcept {
    if (is_v5(v)) {
      w.u8(p.session_present ? 1 : 0);
      w.u8(static_cast<std::uint8_t>(p.reason_code));
      write_props(w, p.props);
    } else {
      w.u8(p.session_present && v != protocol_version::v3_1 ? 1 : 0);
      w.u8(static_cast<std::uint8_t>(to_connect_return_code(p.reason_code)));
    }
  }
  void operator()(const publish_packet& p) const noexcept {
    write_publish_head(w, p, v);
    w.bytes(p.payload().span());
  }
  template <packet_type T>
  void operator()(const ack_packet<T>& p) const noexcept {
    w.u16(p.packet_id);
    if (is_v5(v)) write_tail(w, p);
  }
  void operator()(const subscribe_packet& p) const noexcept {
    w.u16(p.packet_id);
    if (is_v5(v)) write_props(w, p.props);
    for (const auto& s : p.entries) {
      w.utf8(s.filter);
      unsigned o = static_cast<unsigned>(s.options.max_qos);
      if (is_v5(v)) {
        o |= (s.options.no_local ? 0x04u : 0u) | (s.options.retain_as_published ? 0x08u : 0u) |
             (static_cast<unsigned>(s.options.retain_handling) << 4);
      }
      w.u8(static_cast<std::uint8_t>(o));
    }
  }
  void operator()(const suback_packet& p) const noexcept {
    w.u16(p.packet_id);
    if (is_v5(v)) write_props(w, p.props);
    for (auto c : p.reason_codes) w.u8(static_cast<std::uint8_t>(c));
  }
  void operator()(const unsubscribe_packet& p) const noexcept {
    w.u16(p.packet_id);
    if (is_v5(v)) write_props(w, p.props);
    for (const auto& f : p.filters) w.utf8(f);
  }
  void operator()(const unsuback_packet& p) const noexcept {
    w.u16(p.packet_id);
    if (!is_v5(v)) return;
    write_props(w, p.props);
    for (auto c : p.reason_codes) w.u8(static_cast<std::uint8_t>(c));
  }
  void operator()(const pingreq_packet&) const noexcept {}
  void operator()(const pingresp_packet&) const noexcept {}
  void operator()(const disconnect_packet& p) const noexcept {
    if (is_v5(v)) write_tail(w, p);
  }
  void operator()(const auth_packet& p) const noexcept { write_tail(w, p); }
};

}  // namespace

std::size_t encoded_size(const publish_packet& p, protocol_version v) {
  auto body = sizer{v}(p);
  return 1 + varint::size(static_cast<std::uint32_t>(body)) + body;
}

std::size_t encoded_size(const packet& p, protocol_version v) {
  auto body = std::visit(sizer{v}, p);
  return 1 + varint::size(static_cast<std::uint32_t>(body)) + body;
}

bool fit_to(packet& p, protocol_version v, std::uint32_t maximum, std::span<const property_id> droppable) {
  for (std::size_t dropped = 0;; ++dropped) {
    if (encoded_size(p, v) <= maximum) return true;
    if (dropped == droppable.size()) return false;
    std::visit(
        [&](auto& x) {
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, publish_packet>) {
            x.set_props(x.props().without(droppable[dropped]));
          } else if constexpr (requires { x.props; }) {
            x.props = x.props.without(droppable[dropped]);
          }
        },
        p);
  }
}

std::byte* encode_to(const packet& p, protocol_version v, std::byte* out) {
  wire::writer w(out);
  w.u8(std::visit(first_byte{v}, p));
  w.varint(static_cast<std::uint32_t>(std::visit(sizer{v}, p)));
  std::visit(body_writer{v, w}, p);
  return w.position();
}

std::vector<std::byte> encode(const packet& p, protocol_version v) {
  std::vector<std::byte> out(encoded_size(p, v));
  encode_to(p, v, out.data());
  return out;
}

write_buffer::parts::parts(const parts& o)
    : bytes(first), used(o.used), capacity(first_capacity), size(o.size), splices(o.splices) {
  if (used > first_capacity) {
    grown = std::make_unique_for_overwrite<std::byte[]>(used);
    bytes = grown.get();
    capacity = used;
  }
  if (used) std::memcpy(bytes, o.bytes, used);
}

// Room for `n` more copied bytes; returns where they go.
std::byte* write_buffer::grow(parts& b, std::size_t n) {
  const auto at = b.used;
  if (b.capacity - at < n) {
    const auto capacity = std::max(b.capacity * 2, at + n);
    auto bigger = std::make_unique_for_overwrite<std::byte[]>(capacity);
    if (at) std::memcpy(bigger.get(), b.bytes, at);
    b.grown = std::move(bigger);
    b.bytes = b.grown.get();
    b.capacity = capacity;
  }
  b.used = at + n;
  b.size += n;
  return b.bytes + at;
}

void write_buffer::append(const packet& p, protocol_version v) {
  if (auto* pub = std::get_if<publish_packet>(&p)) return append(*pub, v);
  auto n = encoded_size(p, v);
  encode_to(p, v, grow(get(), n));
}

void write_buffer::append(const publish_packet& p, protocol_version v) {
  auto& b = get();
  const auto body = sizer{v}(p);
  const auto payload = p.payload().size();
  const bool share = payload >= share_threshold;
  const auto head = 1 + varint::size(static_cast<std::uint32_t>(body)) + body - (share ? payload : 0);
  wire::writer w(grow(b, head));
  w.u8(first_byte{v}(p));
  w.varint(static_cast<std::uint32_t>(body));
  write_publish_head(w, p, v);
  if (share) {
    b.splices.push_back({b.used, p.payload()});
    b.size += payload;
  } else {
    w.bytes(p.payload().span());
  }
}

namespace {
// What buffers() returns for a buffer that never had parts; constant
// initialised, no guard on the way.
constinit const std::vector<bytes_view> no_buffers;
}  // namespace

const std::vector<bytes_view>& write_buffer::buffers() {
  if (!parts_) return no_buffers;
  auto& b = *parts_;
  b.views.clear();
  std::size_t from = 0;
  for (const auto& s : b.splices) {
    if (s.at > from) b.views.emplace_back(b.bytes + from, s.at - from);
    b.views.push_back(s.payload.span());
    from = s.at;
  }
  if (b.used > from) b.views.emplace_back(b.bytes + from, b.used - from);
  return b.views;
}

void write_buffer::clear() noexcept {
  if (!parts_) return;
  parts_->used = 0;
  parts_->size = 0;
  parts_->splices.clear();  // releases the referenced payloads
  parts_->views.clear();
}

}  // namespace tern
