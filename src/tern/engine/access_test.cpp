// The engine's access policy (access.hpp): asked on subscribe, publish,
// delivery, retained messages and wills, its answers cached per session and
// dropped on a reload.
#include "tern/engine/engine_test_support.hpp"

#include <atomic>

namespace tern::engine {
namespace {

using namespace test_support;
using namespace std::chrono_literals;

// An access policy that lets "writer" write w/#, everyone read r/# and w/#
// (but "blind" read nothing), and counts what it is asked.
struct counting_policy final : access_policy {
  mutable std::atomic<int> asked{0};
  std::atomic<std::uint64_t> gen{0};
  bool allowed(const client_info& c, std::string_view topic, access what) const override {
    ++asked;
    if (what == access::write) return c.client_id == "writer" && topic.starts_with("w/");
    if (c.client_id == "blind") return false;
    return topic.starts_with("r/") || topic.starts_with("w/");
  }
  std::uint64_t generation() const override { return gen.load(); }
};

TEST_F(Engine, TheAccessPolicyIsAskedOncePerClientTopicAndAccessUntilItChanges) {
  counting_policy policy;
  options o;
  o.access = &policy;
  make(1, o);
  auto reader = connect("reader");
  reader->subscribe("w/#", qos::at_least_once);
  auto blind = connect("blind");
  subscribe_packet s;
  s.packet_id = 1;
  s.entries.push_back({"w/#", {}});
  blind->send(s);
  EXPECT_EQ(blind->expect<suback_packet>().reason_codes.at(0), reason::not_authorized);
  auto writer = connect("writer");
  writer->publish("x/y", "no", qos::at_least_once, false, 1);
  EXPECT_EQ(writer->expect<puback_packet>().reason_code, reason::not_authorized);
  for (std::uint16_t i = 2; i < 6; ++i) {
    writer->publish("w/a", "yes", qos::at_least_once, false, i);
    EXPECT_EQ(writer->expect<puback_packet>().reason_code, reason::success);
    EXPECT_EQ(reader->expect<publish_packet>().topic(), "w/a");
  }
  // subscribe (reader, blind), write (x/y, w/a), read (reader w/a): 5 questions, not 12.
  EXPECT_EQ(policy.asked.load(), 5);
  ++policy.gen;  // a new ACL: every remembered answer goes
  writer->publish("w/a", "again", qos::at_least_once, false, 9);
  EXPECT_EQ(reader->expect<publish_packet>().topic(), "w/a");
  EXPECT_EQ(policy.asked.load(), 7);
}

TEST_F(Engine, MaxPublishRateDisconnectsAClientPastIt) {
  options o;
  o.max_publish_rate = 3;
  make(1, o);
  auto c = connect("fast");
  for (int i = 0; i < 3; ++i) c->publish("t", "x");
  advance(1s);  // a new window
  for (int i = 0; i < 3; ++i) c->publish("t", "x");
  EXPECT_FALSE(c->ep->closing());
  c->publish("t", "x");
  EXPECT_EQ(c->expect<disconnect_packet>().reason_code, reason::message_rate_too_high);
  EXPECT_TRUE(c->ep->closing());
}

}  // namespace
}  // namespace tern::engine
