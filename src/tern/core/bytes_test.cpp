#include "tern/core/bytes.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(SharedBytes, CopiesOnceAndSharesAfter) {
  auto a = shared_bytes::copy("hello world");
  EXPECT_EQ(a.view(), "hello world");
  auto b = a;
  auto c = a.slice(6, 5);
  EXPECT_EQ(c.view(), "world");
  EXPECT_EQ(c.data(), a.data() + 6);
  EXPECT_EQ(a.use_count(), 3);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == c);
}

TEST(SharedBytes, EmptyOwnsNothing) {
  auto e = shared_bytes::copy("");
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.use_count(), 0);
  EXPECT_EQ(e, shared_bytes{});
}

TEST(SharedBytes, ShareViewsPartOfTheBlock) {
  auto a = shared_bytes::copy("topic/payload");
  auto p = a.share(a.span().subspan(6));
  EXPECT_EQ(p.view(), "payload");
  EXPECT_EQ(a.use_count(), 2);
}

}  // namespace
}  // namespace tern
