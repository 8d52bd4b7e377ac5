// The parts of the load generator that compute figures: the histogram, the
// sequence bookkeeping, the payload stamp, option checks and the JSON report.
// The generator against a real broker is tested by apps/tern's smoke test.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include "tern/bench/histogram.hpp"
#include "tern/bench/options.hpp"
#include "tern/bench/report.hpp"
#include "tern/bench/sequence.hpp"
#include "tern/bench/stamp.hpp"

namespace tern::bench {
namespace {

TEST(Histogram, BucketsCoverEveryValueWithBoundedError) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 129ull, 1000ull, 65535ull, 1234567ull, 1ull << 40,
                          ~0ull}) {
    const auto i = histogram::index(v);
    EXPECT_LE(histogram::lowest(i), v) << v;
    EXPECT_GE(histogram::highest(i), v) << v;
    EXPECT_LE(static_cast<double>(histogram::highest(i) - histogram::lowest(i)),
              static_cast<double>(v) / 64.0 + 1.0)
        << v;
  }
  // Buckets are contiguous: each starts one past the end of the previous one.
  for (std::size_t i = 1; i < histogram::index(~0ull); ++i)
    ASSERT_EQ(histogram::lowest(i), histogram::highest(i - 1) + 1) << i;
}

TEST(Histogram, PercentilesOfAUniformSpread) {
  histogram h;
  for (std::uint64_t v = 1; v <= 100'000; ++v) h.record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.max(), 100'000'000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_NEAR(static_cast<double>(h.percentile(50)), 50e6, 50e6 * 0.01);
  EXPECT_NEAR(static_cast<double>(h.percentile(99)), 99e6, 99e6 * 0.01);
  EXPECT_NEAR(static_cast<double>(h.percentile(99.9)), 99.9e6, 99.9e6 * 0.01);
  EXPECT_EQ(h.percentile(100), h.max());
  EXPECT_NEAR(h.mean(), 50.0005e6, 1.0);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  histogram a, b, all;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10'000; ++i) {
    const auto v = rng() % 10'000'000;
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) EXPECT_EQ(a.percentile(p), all.percentile(p)) << p;
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(histogram{}.percentile(99), 0u);
}

TEST(Sequence, CountsReorderedAndDuplicated) {
  sequence_tracker t;
  using a = sequence_tracker::arrival;
  EXPECT_EQ(t.record(0), a::in_order);
  EXPECT_EQ(t.record(2), a::in_order);  // 1 is late
  EXPECT_EQ(t.record(1), a::reordered);
  EXPECT_EQ(t.record(2), a::duplicate);
  EXPECT_EQ(t.record(200), a::in_order);  // the bitmap grows
  EXPECT_EQ(t.received(), 5u);
  EXPECT_EQ(t.distinct(), 4u);
  EXPECT_EQ(t.duplicates(), 1u);
  EXPECT_EQ(t.reordered(), 1u);
  EXPECT_EQ(t.highest_plus_one(), 201u);
}

TEST(Sequence, SharedGroupMembersMergeIntoOneReceiver) {
  sequence_tracker x, y;
  for (std::uint64_t i = 0; i < 100; ++i) (i % 2 ? x : y).record(i);
  y.record(51);  // a redelivery to the other member
  const std::array<const sequence_tracker*, 2> members{&x, &y};
  const auto m = merge(members);
  EXPECT_EQ(m.received, 101u);
  EXPECT_EQ(m.distinct, 100u);
  EXPECT_EQ(m.duplicates, 1u);
  EXPECT_EQ(m.reordered, 1u);  // 51 after y had seen 98
}

TEST(Stamp, RoundTripsAndRefusesShortPayloads) {
  std::array<std::byte, 64> payload{};
  write_stamp(payload.data(), {.stream = 0xA1B2C3D4, .seq = 0x0102030405060708ull, .sent_ns = ~0ull - 5});
  const auto s = read_stamp(payload);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stream, 0xA1B2C3D4u);
  EXPECT_EQ(s->seq, 0x0102030405060708ull);
  EXPECT_EQ(s->sent_ns, ~0ull - 5);
  EXPECT_EQ(payload[0], std::byte{0xD4});  // little-endian
  EXPECT_FALSE(read_stamp(bytes_view(payload).first(stamp_size - 1)));
}

TEST(Options, CountsAndChecks) {
  options o;
  o.scenario = scenario::fan_in;
  o.publishers = 8;
  EXPECT_EQ(o.publisher_count(), 8u);
  EXPECT_EQ(o.subscriber_count(), 1u);
  EXPECT_EQ(o.check(), "");
  o.size = 10;
  EXPECT_NE(o.check().find("at least 20"), std::string::npos);
  o.size = 64;
  o.scenario = scenario::shared;
  o.subscribers = 4;
  EXPECT_EQ(o.connection_count(), 12u);
  o.scenario = scenario::idle;
  o.connections = 1000;
  EXPECT_EQ(o.publisher_count(), 0u);
  EXPECT_EQ(o.connection_count(), 1000u);
  o.version = protocol_version::v3_1;
  EXPECT_FALSE(o.check().empty());
  EXPECT_EQ(parse_scenario("fan-out"), scenario::fan_out);
  EXPECT_FALSE(parse_scenario("fanout"));
}

TEST(Report, JsonHasTheFiguresAndParameters) {
  report r;
  r.options.scenario = scenario::fan_in;
  r.options.publishers = 8;
  r.options.qos = qos::at_least_once;
  r.options.broker_pid = 1;
  r.connections = 9;
  r.sent = r.expected = r.received = r.received_in_run = 1000;
  r.duration_s = 2;
  r.cpu_user_s = 1;
  r.cpu_system_s = 0.5;
  r.broker_rss_before_kib = 1000;
  r.broker_rss_after_kib = 1900;
  for (int i = 1; i <= 1000; ++i) r.latency.record(static_cast<std::uint64_t>(i) * 1000);
  const auto j = to_json(r);
  EXPECT_EQ(j.find('\n'), std::string::npos);
  for (const char* field : {R"("scenario":"fan-in")", R"("qos":1)", R"("publishers":8)", R"("lost":0)",
                            R"("msgs_per_s":500.0)", R"("cores":0.75)", R"("kib_per_connection":100.0)",
                            R"("p50":50)", R"("ok":true)"})
    EXPECT_NE(j.find(field), std::string::npos) << field << " in " << j;
}

}  // namespace
}  // namespace tern::bench
