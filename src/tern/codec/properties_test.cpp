#include "tern/codec/properties.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <set>

namespace tern {
namespace {

using ctx = property_context;
using pid = property_id;

// MQTT 5.0 table 2-4: the packets each property may appear in.
const std::map<pid, std::set<ctx>>& spec_table() {
  static const std::map<pid, std::set<ctx>> t = {
      {pid::payload_format_indicator, {ctx::publish, ctx::will}},
      {pid::message_expiry_interval, {ctx::publish, ctx::will}},
      {pid::content_type, {ctx::publish, ctx::will}},
      {pid::response_topic, {ctx::publish, ctx::will}},
      {pid::correlation_data, {ctx::publish, ctx::will}},
      {pid::subscription_identifier, {ctx::publish, ctx::subscribe}},
      {pid::session_expiry_interval, {ctx::connect, ctx::connack, ctx::disconnect}},
      {pid::assigned_client_identifier, {ctx::connack}},
      {pid::server_keep_alive, {ctx::connack}},
      {pid::authentication_method, {ctx::connect, ctx::connack, ctx::auth}},
      {pid::authentication_data, {ctx::connect, ctx::connack, ctx::auth}},
      {pid::request_problem_information, {ctx::connect}},
      {pid::will_delay_interval, {ctx::will}},
      {pid::request_response_information, {ctx::connect}},
      {pid::response_information, {ctx::connack}},
      {pid::server_reference, {ctx::connack, ctx::disconnect}},
      {pid::reason_string,
       {ctx::connack, ctx::puback, ctx::pubrec, ctx::pubrel, ctx::pubcomp, ctx::suback, ctx::unsuback,
        ctx::disconnect, ctx::auth}},
      {pid::receive_maximum, {ctx::connect, ctx::connack}},
      {pid::topic_alias_maximum, {ctx::connect, ctx::connack}},
      {pid::topic_alias, {ctx::publish}},
      {pid::maximum_qos, {ctx::connack}},
      {pid::retain_available, {ctx::connack}},
      {pid::user_property,
       {ctx::connect, ctx::connack, ctx::publish, ctx::will, ctx::puback, ctx::pubrec, ctx::pubrel, ctx::pubcomp,
        ctx::subscribe, ctx::suback, ctx::unsubscribe, ctx::unsuback, ctx::disconnect, ctx::auth}},
      {pid::maximum_packet_size, {ctx::connect, ctx::connack}},
      {pid::wildcard_subscription_available, {ctx::connack}},
      {pid::subscription_identifier_available, {ctx::connack}},
      {pid::shared_subscription_available, {ctx::connack}},
  };
  return t;
}

// A valid value of the property's type.
property sample_value(pid id) {
  property p;
  p.id = id;
  p.integer = 1;
  p.text = "t";
  p.value = "v";
  p.data = as_bytes("d");
  return p;
}

TEST(Properties, EveryIdentifierIsAllowedExactlyWhereTheSpecSays) {
  EXPECT_EQ(spec_table().size(), 27u);
  for (int c = 0; c <= static_cast<int>(ctx::auth); ++c) {
    for (const auto& [id, where] : spec_table()) {
      const auto context = static_cast<ctx>(c);
      const bool expected = where.count(context) != 0;
      EXPECT_EQ(allowed_in(id, context), expected) << name(id) << " in context " << c;
      properties::builder b;
      ASSERT_FALSE(b.add(sample_value(id)));
      if (id == pid::authentication_data) b.add<pid::authentication_method>("m");
      auto block = b.build();
      auto parsed = properties::parse(shared_bytes::copy(block.raw()), context);
      EXPECT_EQ(static_cast<bool>(parsed), expected) << name(id) << " in context " << c;
      if (!expected) {
        EXPECT_EQ(parsed.error().code, reason::malformed_packet);
      }
    }
  }
}

TEST(Properties, UnknownIdentifierIsMalformed) {
  for (int id : {0x00, 0x04, 0x0A, 0x14, 0x2B, 0x7F}) {
    std::byte raw[] = {std::byte(id), std::byte{0}};
    auto r = properties::parse(shared_bytes::copy(bytes_view(raw)), ctx::publish);
    ASSERT_FALSE(r) << id;
    EXPECT_EQ(r.error().code, reason::malformed_packet);
    EXPECT_NE(r.error().detail.find("unknown property"), std::string_view::npos);
  }
}

TEST(Properties, DuplicatesAreAProtocolErrorExceptWhereAllowed) {
  auto twice = properties::builder{}.add<pid::content_type>("a").add<pid::content_type>("b").build();
  auto r = properties::parse(shared_bytes::copy(twice.raw()), ctx::publish);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, reason::protocol_error);
  EXPECT_NE(r.error().detail.find("more than once"), std::string_view::npos);

  auto users = properties::builder{}.user_property("a", "1").user_property("a", "1").build();
  EXPECT_TRUE(properties::parse(shared_bytes::copy(users.raw()), ctx::connect));

  auto ids = properties::builder{}.add<pid::subscription_identifier>(1).add<pid::subscription_identifier>(2).build();
  EXPECT_TRUE(properties::parse(shared_bytes::copy(ids.raw()), ctx::publish));
  auto sub = properties::parse(shared_bytes::copy(ids.raw()), ctx::subscribe);
  ASSERT_FALSE(sub);
  EXPECT_EQ(sub.error().code, reason::protocol_error);
}

TEST(Properties, ValueRangesAreChecked) {
  struct {
    properties props;
    ctx where;
  } bad[] = {
      {properties::builder{}.add<pid::payload_format_indicator>(2).build(), ctx::publish},
      {properties::builder{}.add<pid::request_problem_information>(2).build(), ctx::connect},
      {properties::builder{}.add<pid::request_response_information>(2).build(), ctx::connect},
      {properties::builder{}.add<pid::maximum_qos>(2).build(), ctx::connack},
      {properties::builder{}.add<pid::retain_available>(2).build(), ctx::connack},
      {properties::builder{}.add<pid::wildcard_subscription_available>(3).build(), ctx::connack},
      {properties::builder{}.add<pid::subscription_identifier_available>(9).build(), ctx::connack},
      {properties::builder{}.add<pid::shared_subscription_available>(2).build(), ctx::connack},
      {properties::builder{}.add<pid::subscription_identifier>(0).build(), ctx::subscribe},
      {properties::builder{}.add<pid::receive_maximum>(0).build(), ctx::connect},
      {properties::builder{}.add<pid::maximum_packet_size>(0).build(), ctx::connack},
      {properties::builder{}.add<pid::authentication_data>(as_bytes("x")).build(), ctx::connect},
  };
  for (const auto& b : bad) {
    auto r = properties::parse(shared_bytes::copy(b.props.raw()), b.where);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, reason::protocol_error) << r.error().message();
  }
}

TEST(Properties, TopicAliasZeroIsTopicAliasInvalid) {
  auto p = properties::builder{}.add<pid::topic_alias>(0).build();
  auto r = properties::parse(shared_bytes::copy(p.raw()), ctx::publish);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, reason::topic_alias_invalid);
}

TEST(Properties, TruncatedValueIsMalformed) {
  std::byte raw[] = {std::byte{0x02}, std::byte{0x00}, std::byte{0x01}};  // four-byte value cut short
  auto r = properties::parse(shared_bytes::copy(bytes_view(raw)), ctx::publish);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, reason::malformed_packet);
}

TEST(Properties, InvalidUtf8IsMalformed) {
  auto p = properties::builder{}.add<pid::content_type>("bad\xC0\x80").build();
  auto r = properties::parse(shared_bytes::copy(p.raw()), ctx::publish);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, reason::malformed_packet);
  auto u = properties::builder{}.user_property("k", std::string_view("\0", 1)).build();
  EXPECT_FALSE(properties::parse(shared_bytes::copy(u.raw()), ctx::publish));
}

TEST(Properties, TypedAccessReadsValues) {
  auto p = properties::builder{}
               .add<pid::message_expiry_interval>(30)
               .add<pid::content_type>("text/plain")
               .add<pid::correlation_data>(as_bytes("\x01\x02"))
               .add<pid::subscription_identifier>(7)
               .add<pid::subscription_identifier>(300)
               .user_property("k1", "v1")
               .user_property("k2", "v2")
               .build();
  EXPECT_EQ(p.get<pid::message_expiry_interval>(), 30u);
  EXPECT_EQ(p.get<pid::content_type>(), "text/plain");
  EXPECT_EQ(as_chars(*p.get<pid::correlation_data>()), "\x01\x02");
  EXPECT_FALSE(p.get<pid::response_topic>());
  EXPECT_EQ(p.subscription_identifiers(), (std::vector<std::uint32_t>{7, 300}));
  auto users = p.user_properties();
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[1].name, "k2");
  EXPECT_EQ(users[1].value, "v2");
  EXPECT_EQ(type_of(pid::user_property), property_type::utf8_pair);
  EXPECT_FALSE(type_of(static_cast<pid>(0x05)));
  EXPECT_EQ(name(pid::topic_alias_maximum), "Topic Alias Maximum");
}

TEST(Properties, WithoutLeavesOutTheNamedIdentifiers) {
  auto p = properties::builder{}
               .add<pid::reason_string>("why")
               .user_property("k1", "v1")
               .add<pid::receive_maximum>(10)
               .user_property("k2", "v2")
               .build();
  auto q = p.without(std::array{pid::user_property, pid::reason_string});
  EXPECT_EQ(q, properties::builder{}.add<pid::receive_maximum>(10).build());
  EXPECT_EQ(p.without(pid::receive_maximum).user_properties().size(), 2u);
  // None of them there: the same block, shared.
  auto same = q.without(pid::user_property);
  EXPECT_EQ(same.raw().data(), q.raw().data());
  EXPECT_TRUE(q.without(pid::receive_maximum).empty());
}

TEST(Properties, RuntimeAddRefusesValuesThatDoNotFit) {
  properties::builder b;
  property p;
  p.id = pid::receive_maximum;
  p.integer = 70000;
  EXPECT_TRUE(b.add(p));
  p.id = static_cast<pid>(0x05);
  EXPECT_TRUE(b.add(p));
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace tern
