// Interface tests of the storage backends: every backend runs the same tests.
#include "tern/storage/storage.hpp"

#include <gtest/gtest.h>

namespace tern::storage {
namespace {

using namespace std::chrono_literals;

class Backend : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<store> make() { return make_memory_store(); }
};

std::vector<std::string> topics(retain_store& r, std::string_view filter, time_point now) {
  std::vector<std::string> out;
  r.match(filter, now, [&](const publish_packet& m) { out.emplace_back(m.topic()); });
  std::sort(out.begin(), out.end());
  return out;
}

TEST_P(Backend, RetainedMessagesAreStoredReplacedAndCleared) {
  auto s = make();
  auto& r = s->retained();
  const time_point now{};
  r.put(publish_packet("a/b", shared_bytes::copy("1"), qos::at_least_once, true), now);
  r.put(publish_packet("a/c", shared_bytes::copy("2"), qos::at_most_once, true), now);
  r.put(publish_packet("$SYS/x", shared_bytes::copy("3"), qos::at_most_once, true), now);
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(topics(r, "a/#", now), (std::vector<std::string>{"a/b", "a/c"}));
  EXPECT_EQ(topics(r, "#", now), (std::vector<std::string>{"a/b", "a/c"}));  // not $SYS
  EXPECT_EQ(topics(r, "a/b", now), (std::vector<std::string>{"a/b"}));
  r.put(publish_packet("a/b", shared_bytes::copy("9"), qos::at_most_once, true), now);
  std::string payload;
  r.match("a/b", now, [&](const publish_packet& m) { payload = m.payload().view(); });
  EXPECT_EQ(payload, "9");
  r.put(publish_packet("a/b", shared_bytes{}, qos::at_most_once, true), now);
  EXPECT_EQ(topics(r, "a/+", now), (std::vector<std::string>{"a/c"}));
  EXPECT_EQ(r.size(), 2u);
}

TEST_P(Backend, RetainedMessagesExpire) {
  auto s = make();
  auto& r = s->retained();
  const time_point t0{};
  publish_packet m("e/1", shared_bytes::copy("x"), qos::at_most_once, true);
  m.set_props(properties::builder{}.add<property_id::message_expiry_interval>(10).build());
  r.put(m, t0);
  std::optional<std::uint32_t> left;
  r.match("e/1", t0 + 4s, [&](const publish_packet& p) { left = p.props().get<property_id::message_expiry_interval>(); });
  EXPECT_EQ(left, 6u);
  EXPECT_TRUE(topics(r, "e/#", t0 + 10s).empty());
  EXPECT_EQ(r.size(), 0u);
}

TEST_P(Backend, SessionsAreSavedLoadedAndErased) {
  auto s = make();
  auto& ss = s->sessions();
  session_record rec{"c1", protocol_version::v5, 300, {{"a/#", {qos::at_least_once}, 7}}};
  ss.save(rec);
  auto got = ss.load("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->expiry_interval, 300u);
  ASSERT_EQ(got->subscriptions.size(), 1u);
  EXPECT_EQ(got->subscriptions[0].identifier, 7u);
  int n = 0;
  ss.for_each([&](const session_record&) { ++n; });
  EXPECT_EQ(n, 1);
  ss.erase("c1");
  EXPECT_FALSE(ss.load("c1"));
}

INSTANTIATE_TEST_SUITE_P(Backends, Backend, ::testing::Values("memory"));

}  // namespace
}  // namespace tern::storage
