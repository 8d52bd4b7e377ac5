#include "tern/topic/topic.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tern::topic {
namespace {

using namespace std::string_literals;

// Asserts that `e` is an error with reason `r` whose detail names `rule`.
::testing::AssertionResult refused(const std::optional<error>& e, reason r, std::string_view rule) {
  if (!e) return ::testing::AssertionFailure() << "accepted";
  if (e->code != make_error_code(r)) return ::testing::AssertionFailure() << "wrong reason: " << e->code.message();
  if (e->detail.find(rule) == std::string_view::npos)
    return ::testing::AssertionFailure() << "detail \"" << e->detail << "\" does not name " << rule;
  return ::testing::AssertionSuccess();
}
::testing::AssertionResult bad_name(std::string_view name, std::string_view rule) {
  return refused(validate_name(name), reason::topic_name_invalid, rule);
}
::testing::AssertionResult bad_filter(std::string_view filter, std::string_view rule) {
  return refused(validate_filter(filter), reason::topic_filter_invalid, rule);
}

// ---- Topic Names -----------------------------------------------------------

TEST(ValidateName, AcceptsNamesOfSection4_7) {
  for (std::string_view n : {"sport/tennis/player1", "sport/tennis/player1/ranking", "sport", "sport/", "/finance",
                             "finance", "/", "//", "a//b", "$SYS/monitor/Clients", "ACCOUNTS", "Accounts",
                             "sport tennis", "caf\xC3\xA9/\xF0\x9F\x98\x80", "$share/group/x"})
    EXPECT_FALSE(validate_name(n)) << n;
  EXPECT_FALSE(validate_name(std::string(max_length, 'a')));
}

TEST(ValidateName, RefusesEmptyName) { EXPECT_TRUE(bad_name("", "MQTT-4.7.3-1")); }

TEST(ValidateName, RefusesWildcards) {
  EXPECT_TRUE(bad_name("sport/+", "MQTT-3.3.2-2"));
  EXPECT_TRUE(bad_name("sport/#", "MQTT-3.3.2-2"));
  EXPECT_TRUE(bad_name("a+b", "MQTT-4.7.0-1"));
  EXPECT_TRUE(bad_name("#", "MQTT-3.3.2-2"));
}

TEST(ValidateName, RefusesMoreThan65535Bytes) {
  EXPECT_TRUE(bad_name(std::string(max_length + 1, 'a'), "MQTT-4.7.3-3"));
}

TEST(ValidateName, RefusesNullCharacter) { EXPECT_TRUE(bad_name("a\0b"s, "MQTT-4.7.3-2")); }

TEST(ValidateName, RefusesIllFormedUtf8) {
  EXPECT_TRUE(bad_name("a/\xC3", "MQTT-1.5.4-1"));          // truncated sequence
  EXPECT_TRUE(bad_name("a/\xC0\xAF", "MQTT-1.5.4-1"));      // overlong '/'
  EXPECT_TRUE(bad_name("a/\xED\xA0\x80", "MQTT-1.5.4-1"));  // UTF-16 surrogate
}

// ---- Topic Filters ---------------------------------------------------------

TEST(ValidateFilter, AcceptsFiltersOfSection4_7) {
  for (std::string_view f :
       {"sport/tennis/player1/#", "sport/#", "#", "sport/tennis/#", "+", "+/tennis/#", "sport/+/player1", "+/+", "/+",
        "sport/+", "/#", "+/#", "a//b", "/", "$SYS/#", "$SYS/monitor/+", "sport tennis", "$share", "$sharex/a",
        "$share/consumer1/sport/tennis/+", "$share/consumer2/sport/tennis/+", "$share/consumer1//finance",
        "$share/g/#", "$share/g/+", "$share/g/$share/h/x"})
    EXPECT_FALSE(validate_filter(f)) << f;
  EXPECT_FALSE(validate_filter(std::string(max_length - 2, 'a') + "/#"));
}

TEST(ValidateFilter, RefusesEmptyFilter) { EXPECT_TRUE(bad_filter("", "MQTT-4.7.3-1")); }

TEST(ValidateFilter, RefusesMoreThan65535Bytes) {
  EXPECT_TRUE(bad_filter(std::string(max_length - 1, 'a') + "/#", "MQTT-4.7.3-3"));
}

TEST(ValidateFilter, RefusesNullCharacter) { EXPECT_TRUE(bad_filter("a/\0/#"s, "MQTT-4.7.3-2")); }

TEST(ValidateFilter, RefusesIllFormedUtf8) {
  EXPECT_TRUE(bad_filter("a/\xFF/+", "MQTT-1.5.4-1"));
  EXPECT_TRUE(bad_filter("\xED\xBF\xBF/#", "MQTT-1.5.4-1"));  // U+DFFF
}

TEST(ValidateFilter, RefusesMultiLevelWildcardNotLast) {
  for (std::string_view f : {"sport/tennis/#/ranking", "#/a", "a/#/", "##", "a/##"})
    EXPECT_TRUE(bad_filter(f, "MQTT-4.7.1-1 (3.1.1: MQTT-4.7.1-2): '#' not last")) << f;
}

TEST(ValidateFilter, RefusesMultiLevelWildcardSharingItsLevel) {
  for (std::string_view f : {"sport/tennis#", "a#", "a/b#", "/x#"})
    EXPECT_TRUE(bad_filter(f, "MQTT-4.7.1-1 (3.1.1: MQTT-4.7.1-2)")) << f;
}

TEST(ValidateFilter, RefusesSingleLevelWildcardSharingItsLevel) {
  for (std::string_view f :
       {"sport+", "+sport", "sport/+tennis", "sport/te+nnis", "+/ten+", "++", "a/++/b", "+#/a", "+#", "a/+#"})
    EXPECT_TRUE(bad_filter(f, "MQTT-4.7.1-2 (3.1.1: MQTT-4.7.1-3)")) << f;
}

TEST(ValidateFilter, RefusesEmptyShareName) {
  EXPECT_TRUE(bad_filter("$share//sport", "MQTT-4.8.2-1"));
  EXPECT_TRUE(bad_filter("$share/", "MQTT-4.8.2-1"));
}

TEST(ValidateFilter, RefusesWildcardInShareName) {
  EXPECT_TRUE(bad_filter("$share/g+/sport", "MQTT-4.8.2-2"));
  EXPECT_TRUE(bad_filter("$share/+/sport", "MQTT-4.8.2-2"));
  EXPECT_TRUE(bad_filter("$share/#/sport", "MQTT-4.8.2-2"));
  EXPECT_TRUE(bad_filter("$share/#", "MQTT-4.8.2-2"));
}

TEST(ValidateFilter, RefusesShareNameWithoutFilter) {
  EXPECT_TRUE(bad_filter("$share/group", "MQTT-4.8.2-2"));
  EXPECT_TRUE(bad_filter("$share/group/", "MQTT-4.8.2-2"));
}

TEST(ValidateFilter, RefusesInvalidFilterAfterShareName) {
  EXPECT_TRUE(bad_filter("$share/g/sport#", "MQTT-4.7.1-1"));
  EXPECT_TRUE(bad_filter("$share/g/#/a", "MQTT-4.7.1-1"));
  EXPECT_TRUE(bad_filter("$share/g/a+", "MQTT-4.7.1-2"));
  EXPECT_TRUE(bad_filter("$share/g/\xC3", "MQTT-1.5.4-1"));
}

TEST(HasWildcard, FindsPlusAndHash) {
  EXPECT_FALSE(has_wildcard("sport/tennis"));
  EXPECT_FALSE(has_wildcard("$share/g/a"));
  EXPECT_TRUE(has_wildcard("sport/+"));
  EXPECT_TRUE(has_wildcard("#"));
  EXPECT_TRUE(has_wildcard("$share/g/+/x"));
}

// ---- Matching: the examples of MQTT 5.0 section 4.7 --------------------------

TEST(Matches, MultiLevelWildcard) {
  // 4.7.1.2
  EXPECT_TRUE(matches("sport/tennis/player1/#", "sport/tennis/player1"));
  EXPECT_TRUE(matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  EXPECT_TRUE(matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
  EXPECT_TRUE(matches("sport/tennis/player1/#", "sport/tennis/player1/"));
  EXPECT_FALSE(matches("sport/tennis/player1/#", "sport/tennis/player2"));
  EXPECT_FALSE(matches("sport/tennis/player1/#", "sport/tennis"));
  EXPECT_TRUE(matches("sport/#", "sport"));  // '#' includes the parent level
  EXPECT_TRUE(matches("sport/#", "sport/"));
  EXPECT_FALSE(matches("sport/#", "sports"));
  EXPECT_FALSE(matches("sport/#", "/sport"));
  EXPECT_TRUE(matches("#", "sport"));
  EXPECT_TRUE(matches("#", "sport/tennis/player1"));
  EXPECT_TRUE(matches("#", "/"));
  EXPECT_TRUE(matches("/#", "/finance"));
  EXPECT_TRUE(matches("/#", "/"));
  EXPECT_FALSE(matches("/#", "finance"));
}

TEST(Matches, SingleLevelWildcard) {
  // 4.7.1.3
  EXPECT_TRUE(matches("sport/tennis/+", "sport/tennis/player1"));
  EXPECT_TRUE(matches("sport/tennis/+", "sport/tennis/player2"));
  EXPECT_FALSE(matches("sport/tennis/+", "sport/tennis/player1/ranking"));
  EXPECT_FALSE(matches("sport/+", "sport"));
  EXPECT_TRUE(matches("sport/+", "sport/"));
  EXPECT_TRUE(matches("sport/+/player1", "sport/tennis/player1"));
  EXPECT_FALSE(matches("sport/+/player1", "sport/tennis/player2"));
  EXPECT_TRUE(matches("+/tennis/#", "sport/tennis/player1/ranking"));
  EXPECT_TRUE(matches("+/tennis/#", "sport/tennis"));
  EXPECT_TRUE(matches("+", "finance"));
  EXPECT_FALSE(matches("+", "/finance"));  // "/finance" has two levels
  EXPECT_TRUE(matches("+/+", "/finance"));
  EXPECT_TRUE(matches("/+", "/finance"));
  EXPECT_FALSE(matches("/+", "finance"));
  EXPECT_TRUE(matches("+", ""));  // a lone empty level (not a valid name, but defined)
  EXPECT_TRUE(matches("+/+", "/"));
}

TEST(Matches, TopicsBeginningWithDollar) {
  // 4.7.2, MQTT-4.7.2-1
  EXPECT_FALSE(matches("#", "$SYS/monitor/Clients"));
  EXPECT_FALSE(matches("#", "$SYS"));
  EXPECT_FALSE(matches("+/monitor/Clients", "$SYS/monitor/Clients"));
  EXPECT_FALSE(matches("+/monitor", "$SYS/monitor"));
  EXPECT_FALSE(matches("+", "$SYS"));
  EXPECT_FALSE(matches("+/#", "$SYS/x"));
  EXPECT_TRUE(matches("$SYS/#", "$SYS/monitor/Clients"));
  EXPECT_TRUE(matches("$SYS/#", "$SYS"));
  EXPECT_TRUE(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
  EXPECT_TRUE(matches("$SYS/monitor/Clients", "$SYS/monitor/Clients"));
  EXPECT_TRUE(matches("a/+", "a/$b"));  // only the first level is special
  EXPECT_TRUE(matches("#", "a/$b"));
}

TEST(Matches, LevelsAreComparedExactly) {
  // 4.7.3: case-sensitive, no normalisation, leading and trailing '/' count.
  EXPECT_FALSE(matches("ACCOUNTS", "Accounts"));
  EXPECT_TRUE(matches("sport tennis", "sport tennis"));
  EXPECT_FALSE(matches("finance", "/finance"));
  EXPECT_FALSE(matches("finance", "finance/"));
  EXPECT_TRUE(matches("/", "/"));
  EXPECT_TRUE(matches("a//b", "a//b"));
  EXPECT_TRUE(matches("a/+/b", "a//b"));
  EXPECT_FALSE(matches("a/b", "a//b"));
  EXPECT_TRUE(matches("/a", "/a"));
  EXPECT_FALSE(matches("a", "/a"));
  EXPECT_FALSE(matches("sport/tennis", "sport/tennis/player1"));
  EXPECT_FALSE(matches("sport/tennis/player1", "sport/tennis"));
  EXPECT_FALSE(matches("caf\xC3\xA9", "cafe\xCC\x81"));  // same text, other normal form
}

TEST(Matches, ExactFilterMatchesOnlyItself) {
  for (std::string_view f : {"a", "a/b", "/a", "a/", "//", "$SYS/x"})
    for (std::string_view n : {"a", "a/b", "/a", "a/", "//", "$SYS/x", "b"})
      EXPECT_EQ(matches(f, n), f == n) << f << " " << n;
}

// ---- Shared subscriptions ----------------------------------------------------

TEST(ParseShared, SplitsGroupAndFilter) {
  struct {
    std::string_view in, group, filter;
  } cases[] = {
      {"$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+"},
      {"$share/consumer2/sport/tennis/+", "consumer2", "sport/tennis/+"},
      {"$share/consumer1//finance", "consumer1", "/finance"},
      {"$share/g/#", "g", "#"},
      {"$share/g//", "g", "/"},
      {"$share/g/$SYS/#", "g", "$SYS/#"},
      {"$share/$g/a", "$g", "a"},
      {"$share/g/$share/h/x", "g", "$share/h/x"},
  };
  for (const auto& c : cases) {
    auto r = parse_shared(c.in);
    ASSERT_TRUE(r) << c.in;
    ASSERT_TRUE(*r) << c.in;
    EXPECT_EQ((*r)->group, c.group);
    EXPECT_EQ((*r)->filter, c.filter);
    // The parts are views into the input.
    EXPECT_EQ((*r)->group.data(), c.in.data() + share_prefix.size());
  }
}

TEST(ParseShared, LeavesOrdinaryFiltersAlone) {
  for (std::string_view f : {"sport/#", "$share", "$SHARE/g/a", "$sharex/g/a", "share/g/a", "/$share/g/a", "#"}) {
    auto r = parse_shared(f);
    ASSERT_TRUE(r) << f;
    EXPECT_FALSE(*r) << f;
  }
}

TEST(ParseShared, RefusesMalformedSharedFilters) {
  struct {
    std::string_view in, rule;
  } cases[] = {
      {"$share/", "MQTT-4.8.2-1"},           {"$share//a", "MQTT-4.8.2-1"},
      {"$share/g", "MQTT-4.8.2-2"},          {"$share/g/", "MQTT-4.8.2-2"},
      {"$share/g+/a", "MQTT-4.8.2-2"},       {"$share/a#b/a", "MQTT-4.8.2-2"},
      {"$share/g/a#", "MQTT-4.7.1-1"},       {"$share/g/+a", "MQTT-4.7.1-2"},
      {"$share/g\xFF/a", "MQTT-1.5.4-1"},
  };
  for (const auto& c : cases) {
    auto r = parse_shared(c.in);
    ASSERT_FALSE(r) << c.in;
    EXPECT_EQ(r.error().code, make_error_code(reason::topic_filter_invalid)) << c.in;
    EXPECT_NE(r.error().detail.find(c.rule), std::string_view::npos) << c.in << ": " << r.error().detail;
  }
}

TEST(ParseShared, AgreesWithValidateFilter) {
  for (std::string_view f : {"$share/g/a", "$share/g", "$share//a", "$share/g/#/a", "$share/g/+"}) {
    auto r = parse_shared(f);
    EXPECT_EQ(r.has_value(), !validate_filter(f).has_value()) << f;
  }
}

}  // namespace
}  // namespace tern::topic
