// Counts heap allocations around the PUBLISH decode and encode paths: the
// decoder may allocate the one block it copies the body into, and nothing
// else (a packet split across reads: also the part that holds it meanwhile);
// between packets it holds no heap memory; encoding into a warmed
// write_buffer allocates nothing, and an empty one holds nothing.
#include <gtest/gtest.h>

#include "support/heap_counter.hpp"
#include "support/hex.hpp"
#include "tern/codec/codec.hpp"

namespace tern {
namespace {

using test::heap::count;

// Blocks allocated and not freed while `f` runs.
long live(auto&& f) {
  long before = test::heap::live_blocks();
  f();
  return test::heap::live_blocks() - before;
}

std::vector<std::byte> publish_64(protocol_version v, bool with_props) {
  publish_packet p("sensors/kitchen/temperature", shared_bytes::copy(std::string(64, 'x')), qos::at_least_once);
  p.packet_id = 1;
  if (with_props)
    p.set_props(properties::builder{}.add<property_id::message_expiry_interval>(60).user_property("k", "v").build());
  return encode(p, v);
}

TEST(Allocations, DecodingAPublishAllocatesOnlyItsBody) {
  for (auto v : {protocol_version::v3_1_1, protocol_version::v5}) {
    for (bool props : {false, true}) {
      auto bytes = publish_64(v, props);
      decoder d({v});
      std::optional<packet> got;
      long n = count([&] {
        bytes_view in(bytes);
        auto r = d.next(in);
        ASSERT_TRUE(r && *r);
        got.emplace(std::move(**r));
      });
      EXPECT_EQ(n, 1) << "version " << static_cast<int>(v) << " props " << props;
      // Split in two: the body block, and the part that holds the packet
      // between the reads (so that an idle decoder holds nothing), freed
      // when the packet completes.
      decoder d2({v});
      n = count([&] {
        bytes_view a(bytes.data(), 10), b(bytes.data() + 10, bytes.size() - 10);
        ASSERT_TRUE(d2.next(a));
        auto r = d2.next(b);
        ASSERT_TRUE(r && *r);
      });
      EXPECT_EQ(n, 2);
      // Many whole packets in one read: one block each, nothing more.
      std::vector<std::byte> many;
      for (int i = 0; i < 8; ++i) many.insert(many.end(), bytes.begin(), bytes.end());
      decoder d3({v});
      packet out;
      n = count([&] {
        bytes_view in(many);
        while (!in.empty()) ASSERT_TRUE(d3.next(in, out));
      });
      EXPECT_EQ(n, 8);
    }
  }
}

TEST(Allocations, ADecoderBetweenPacketsHoldsNothing) {
  auto bytes = publish_64(protocol_version::v5, true);
  decoder d({protocol_version::v5});
  packet out;
  // Measured with the decoder alive: whole, then split at every byte.
  long n = live([&] {
    bytes_view in(bytes);
    ASSERT_TRUE(d.next(in, out));
    for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
      bytes_view a(bytes.data(), cut), b(bytes.data() + cut, bytes.size() - cut);
      auto r = d.next(a, out);
      ASSERT_TRUE(r && !*r);
      EXPECT_EQ(d.buffered(), cut);
      r = d.next(b, out);
      ASSERT_TRUE(r && *r);
      EXPECT_EQ(d.buffered(), 0u);
    }
    out = packet{};  // the last packet's body block
  });
  EXPECT_EQ(n, 0);
}

TEST(Allocations, EncodingIntoAWarmWriteBufferAllocatesNothing) {
  auto bytes = publish_64(protocol_version::v5, true);
  auto p = std::get<publish_packet>(*decode(bytes, protocol_version::v5));
  write_buffer out;
  for (int i = 0; i < 4; ++i) out.append(p, protocol_version::v5);
  (void)out.buffers();
  out.clear();
  long n = count([&] {
    for (int i = 0; i < 4; ++i) out.append(p, protocol_version::v5);
    (void)out.buffers();
    out.clear();
  });
  EXPECT_EQ(n, 0);
}

TEST(Allocations, DecodingAcknowledgementsAllocatesNothing) {
  // PUBACK, PUBREC, PUBREL, PUBCOMP of 2-4 bytes: the broker reads one per
  // QoS 1/2 delivery. Whole, and fed one byte at a time.
  for (auto v : {protocol_version::v3_1_1, protocol_version::v5}) {
    std::vector<std::vector<std::byte>> acks{encode(puback_packet{7, reason::success, {}, {}}, v),
                                             encode(pubrec_packet{8, reason::success, {}, {}}, v),
                                             encode(pubrel_packet{9, reason::success, {}, {}}, v),
                                             encode(pubcomp_packet{10, reason::success, {}, {}}, v)};
    if (v == protocol_version::v5) acks.push_back(encode(puback_packet{11, reason::no_matching_subscribers, {}, {}}, v));
    decoder d({v});
    packet out;
    bytes_view warm(acks[0]);
    ASSERT_TRUE(d.next(warm, out));
    for (const auto& bytes : acks) {
      long n = count([&] {
        bytes_view in(bytes);
        auto r = d.next(in, out);
        ASSERT_TRUE(r && *r);
      });
      EXPECT_EQ(n, 0) << "whole, version " << static_cast<int>(v) << ", " << bytes.size() << " bytes";
      n = count([&] {
        bool done = false;
        for (std::size_t i = 0; i < bytes.size(); ++i) {
          bytes_view in(bytes.data() + i, 1);
          auto r = d.next(in, out);
          ASSERT_TRUE(r);
          done = *r;
        }
        EXPECT_TRUE(done);
      });
      EXPECT_EQ(n, 0) << "byte by byte, version " << static_cast<int>(v);
    }
  }
}

TEST(Allocations, EmptyWriteBuffersHoldNothing) {
  auto bytes = publish_64(protocol_version::v5, false);
  auto p = std::get<publish_packet>(*decode(bytes, protocol_version::v5));
  long n = count([&] {
    write_buffer a;
    write_buffer b(std::move(a));
    a = write_buffer{};
    std::swap(a, b);
    EXPECT_TRUE(a.empty() && b.empty());
    EXPECT_TRUE(a.buffers().empty());
  });
  EXPECT_EQ(n, 0);
  n = live([&] {
    write_buffer out;
    out.append(p, protocol_version::v5);
    write_buffer taken;
    std::swap(taken, out);  // as a network layer takes a connection's output
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(taken.size(), bytes.size());
  });
  EXPECT_EQ(n, 0);
}

TEST(Allocations, TheCounterCounts) {
  // Through a volatile pointer: a new/delete pair the optimizer can see may
  // be elided.
  static int* volatile p = nullptr;
  long n = count([] {
    p = new int(3);
    delete p;
  });
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace tern
