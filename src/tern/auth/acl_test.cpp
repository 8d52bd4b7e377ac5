#include "tern/auth/acl.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace tern::auth {
namespace {

constexpr auto R = access::read;
constexpr auto W = access::write;
constexpr auto S = access::subscribe;

acl make(std::string_view text) {
  auto a = acl::parse(text, "acl");
  EXPECT_TRUE(a) << a.error().message;
  return a ? std::move(*a) : acl{};
}

TEST(AclParse, ReadsMosquittosSyntax) {
  const auto a = make(
      "# comment\n"
      "\n"
      "topic read public/#\n"
      "   # indented comment\n"
      "topic    pub/x\n"
      "user alice\n"
      "topic readwrite alice/#\n"
      "topic deny alice/secret\n"
      "pattern write devices/%c/state\r\n"
      "user bob smith\n"
      "topic write a topic with spaces\n"
      "user alice\n"
      "topic read more/#\n");
  ASSERT_EQ(a.anonymous_rules().size(), 2u);
  EXPECT_EQ(a.anonymous_rules()[0].filter, "public/#");
  EXPECT_EQ(a.anonymous_rules()[0].what, acl::grant::read);
  EXPECT_EQ(a.anonymous_rules()[1].filter, "pub/x");
  EXPECT_EQ(a.anonymous_rules()[1].what, acl::grant::readwrite);
  ASSERT_NE(a.user_rules("alice"), nullptr);
  EXPECT_EQ(a.user_rules("alice")->size(), 3u);  // two sections, merged
  ASSERT_NE(a.user_rules("bob smith"), nullptr);
  EXPECT_EQ(a.user_rules("bob smith")->front().filter, "a topic with spaces");
  ASSERT_EQ(a.patterns().size(), 1u);
  EXPECT_EQ(a.patterns()[0].filter, "devices/%c/state");
  EXPECT_EQ(a.patterns()[0].line, 9u);
}

TEST(AclParse, RefusesEveryBadLineByFileAndLine) {
  const auto a = acl::parse(
      "topic read ok/#\n"
      "topik read a\n"
      "topic reed a/b\n"
      "topic\n"
      "user\n"
      "topic read a/#/b\n"
      "pattern deny +x\n",
      "/etc/acl");
  ASSERT_FALSE(a);
  const auto& m = a.error().message;
  EXPECT_NE(m.find("/etc/acl:2: unknown keyword \"topik\""), std::string::npos) << m;
  EXPECT_NE(m.find("/etc/acl:3: unknown access \"reed\""), std::string::npos) << m;
  EXPECT_NE(m.find("/etc/acl:4: \"topic\" without a topic filter"), std::string::npos) << m;
  EXPECT_NE(m.find("/etc/acl:5: \"user\" without a user name"), std::string::npos) << m;
  EXPECT_NE(m.find("/etc/acl:6: invalid topic filter \"a/#/b\""), std::string::npos) << m;
  EXPECT_NE(m.find("/etc/acl:7: invalid topic filter \"+x\""), std::string::npos) << m;
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 5) << m;
}

TEST(AclAllowed, SectionsByUserName) {
  const auto a = make(
      "topic read public/#\n"
      "user alice\n"
      "topic readwrite alice/#\n"
      "topic read news\n"
      "user bob\n"
      "topic write bob/in\n");
  // Anonymous clients: the lines before any "user".
  EXPECT_TRUE(a.allowed(std::nullopt, "c", "public/x", R));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "public/x", W));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "alice/x", R));
  // A user gets their section only, not the anonymous lines.
  EXPECT_TRUE(a.allowed("alice", "c", "alice/x/y", W));
  EXPECT_TRUE(a.allowed("alice", "c", "alice", R));
  EXPECT_TRUE(a.allowed("alice", "c", "news", R));
  EXPECT_FALSE(a.allowed("alice", "c", "news", W));
  EXPECT_FALSE(a.allowed("alice", "c", "public/x", R));
  EXPECT_TRUE(a.allowed("bob", "c", "bob/in", W));
  EXPECT_FALSE(a.allowed("bob", "c", "bob/in", R));
  // A user without a section gets nothing.
  EXPECT_FALSE(a.allowed("carol", "c", "public/x", R));
  EXPECT_FALSE(a.allowed("", "c", "public/x", R));
}

TEST(AclAllowed, DenyWins) {
  const auto a = make(
      "user alice\n"
      "topic readwrite #\n"
      "topic deny secret/#\n"
      "topic read $SYS/#\n"
      "pattern deny private/%u/#\n"
      "pattern readwrite private/#\n");
  EXPECT_TRUE(a.allowed("alice", "c", "x/y", W));
  EXPECT_FALSE(a.allowed("alice", "c", "secret", R));
  EXPECT_FALSE(a.allowed("alice", "c", "secret/x", W));
  // A pattern's deny beats the user's grant (mosquitto 2.0 would grant).
  EXPECT_FALSE(a.allowed("alice", "c", "private/alice/x", R));
  EXPECT_TRUE(a.allowed("alice", "c", "private/bob/x", R));
  // '#' does not reach topics starting with '$'.
  EXPECT_TRUE(a.allowed("alice", "c", "$SYS/broker/load", R));
  EXPECT_FALSE(a.allowed("alice", "c", "$SYS/broker/load", W));
  EXPECT_FALSE(a.allowed("alice", "c", "$other", R));
}

TEST(AclAllowed, PatternsSubstituteClientIdAndUserName) {
  const auto a = make(
      "pattern readwrite devices/%c/#\n"
      "pattern read users/%u/inbox\n"
      "pattern write log/%u/%c\n");
  EXPECT_TRUE(a.allowed(std::nullopt, "dev1", "devices/dev1/state", W));
  EXPECT_FALSE(a.allowed(std::nullopt, "dev1", "devices/dev2/state", W));
  // %u gives nothing to an anonymous client.
  EXPECT_FALSE(a.allowed(std::nullopt, "dev1", "users//inbox", R));
  EXPECT_FALSE(a.allowed(std::nullopt, "dev1", "users/%u/inbox", R));
  EXPECT_TRUE(a.allowed("alice", "dev1", "users/alice/inbox", R));
  EXPECT_FALSE(a.allowed("alice", "dev1", "users/alice/inbox", W));
  EXPECT_TRUE(a.allowed("alice", "dev1", "log/alice/dev1", W));
  EXPECT_FALSE(a.allowed("alice", "dev2", "log/alice/dev1", W));
  // Patterns apply to users with a section of their own too.
  const auto b = make("user alice\ntopic read a\npattern read users/%u/inbox\n");
  EXPECT_TRUE(b.allowed("alice", "x", "users/alice/inbox", R));
}

TEST(AclAllowed, WildcardsOrSlashesInIdsDoNotWidenPatterns) {
  const auto a = make(
      "topic read public\n"
      "user eve\n"
      "topic read public\n"
      "pattern readwrite devices/%c/#\n"
      "pattern readwrite users/%u\n");
  // '+' or '#' in a user name or client id: no pattern, only the client's
  // own section (mosquitto 2.0).
  EXPECT_FALSE(a.allowed(std::nullopt, "#", "devices/x/y", W));
  EXPECT_FALSE(a.allowed(std::nullopt, "+", "devices/x", W));
  EXPECT_FALSE(a.allowed(std::nullopt, "+", "devices/+/x", W));
  EXPECT_TRUE(a.allowed(std::nullopt, "a+", "public", R));
  EXPECT_FALSE(a.allowed("e#", "c", "public", R));  // no section of its own
  EXPECT_TRUE(a.allowed("eve", "c", "public", R));  // control: a harmless user name
  EXPECT_TRUE(a.allowed("eve", "c", "users/eve", W));
  EXPECT_FALSE(a.allowed("#", "c", "users/anything", W));
  EXPECT_FALSE(a.allowed("e+", "c", "users/e+", W));
  // '/' would reach into another client's part of the tree: no grant.
  EXPECT_TRUE(a.allowed(std::nullopt, "a", "devices/a/b/x", W));
  EXPECT_FALSE(a.allowed(std::nullopt, "a/b", "devices/a/b/x", W));
  EXPECT_FALSE(a.allowed("eve/x", "c", "users/eve/x", W));
  // ... but a deny pattern still applies as substituted.
  const auto d = make("topic readwrite #\npattern deny jail/%c/#\n");
  EXPECT_FALSE(d.allowed(std::nullopt, "a/b", "jail/a/b/x", W));
  EXPECT_TRUE(d.allowed(std::nullopt, "a/b", "jail/a/c", W));
}

TEST(AclAllowed, SubscribeNeedsAReadRuleCoveringTheFilter) {
  const auto a = make(
      "topic read sensors/#\n"
      "topic write cmd/+\n"
      "topic deny sensors/secret/#\n"
      "topic readwrite rooms/+/temp\n");
  EXPECT_TRUE(a.allowed(std::nullopt, "c", "sensors/#", S));
  EXPECT_TRUE(a.allowed(std::nullopt, "c", "sensors/+/x", S));
  EXPECT_TRUE(a.allowed(std::nullopt, "c", "sensors", S));
  EXPECT_TRUE(a.allowed(std::nullopt, "c", "rooms/+/temp", S));
  EXPECT_TRUE(a.allowed(std::nullopt, "c", "rooms/kitchen/temp", S));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "rooms/#", S));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "#", S));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "cmd/x", S));  // write only
  // Inside a deny: refused; overlapping one: accepted, the deny applies per message.
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "sensors/secret/x", S));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "sensors/secret/#", S));
  EXPECT_TRUE(a.allowed(std::nullopt, "c", "sensors/+/x", S));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "sensors/secret/x", R));
  // A shared subscription is judged by its filter.
  EXPECT_TRUE(a.allowed(std::nullopt, "c", "$share/g/sensors/a", S));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "$share/g/cmd/a", S));
  EXPECT_FALSE(a.allowed(std::nullopt, "c", "$share/g", S));
}

TEST(Covers, FollowsTopicMatching) {
  EXPECT_TRUE(covers("#", "#"));
  EXPECT_TRUE(covers("#", "a/+/b"));
  EXPECT_FALSE(covers("#", "$SYS/#"));
  EXPECT_FALSE(covers("+/x", "$SYS/x"));
  EXPECT_TRUE(covers("$SYS/#", "$SYS/+"));
  EXPECT_TRUE(covers("a/#", "a"));
  EXPECT_TRUE(covers("a/#", "a/b/#"));
  EXPECT_FALSE(covers("a/+", "a"));
  EXPECT_FALSE(covers("a/+", "a/#"));
  EXPECT_FALSE(covers("a/+", "a/b/c"));
  EXPECT_TRUE(covers("a/+", "a/+"));
  EXPECT_TRUE(covers("a/+/+", "a/b/+"));
  EXPECT_FALSE(covers("a/b", "a/+"));
  EXPECT_TRUE(covers("a/b", "a/b"));
  EXPECT_FALSE(covers("a/b", "a/b/c"));
  EXPECT_TRUE(covers("+", ""));
  EXPECT_TRUE(covers("a/", "a/"));
  EXPECT_TRUE(covers("a/+", "a/"));
}

TEST(DecisionCache, RemembersPerTopicAndAccess) {
  decision_cache c(2);
  EXPECT_FALSE(c.find("a", R));
  c.insert("a", R, true);
  c.insert("a", W, false);
  EXPECT_EQ(c.find("a", R), true);
  EXPECT_EQ(c.find("a", W), false);
  EXPECT_FALSE(c.find("a", S));
  c.insert("a", R, false);
  EXPECT_EQ(c.find("a", R), false);
  c.insert("b", R, true);
  EXPECT_EQ(c.size(), 2u);
  c.insert("c", R, true);  // past capacity: starts again
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.find("c", R), true);
  EXPECT_FALSE(c.find("a", W));
}

TEST(DecisionCache, AnswersLikeTheAcl) {
  const auto a = make("topic read a/#\npattern write w/%c\n");
  decision_cache c;
  for (int round = 0; round < 2; ++round) {
    EXPECT_TRUE(allowed(a, c, std::nullopt, "x", "a/b", R));
    EXPECT_FALSE(allowed(a, c, std::nullopt, "x", "a/b", W));
    EXPECT_TRUE(allowed(a, c, std::nullopt, "x", "w/x", W));
    EXPECT_FALSE(allowed(a, c, std::nullopt, "x", "w/y", W));
  }
  EXPECT_EQ(c.size(), 3u);
}

}  // namespace
}  // namespace tern::auth
