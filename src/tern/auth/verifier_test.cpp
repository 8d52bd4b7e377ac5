#include "tern/auth/verifier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tern::auth {
namespace {

password_file users() {
  hash_options o;
  o.iterations = 50;
  password_file f;
  EXPECT_TRUE(f.set("alice", "wonderland", o));
  EXPECT_TRUE(f.set("bob", "builder", o));
  return f;
}

TEST(Verifier, HashesOnceThenRemembers) {
  verifier v(users());
  EXPECT_TRUE(v.verify("alice", "wonderland"));
  EXPECT_EQ(v.stats().hashed, 1u);
  EXPECT_TRUE(v.verify("alice", "wonderland"));
  EXPECT_EQ(v.stats().hashed, 1u);
  EXPECT_EQ(v.stats().remembered, 1u);
}

TEST(Verifier, ARememberedUserStillNeedsTheRightPassword) {
  verifier v(users());
  ASSERT_TRUE(v.verify("alice", "wonderland"));
  EXPECT_FALSE(v.verify("alice", "wonderlan"));
  EXPECT_FALSE(v.verify("alice", ""));
  EXPECT_FALSE(v.verify("alicewonderland", ""));  // not the same key as ("alice", "wonderland")
  EXPECT_FALSE(v.verify("alicew", "onderland"));
  EXPECT_EQ(v.stats().remembered, 0u);
}

TEST(Verifier, FailuresAreNotRemembered) {
  verifier v(users());
  EXPECT_FALSE(v.verify("alice", "x"));
  EXPECT_FALSE(v.verify("alice", "x"));
  EXPECT_EQ(v.stats().hashed, 2u);
  EXPECT_FALSE(v.verify("nobody", "x"));
}

TEST(Verifier, ReplaceForgetsEverything) {
  verifier v(users());
  ASSERT_TRUE(v.verify("alice", "wonderland"));
  password_file f = users();
  EXPECT_TRUE(f.remove("alice"));
  v.replace(std::move(f));
  EXPECT_FALSE(v.verify("alice", "wonderland"));
  EXPECT_TRUE(v.verify("bob", "builder"));
}

TEST(Verifier, ForgetsTheLeastRecentlyUsed) {
  verifier v(users(), 1);
  ASSERT_TRUE(v.verify("alice", "wonderland"));
  ASSERT_TRUE(v.verify("bob", "builder"));
  ASSERT_TRUE(v.verify("alice", "wonderland"));
  EXPECT_EQ(v.stats().hashed, 3u);
  ASSERT_TRUE(v.verify("alice", "wonderland"));
  EXPECT_EQ(v.stats().hashed, 3u);
}

TEST(Verifier, ManyThreadsAtOnce) {
  verifier v(users(), 8);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (!v.verify(t % 2 ? "alice" : "bob", t % 2 ? "wonderland" : "builder")) ++wrong;
        if (v.verify("alice", "nope")) ++wrong;
        if (i % 10 == 0) v.replace(users());
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace tern::auth
