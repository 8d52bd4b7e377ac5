// tern/codec/properties.hpp: MQTT 5 properties (MQTT 5.0 section 2.2.2.2):
// every property identifier, its data type, the packets it may appear in,
// and `properties`, an immutable, validated property block.
//
// A block keeps its encoded bytes (shared with the packet it came from), so
// decoding allocates nothing and re-encoding reproduces the input exactly.
//
//   auto props = tern::properties::builder{}
//                    .add<tern::property_id::message_expiry_interval>(30)
//                    .add<tern::property_id::content_type>("text/plain")
//                    .user_property("site", "north")
//                    .build();
//   if (auto e = props.get<tern::property_id::message_expiry_interval>()) use(*e);
//   props.for_each_user_property([](std::string_view k, std::string_view v) { ... });
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tern/core/bytes.hpp"
#include "tern/core/result.hpp"
#include "tern/core/wire.hpp"

namespace tern {

enum class property_id : std::uint8_t {
  payload_format_indicator = 0x01,
  message_expiry_interval = 0x02,
  content_type = 0x03,
  response_topic = 0x08,
  correlation_data = 0x09,
  subscription_identifier = 0x0B,
  session_expiry_interval = 0x11,
  assigned_client_identifier = 0x12,
  server_keep_alive = 0x13,
  authentication_method = 0x15,
  authentication_data = 0x16,
  request_problem_information = 0x17,
  will_delay_interval = 0x18,
  request_response_information = 0x19,
  response_information = 0x1A,
  server_reference = 0x1C,
  reason_string = 0x1F,
  receive_maximum = 0x21,
  topic_alias_maximum = 0x22,
  topic_alias = 0x23,
  maximum_qos = 0x24,
  retain_available = 0x25,
  user_property = 0x26,
  maximum_packet_size = 0x27,
  wildcard_subscription_available = 0x28,
  subscription_identifier_available = 0x29,
  shared_subscription_available = 0x2A,
};

enum class property_type : std::uint8_t { byte, two_byte, four_byte, varint, utf8, binary, utf8_pair };

// Where a property block sits: a packet, or a CONNECT's will.
enum class property_context : std::uint8_t {
  connect, connack, publish, will, puback, pubrec, pubrel, pubcomp,
  subscribe, suback, unsubscribe, unsuback, disconnect, auth,
};

// The data type of `id`, or nullopt for a byte that names no property.
std::optional<property_type> type_of(property_id id) noexcept;
// True when `id` may appear in a block of `context` (MQTT 5.0 table 2-4).
bool allowed_in(property_id id, property_context context) noexcept;
// True for the properties that may appear more than once in `context`.
bool repeatable_in(property_id id, property_context context) noexcept;
// The spec's name, e.g. "Message Expiry Interval".
std::string_view name(property_id id) noexcept;

// One property as read from a block: the value field that matches its type.
struct property {
  property_id id{};
  std::uint32_t integer = 0;           // byte, two_byte, four_byte, varint
  std::string_view text;               // utf8; the name of a utf8_pair
  std::string_view value;              // the value of a utf8_pair
  bytes_view data;                     // binary
};

// C++ value types of each property, for the typed get<>/add<>.
template <property_id Id>
struct property_traits {
  static constexpr property_type type = [] {
    switch (Id) {
      case property_id::payload_format_indicator:
      case property_id::request_problem_information:
      case property_id::request_response_information:
      case property_id::maximum_qos:
      case property_id::retain_available:
      case property_id::wildcard_subscription_available:
      case property_id::subscription_identifier_available:
      case property_id::shared_subscription_available: return property_type::byte;
      case property_id::server_keep_alive:
      case property_id::receive_maximum:
      case property_id::topic_alias_maximum:
      case property_id::topic_alias: return property_type::two_byte;
      case property_id::message_expiry_interval:
      case property_id::session_expiry_interval:
      case property_id::will_delay_interval:
      case property_id::maximum_packet_size: return property_type::four_byte;
      case property_id::subscription_identifier: return property_type::varint;
      case property_id::correlation_data:
      case property_id::authentication_data: return property_type::binary;
      case property_id::user_property: return property_type::utf8_pair;
      default: return property_type::utf8;
    }
  }();
  using value_type = std::conditional_t<
      type == property_type::utf8, std::string_view,
      std::conditional_t<type == property_type::binary, bytes_view, std::uint32_t>>;
};

class properties {
 public:
  properties() = default;

  // Validates the block `raw` (without its length prefix) for `context` and
  // keeps it: every identifier known and allowed there, every value of its
  // type and range, no property twice unless the spec allows it.
  static result<properties> parse(shared_bytes raw, property_context context) noexcept;

  // The encoded block, without its length prefix.
  bytes_view raw() const noexcept { return raw_.span(); }
  std::size_t size() const noexcept { return raw_.size(); }
  bool empty() const noexcept { return raw_.empty(); }

  // Calls f(const property&) for each property, in wire order.
  template <class F>
  void for_each(F&& f) const {
    wire::reader r(raw_.span());
    while (!r.empty()) f(read_one(r));
  }
  // Calls f(name, value) for each User Property, in order.
  template <class F>
  void for_each_user_property(F&& f) const {
    for_each([&](const property& p) {
      if (p.id == property_id::user_property) f(p.text, p.value);
    });
  }
  std::vector<wire::string_pair> user_properties() const;
  // Every Subscription Identifier (a forwarded PUBLISH may carry several).
  std::vector<std::uint32_t> subscription_identifiers() const;

  // The first property `id`, if present.
  std::optional<property> find(property_id id) const noexcept;
  // This block without the properties whose identifier is in `ids` (the
  // same block, not a copy, when it holds none of them).
  properties without(std::span<const property_id> ids) const;
  properties without(property_id id) const { return without(std::span<const property_id>(&id, 1)); }

  template <property_id Id>
  std::optional<typename property_traits<Id>::value_type> get() const noexcept {
    auto p = find(Id);
    if (!p) return std::nullopt;
    if constexpr (property_traits<Id>::type == property_type::utf8) return p->text;
    else if constexpr (property_traits<Id>::type == property_type::binary) return p->data;
    else return p->integer;
  }

  class builder;

  friend bool operator==(const properties& a, const properties& b) noexcept { return a.raw_ == b.raw_; }

 private:
  explicit properties(shared_bytes raw) noexcept : raw_(std::move(raw)) {}
  // Reads one property from an already validated block.
  static property read_one(wire::reader& r) noexcept;

  shared_bytes raw_;
};

// Builds a property block. Typed add<Id>() checks the value type at compile
// time; add(property) checks it at run time (for values parsed from text).
class properties::builder {
 public:
  template <property_id Id>
  builder& add(typename property_traits<Id>::value_type v) {
    if constexpr (property_traits<Id>::type == property_type::utf8) put_text(Id, v);
    else if constexpr (property_traits<Id>::type == property_type::binary) put_binary(Id, v);
    else put_integer(Id, property_traits<Id>::type, v);
    return *this;
  }
  builder& user_property(std::string_view name, std::string_view value);
  // Adds `p`; refuses an identifier whose type does not match the field set.
  std::optional<error> add(const property& p);
  // Appends every property of `other`.
  builder& append(const properties& other);

  bool empty() const noexcept { return bytes_.empty(); }
  // The block. It is not checked against a context: the codec's encoder
  // writes what it is given; properties::parse is where blocks are judged.
  properties build() const { return properties(shared_bytes::copy(bytes_view(bytes_))); }

 private:
  void put_integer(property_id id, property_type t, std::uint32_t v);
  void put_text(property_id id, std::string_view v);
  void put_binary(property_id id, bytes_view v);

  std::vector<std::byte> bytes_;
};

}  // namespace tern
