// Round trip of every sample packet in every version it exists in, and the
// "parsegrind": every encoding decoded again split at every byte offset.
#include <gtest/gtest.h>

#include "support/packet_samples.hpp"
#include "tern/codec/codec.hpp"

namespace tern {
namespace {

using testing::packet_samples;
using testing::sample;

class RoundTrip : public ::testing::TestWithParam<sample> {};

std::string sample_name(const ::testing::TestParamInfo<sample>& info) {
  std::string v(name(info.param.version));
  for (auto& ch : v)
    if (ch == '.') ch = '_';
  return info.param.name + "_v" + v;
}

TEST_P(RoundTrip, EncodeDecodeEncodeIsIdentical) {
  const auto& s = GetParam();
  auto bytes = encode(s.pkt, s.version);
  ASSERT_EQ(bytes.size(), encoded_size(s.pkt, s.version));
  auto decoded = decode(bytes, s.version);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_TRUE(*decoded == s.pkt);
  EXPECT_EQ(encode(*decoded, s.version), bytes);
}

TEST_P(RoundTrip, DecodesSplitAtEveryOffset) {
  const auto& s = GetParam();
  auto bytes = encode(s.pkt, s.version);
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    decoder d({s.version});
    bytes_view first(bytes.data(), cut), second(bytes.data() + cut, bytes.size() - cut);
    auto r1 = d.next(first);
    ASSERT_TRUE(r1) << "cut " << cut << ": " << r1.error().message();
    ASSERT_TRUE(first.empty());
    if (cut == bytes.size()) {
      ASSERT_TRUE(*r1) << "cut " << cut;
      EXPECT_TRUE(**r1 == s.pkt);
      continue;
    }
    ASSERT_FALSE(*r1) << "a packet before its last byte, cut " << cut;
    auto r2 = d.next(second);
    ASSERT_TRUE(r2) << "cut " << cut << ": " << r2.error().message();
    ASSERT_TRUE(*r2) << "cut " << cut;
    EXPECT_TRUE(second.empty());
    EXPECT_TRUE(**r2 == s.pkt) << "cut " << cut;
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST_P(RoundTrip, DecodesOneByteAtATime) {
  const auto& s = GetParam();
  auto bytes = encode(s.pkt, s.version);
  decoder d({s.version});
  std::optional<packet> got;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes_view one(bytes.data() + i, 1);
    auto r = d.next(one);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->has_value(), i + 1 == bytes.size());
    if (*r) got = std::move(**r);
  }
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == s.pkt);
}

TEST_P(RoundTrip, WriteBufferProducesTheSameBytes) {
  const auto& s = GetParam();
  write_buffer out;
  out.append(s.pkt, s.version);
  out.append(s.pkt, s.version);
  std::vector<std::byte> joined;
  for (auto b : out.buffers()) joined.insert(joined.end(), b.begin(), b.end());
  auto one = encode(s.pkt, s.version);
  ASSERT_EQ(joined.size(), 2 * one.size());
  EXPECT_EQ(out.size(), joined.size());
  EXPECT_TRUE(std::equal(one.begin(), one.end(), joined.begin()));
  EXPECT_TRUE(std::equal(one.begin(), one.end(), joined.begin() + static_cast<std::ptrdiff_t>(one.size())));
}

INSTANTIATE_TEST_SUITE_P(Samples, RoundTrip, ::testing::ValuesIn(packet_samples()), sample_name);

TEST(RoundTripStream, ManyPacketsInOneBuffer) {
  for (auto v : {protocol_version::v3_1, protocol_version::v3_1_1, protocol_version::v5}) {
    std::vector<std::byte> stream;
    std::vector<packet> sent;
    for (const auto& s : packet_samples()) {
      if (s.version != v) continue;
      auto b = encode(s.pkt, v);
      stream.insert(stream.end(), b.begin(), b.end());
      sent.push_back(s.pkt);
    }
    decoder d({v});
    bytes_view in(stream);
    std::vector<packet> got;
    while (!in.empty()) {
      auto r = d.next(in);
      ASSERT_TRUE(r) << r.error().message();
      if (*r) got.push_back(std::move(**r));
    }
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i] == sent[i]) << i;
  }
}

}  // namespace
}  // namespace tern
