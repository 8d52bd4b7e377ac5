#include "tern/codec/properties.hpp"

#include <algorithm>

namespace tern {
namespace {

using ctx = property_context;

constexpr std::uint32_t bit(ctx c) noexcept { return 1u << static_cast<unsigned>(c); }
constexpr std::uint32_t all_packets =
    bit(ctx::connect) | bit(ctx::connack) | bit(ctx::publish) | bit(ctx::will) | bit(ctx::puback) |
    bit(ctx::pubrec) | bit(ctx::pubrel) | bit(ctx::pubcomp) | bit(ctx::subscribe) | bit(ctx::suback) |
    bit(ctx::unsubscribe) | bit(ctx::unsuback) | bit(ctx::disconnect) | bit(ctx::auth);
constexpr std::uint32_t message = bit(ctx::publish) | bit(ctx::will);

struct info {
  std::string_view name;
  property_type type;
  std::uint32_t contexts;  // 0: no such property
};

constexpr info table(std::uint8_t id) noexcept {
  switch (static_cast<property_id>(id)) {
    case property_id::payload_format_indicator: return {"Payload Format Indicator", property_type::byte, message};
    case property_id::message_expiry_interval: return {"Message Expiry Interval", property_type::four_byte, message};
    case property_id::content_type: return {"Content Type", property_type::utf8, message};
    case property_id::response_topic: return {"Response Topic", property_type::utf8, message};
    case property_id::correlation_data: return {"Correlation Data", property_type::binary, message};
    case property_id::subscription_identifier:
      return {"Subscription Identifier", property_type::varint, bit(ctx::publish) | bit(ctx::subscribe)};
    case property_id::session_expiry_interval:
      return {"Session Expiry Interval", property_type::four_byte,
              bit(ctx::connect) | bit(ctx::connack) | bit(ctx::disconnect)};
    case property_id::assigned_client_identifier:
      return {"Assigned Client Identifier", property_type::utf8, bit(ctx::connack)};
    case property_id::server_keep_alive: return {"Server Keep Alive", property_type::two_byte, bit(ctx::connack)};
    case property_id::authentication_method:
      return {"Authentication Method", property_type::utf8, bit(ctx::connect) | bit(ctx::connack) | bit(ctx::auth)};
    case property_id::authentication_data:
      return {"Authentication Data", property_type::binary, bit(ctx::connect) | bit(ctx::connack) | bit(ctx::auth)};
    case property_id::request_problem_information:
      return {"Request Problem Information", property_type::byte, bit(ctx::connect)};
    case property_id::will_delay_interval: return {"Will Delay Interval", property_type::four_byte, bit(ctx::will)};
    case property_id::request_response_information:
      return {"Request Response Information", property_type::byte, bit(ctx::connect)};
    case property_id::response_information: return {"Response Information", property_type::utf8, bit(ctx::connack)};
    case property_id::server_reference:
      return {"Server Reference", property_type::utf8, bit(ctx::connack) | bit(ctx::disconnect)};
    case property_id::reason_string:
      return {"Reason String", property_type::utf8,
              bit(ctx::connack) | bit(ctx::puback) | bit(ctx::pubrec) | bit(ctx::pubrel) | bit(ctx::pubcomp) |
                  bit(ctx::suback) | bit(ctx::unsuback) | bit(ctx::disconnect) | bit(ctx::auth)};
    case property_id::receive_maximum:
      return {"Receive Maximum", property_type::two_byte, bit(ctx::connect) | bit(ctx::connack)};
    case property_id::topic_alias_maximum:
      return {"Topic Alias Maximum", property_type::two_byte, bit(ctx::connect) | bit(ctx::connack)};
    case property_id::topic_alias: return {"Topic Alias", property_type::two_byte, bit(ctx::publish)};
    case property_id::maximum_qos: return {"Maximum QoS", property_type::byte, bit(ctx::connack)};
    case property_id::retain_available: return {"Retain Available", property_type::byte, bit(ctx::connack)};
    case property_id::user_property: return {"User Property", property_type::utf8_pair, all_packets};
    case property_id::maximum_packet_size:
      return {"Maximum Packet Size", property_type::four_byte, bit(ctx::connect) | bit(ctx::connack)};
    case property_id::wildcard_subscription_available:
      return {"Wildcard Subscription Available", property_type::byte, bit(ctx::connack)};
    case property_id::subscription_identifier_available:
      return {"Subscription Identifier Available", property_type::byte, bit(ctx::connack)};
    case property_id::shared_subscription_available:
      return {"Shared Subscription Available", property_type::byte, bit(ctx::connack)};
  }
  return {{}, property_type::byte, 0};
}

error malformed(std::string_view rule) noexcept { return {reason::malformed_packet, rule}; }
error protocol(std::string_view rule) noexcept { return {reason::protocol_error, rule}; }

// Reads the value of a property of type `t` into `p`.
std::optional<error> read_value(wire::reader& r, property_type t, property& p) noexcept {
  switch (t) {
    case property_type::byte: {
      auto v = r.u8();
      if (!v) return v.error();
      p.integer = *v;
      break;
    }
    case property_type::two_byte: {
      auto v = r.u16();
      if (!v) return v.error();
      p.integer = *v;
      break;
    }
    case property_type::four_byte: {
      auto v = r.u32();
      if (!v) return v.error();
      p.integer = *v;
      break;
    }
    case property_type::varint: {
      auto v = r.varint();
      if (!v) return v.error();
      p.integer = *v;
      break;
    }
    case property_type::utf8: {
      auto v = r.utf8();
      if (!v) return v.error();
      p.text = *v;
      break;
    }
    case property_type::binary: {
      auto v = r.binary();
      if (!v) return v.error();
      p.data = *v;
      break;
    }
    case property_type::utf8_pair: {
      auto v = r.utf8_pair();
      if (!v) return v.error();
      p.text = v->name;
      p.value = v->value;
      break;
    }
  }
  return std::nullopt;
}

// The range rules the spec states for individual property values.
std::optional<error> check_value(const property& p) noexcept {
  switch (p.id) {
    case property_id::payload_format_indicator:
      if (p.integer > 1) return protocol("MQTT 5.0 3.3.2.3.2: Payload Format Indicator other than 0 or 1");
      break;
    case property_id::request_problem_information:
      if (p.integer > 1) return protocol("MQTT 5.0 3.1.2.11.7: Request Problem Information other than 0 or 1");
      break;
    case property_id::request_response_information:
      if (p.integer > 1) return protocol("MQTT 5.0 3.1.2.11.6: Request Response Information other than 0 or 1");
      break;
    case property_id::maximum_qos:
      if (p.integer > 1) return protocol("MQTT 5.0 3.2.2.3.4: Maximum QoS other than 0 or 1");
      break;
    case property_id::retain_available:
    case property_id::wildcard_subscription_available:
    case property_id::subscription_identifier_available:
    case property_id::shared_subscription_available:
      if (p.integer > 1) return protocol("MQTT 5.0 3.2.2.3: availability property other than 0 or 1");
      break;
    case property_id::subscription_identifier:
      if (p.integer == 0) return protocol("MQTT 5.0 3.8.2.1.2: Subscription Identifier of 0");
      break;
    case property_id::receive_maximum:
      if (p.integer == 0) return protocol("MQTT 5.0 3.1.2.11.3: Receive Maximum of 0");
      break;
    case property_id::maximum_packet_size:
      if (p.integer == 0) return protocol("MQTT 5.0 3.1.2.11.4: Maximum Packet Size of 0");
      break;
    case property_id::topic_alias:
      // MQTT 5.0 3.3.2.3.4: "Topic Alias invalid", not a plain protocol error.
      if (p.integer == 0) return error{reason::topic_alias_invalid, "MQTT-3.3.2-8: Topic Alias of 0"};
      break;
    default: break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<property_type> type_of(property_id id) noexcept {
  auto i = table(static_cast<std::uint8_t>(id));
  if (i.contexts == 0) return std::nullopt;
  return i.type;
}

bool allowed_in(property_id id, property_context context) noexcept {
  return (table(static_cast<std::uint8_t>(id)).contexts & bit(context)) != 0;
}

bool repeatable_in(property_id id, property_context context) noexcept {
  return id == property_id::user_property ||
         (id == property_id::subscription_identifier && context == property_context::publish);
}

std::string_view name(property_id id) noexcept { return table(static_cast<std::uint8_t>(id)).name; }

result<properties> properties::parse(shared_bytes raw, property_context context) noexcept {
  wire::reader r(raw.span());
  std::uint64_t seen = 0;
  bool has_auth_method = false, has_auth_data = false;
  while (!r.empty()) {
    auto id = r.varint();  // identifiers are variable byte integers (MQTT 5.0 2.2.2.2)
    if (!id) return id.error();
    if (*id > 0xFF) return malformed("MQTT 5.0 2.2.2.2: unknown property identifier");
    auto i = table(static_cast<std::uint8_t>(*id));
    if (i.contexts == 0) return malformed("MQTT 5.0 2.2.2.2: unknown property identifier");
    property p;
    p.id = static_cast<property_id>(*id);
    if ((i.contexts & bit(context)) == 0)
      return malformed("MQTT 5.0 2.2.2.2: property not valid for this packet type");
    if (auto e = read_value(r, i.type, p)) return *e;
    if (!repeatable_in(p.id, context)) {
      std::uint64_t b = std::uint64_t{1} << *id;
      if (seen & b) return protocol("MQTT 5.0 2.2.2.2: property included more than once");
      seen |= b;
    }
    if (auto e = check_value(p)) return *e;
    has_auth_method |= p.id == property_id::authentication_method;
    has_auth_data |= p.id == property_id::authentication_data;
  }
  if (has_auth_data && !has_auth_method)
    return protocol("MQTT 5.0 3.1.2.11.10: Authentication Data without Authentication Method");
  return properties(std::move(raw));
}

property properties::read_one(wire::reader& r) noexcept {
  property p;
  auto id = r.varint();
  p.id = static_cast<property_id>(*id);
  (void)read_value(r, table(static_cast<std::uint8_t>(*id)).type, p);
  return p;
}

std::optional<property> properties::find(property_id id) const noexcept {
  wire::reader r(raw_.span());
  while (!r.empty()) {
    auto p = read_one(r);
    if (p.id == id) return p;
  }
  return std::nullopt;
}

properties properties::without(std::span<const property_id> ids) const {
  const auto dropped = [&](property_id id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); };
  bool any = false;
  for_each([&](const property& p) { any = any || dropped(p.id); });
  if (!any) return *this;
  builder b;
  for_each([&](const property& p) {
    if (!dropped(p.id)) (void)b.add(p);
  });
  return b.empty() ? properties{} : b.build();
}

std::vector<wire::string_pair> properties::user_properties() const {
  std::vector<wire::string_pair> out;
  for_each_user_property([&](std::string_view k, std::string_view v) { out.push_back({k, v}); });
  return out;
}

std::vector<std::uint32_t> properties::subscription_identifiers() const {
  std::vector<std::uint32_t> out;
  for_each([&](const property& p) {
    if (p.id == property_id::subscription_identifier) out.push_back(p.integer);
  });
  return out;
}

void properties::builder::put_integer(property_id id, property_type t, std::uint32_t v) {
  std::byte buf[1 + 4 + 4];
  wire::writer w(buf);
  w.u8(static_cast<std::uint8_t>(id));
  switch (t) {
    case property_type::byte: w.u8(static_cast<std::uint8_t>(v)); break;
    case property_type::two_byte: w.u16(static_cast<std::uint16_t>(v)); break;
    case property_type::four_byte: w.u32(v); break;
    default: w.varint(v); break;
  }
  bytes_.insert(bytes_.end(), buf, w.position());
}

void properties::builder::put_text(property_id id, std::string_view v) {
  bytes_.push_back(std::byte{static_cast<std::uint8_t>(id)});
  auto at = bytes_.size();
  bytes_.resize(at + wire::utf8_size(v));
  wire::writer(bytes_.data() + at).utf8(v);
}

void properties::builder::put_binary(property_id id, bytes_view v) {
  bytes_.push_back(std::byte{static_cast<std::uint8_t>(id)});
  auto at = bytes_.size();
  bytes_.resize(at + wire::binary_size(v.size()));
  wire::writer(bytes_.data() + at).binary(v);
}

properties::builder& properties::builder::user_property(std::string_view name, std::string_view value) {
  bytes_.push_back(std::byte{static_cast<std::uint8_t>(property_id::user_property)});
  auto at = bytes_.size();
  bytes_.resize(at + wire::utf8_pair_size({name, value}));
  wire::writer(bytes_.data() + at).utf8_pair({name, value});
  return *this;
}

std::optional<error> properties::builder::add(const property& p) {
  auto t = type_of(p.id);
  if (!t) return error{reason::malformed_packet, "MQTT 5.0 2.2.2.2: unknown property identifier"};
  switch (*t) {
    case property_type::utf8: put_text(p.id, p.text); break;
    case property_type::binary: put_binary(p.id, p.data); break;
    case property_type::utf8_pair: user_property(p.text, p.value); break;
    case property_type::byte:
      if (p.integer > 0xFF) return error{reason::protocol_error, "property value does not fit its type"};
      put_integer(p.id, *t, p.integer);
      break;
    case property_type::two_byte:
      if (p.integer > 0xFFFF) return error{reason::protocol_error, "property value does not fit its type"};
      put_integer(p.id, *t, p.integer);
      break;
    case property_type::varint:
      if (p.integer > varint::max_value) return error{reason::protocol_error, "property value does not fit its type"};
      put_integer(p.id, *t, p.integer);
      break;
    case property_type::four_byte: put_integer(p.id, *t, p.integer); break;
  }
  return std::nullopt;
}

properties::builder& properties::builder::append(const properties& other) {
  bytes_.insert(bytes_.end(), other.raw().begin(), other.raw().end());
  return *this;
}

}  // namespace tern
