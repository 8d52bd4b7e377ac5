// tests/support/packet_samples.hpp: one or more sample packets of every type,
// for every version it exists in, each 5.0 sample carrying every property its
// packet allows. Used by the round-trip tests, the fuzzer's seed corpus and
// the benchmarks.
#pragma once

#include <string>
#include <vector>

#include "tern/codec/codec.hpp"

namespace tern::testing {

struct sample {
  std::string name;
  packet pkt;
  protocol_version version;
};

inline properties all_will_properties() {
  return properties::builder{}
      .add<property_id::payload_format_indicator>(1)
      .add<property_id::message_expiry_interval>(3600)
      .add<property_id::content_type>("text/plain")
      .add<property_id::response_topic>("reply/here")
      .add<property_id::correlation_data>(as_bytes("\x01\x02\x03"))
      .add<property_id::will_delay_interval>(5)
      .user_property("will", "yes")
      .build();
}

inline std::vector<sample> packet_samples() {
  using pid = property_id;
  std::vector<sample> out;
  const protocol_version v31 = protocol_version::v3_1, v311 = protocol_version::v3_1_1, v5 = protocol_version::v5;
  const protocol_version all[] = {v31, v311, v5};

  // CONNECT
  for (auto v : all) {
    connect_packet c;
    c.version = v;
    c.client_id = "client-1";
    c.keep_alive = 30;
    out.push_back({"connect_minimal", c, v});
    c.clean_start = false;
    c.username = "user";
    c.password = std::string("p\0ss", 4);
    c.will = will_message{"last/will", shared_bytes::copy("gone"), qos::exactly_once, true, {}};
    if (v == v5) {
      c.props = properties::builder{}
                    .add<pid::session_expiry_interval>(120)
                    .add<pid::authentication_method>("SCRAM-SHA-1")
                    .add<pid::authentication_data>(as_bytes("\x00\xFF"))
                    .add<pid::request_problem_information>(0)
                    .add<pid::request_response_information>(1)
                    .add<pid::receive_maximum>(100)
                    .add<pid::topic_alias_maximum>(10)
                    .user_property("a", "1")
                    .user_property("a", "2")
                    .add<pid::maximum_packet_size>(1 << 20)
                    .build();
      c.will->props = all_will_properties();
    }
    out.push_back({"connect_full", c, v});
  }
  {
    connect_packet c;
    c.client_id = "";
    c.password = "secret";  // 5.0 allows a password without a user name
    out.push_back({"connect_password_only", c, v5});
  }

  // CONNACK
  for (auto v : all) {
    connack_packet a;
    a.session_present = v != v31;
    out.push_back({"connack_accepted", a, v});
    connack_packet refused;
    refused.reason_code = reason::not_authorized;
    out.push_back({"connack_refused", refused, v});
  }
  {
    connack_packet a;
    a.props = properties::builder{}
                  .add<pid::session_expiry_interval>(0xFFFFFFFF)
                  .add<pid::assigned_client_identifier>("auto-1234")
                  .add<pid::server_keep_alive>(45)
                  .add<pid::authentication_method>("SCRAM-SHA-1")
                  .add<pid::authentication_data>(as_bytes("srv"))
                  .add<pid::response_information>("resp/")
                  .add<pid::server_reference>("other:1883")
                  .add<pid::reason_string>("welcome")
                  .add<pid::receive_maximum>(65535)
                  .add<pid::topic_alias_maximum>(0)
                  .add<pid::maximum_qos>(1)
                  .add<pid::retain_available>(0)
                  .user_property("x", "y")
                  .add<pid::maximum_packet_size>(268435460)
                  .add<pid::wildcard_subscription_available>(1)
                  .add<pid::subscription_identifier_available>(1)
                  .add<pid::shared_subscription_available>(0)
                  .build();
    out.push_back({"connack_all_properties", a, v5});
  }

  // PUBLISH
  for (auto v : all) {
    out.push_back({"publish_qos0", publish_packet("a/b", shared_bytes::copy("hello")), v});
    publish_packet p1("sensors/kitchen/temperature", shared_bytes::copy(std::string(64, 'x')), qos::at_least_once);
    p1.packet_id = 1;
    out.push_back({"publish_qos1_64", p1, v});
    publish_packet p2("s/\xC3\xA9t\xC3\xA9", shared_bytes::copy(std::string(1024, 'y')), qos::exactly_once, true);
    p2.packet_id = 65535;
    p2.dup = true;
    out.push_back({"publish_qos2_dup_retain_1k", p2, v});
    publish_packet empty("t", shared_bytes{}, qos::at_least_once, true);
    empty.packet_id = 9;
    out.push_back({"publish_empty_payload", empty, v});
  }
  {
    publish_packet p("a/b", shared_bytes::copy("{\"t\":1}"), qos::at_least_once);
    p.packet_id = 77;
    p.set_props(properties::builder{}
                    .add<pid::payload_format_indicator>(1)
                    .add<pid::message_expiry_interval>(60)
                    .add<pid::content_type>("application/json")
                    .add<pid::response_topic>("reply/77")
                    .add<pid::correlation_data>(as_bytes("corr"))
                    .add<pid::subscription_identifier>(1)
                    .add<pid::subscription_identifier>(268435455)
                    .add<pid::topic_alias>(3)
                    .user_property("k", "v")
                    .build());
    out.push_back({"publish_all_properties", p, v5});
    publish_packet alias_only(std::string_view{}, shared_bytes::copy("x"));
    alias_only.set_props(properties::builder{}.add<pid::topic_alias>(3).build());
    out.push_back({"publish_alias_only", alias_only, v5});
  }

  // PUBACK, PUBREC, PUBREL, PUBCOMP
  auto acks = [&](auto proto, const char* name, reason failure, property_context) {
    using P = decltype(proto);
    for (auto v : all) {
      P a;
      a.packet_id = 42;
      out.push_back({std::string(name) + "_plain", a, v});
    }
    P r;
    r.packet_id = 43;
    r.reason_code = failure;
    out.push_back({std::string(name) + "_reason", r, v5});
    P z;
    z.packet_id = 44;
    z.form = wire_form::with_reason;  // an explicit 0x00, as some peers send
    out.push_back({std::string(name) + "_explicit_success", z, v5});
    P e;
    e.packet_id = 45;
    e.form = wire_form::with_properties;  // an explicit empty property length
    out.push_back({std::string(name) + "_empty_properties", e, v5});
    P f;
    f.packet_id = 46;
    f.reason_code = failure;
    f.props = properties::builder{}.add<pid::reason_string>("because").user_property("u", "p").build();
    out.push_back({std::string(name) + "_all_properties", f, v5});
  };
  acks(puback_packet{}, "puback", reason::no_matching_subscribers, property_context::puback);
  acks(pubrec_packet{}, "pubrec", reason::quota_exceeded, property_context::pubrec);
  acks(pubrel_packet{}, "pubrel", reason::packet_identifier_not_found, property_context::pubrel);
  acks(pubcomp_packet{}, "pubcomp", reason::packet_identifier_not_found, property_context::pubcomp);

  // SUBSCRIBE, SUBACK
  for (auto v : all) {
    subscribe_packet s;
    s.packet_id = 10;
    s.entries.push_back({"a/+/c", {qos::at_most_once}});
    s.entries.push_back({"sport/#", {qos::exactly_once}});
    if (v == v5) {
      s.entries.push_back({"x/y", {qos::at_least_once, true, true, retain_handling::dont_send}});
      s.entries.push_back({"$share/g/x/#", {qos::at_least_once, false, false, retain_handling::send_if_new}});
      s.props = properties::builder{}.add<pid::subscription_identifier>(12345).user_property("s", "1").build();
    }
    out.push_back({"subscribe", s, v});
    suback_packet a;
    a.packet_id = 10;
    a.reason_codes = {reason::granted_qos_0, reason::granted_qos_2, reason::unspecified_error};
    if (v == v5) {
      a.reason_codes.push_back(reason::wildcard_subscriptions_not_supported);
      a.props = properties::builder{}.add<pid::reason_string>("partly").user_property("s", "2").build();
    }
    out.push_back({"suback", a, v});
  }

  // UNSUBSCRIBE, UNSUBACK
  for (auto v : all) {
    unsubscribe_packet u;
    u.packet_id = 11;
    u.filters = {"a/+/c", "sport/#"};
    if (v == v5) u.props = properties::builder{}.user_property("u", "1").build();
    out.push_back({"unsubscribe", u, v});
    unsuback_packet a;
    a.packet_id = 11;
    if (v == v5) {
      a.reason_codes = {reason::success, reason::no_subscription_existed};
      a.props = properties::builder{}.add<pid::reason_string>("ok").user_property("u", "2").build();
    }
    out.push_back({"unsuback", a, v});
  }

  // PINGREQ, PINGRESP, DISCONNECT
  for (auto v : all) {
    out.push_back({"pingreq", pingreq_packet{}, v});
    out.push_back({"pingresp", pingresp_packet{}, v});
    out.push_back({"disconnect", disconnect_packet{}, v});
  }
  {
    disconnect_packet d;
    d.reason_code = reason::disconnect_with_will_message;
    out.push_back({"disconnect_reason", d, v5});
    d.reason_code = reason::server_moved;
    d.props = properties::builder{}
                  .add<pid::session_expiry_interval>(0)
                  .add<pid::reason_string>("moved")
                  .add<pid::server_reference>("b:1883")
                  .user_property("d", "1")
                  .build();
    out.push_back({"disconnect_all_properties", d, v5});
  }

  // AUTH (5.0 only)
  out.push_back({"auth_success", auth_packet{}, v5});
  {
    auth_packet a;
    a.reason_code = reason::continue_authentication;
    a.props = properties::builder{}
                  .add<pid::authentication_method>("SCRAM-SHA-1")
                  .add<pid::authentication_data>(as_bytes("challenge"))
                  .add<pid::reason_string>("more")
                  .user_property("a", "1")
                  .build();
    out.push_back({"auth_all_properties", a, v5});
  }
  return out;
}

}  // namespace tern::testing
