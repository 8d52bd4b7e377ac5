#include "tern/topic/trie.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

// Counts heap allocations, to check that match() makes none. (noinline:
// else g++ sees free() meet new and warns of a mismatch.)
namespace {
std::size_t allocations = 0;
}  // namespace
[[gnu::noinline]] void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace tern::topic {
namespace {

using trie = subscription_trie<std::string, int>;
using hit = std::tuple<std::string, int, std::string>;  // key, value, filter

std::multiset<hit> match_all(const trie& t, std::string_view name) {
  std::multiset<hit> out;
  t.match(name, [&](const std::string& k, const int& v, std::string_view f) { out.emplace(k, v, std::string(f)); });
  return out;
}

std::multiset<std::string> matched_filters(const trie& t, std::string_view name) {
  std::multiset<std::string> out;
  t.match(name, [&](const std::string&, const int&, std::string_view f) { out.emplace(f); });
  return out;
}

TEST(SubscriptionTrie, StartsEmpty) {
  trie t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.node_count(), 0u);
  EXPECT_TRUE(match_all(t, "a").empty());
  EXPECT_FALSE(t.erase("a", "k"));
  EXPECT_EQ(t.find("a", "k"), nullptr);
}

TEST(SubscriptionTrie, InsertAddsThenReplaces) {
  trie t;
  EXPECT_TRUE(t.insert("sport/tennis", "alice", 1));
  EXPECT_TRUE(t.insert("sport/tennis", "bob", 2));
  EXPECT_TRUE(t.insert("sport/+", "alice", 3));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_FALSE(t.insert("sport/tennis", "alice", 10));  // same (filter, key): replaced
  EXPECT_EQ(t.size(), 3u);
  ASSERT_NE(t.find("sport/tennis", "alice"), nullptr);
  EXPECT_EQ(*t.find("sport/tennis", "alice"), 10);
  EXPECT_EQ(*t.find("sport/+", "alice"), 3);
  EXPECT_EQ(t.find("sport/#", "alice"), nullptr);
  EXPECT_EQ(match_all(t, "sport/tennis"), (std::multiset<hit>{{"alice", 10, "sport/tennis"},
                                                              {"bob", 2, "sport/tennis"},
                                                              {"alice", 3, "sport/+"}}));
}

// What a cache of match() results relies on (the broker's route cache).
TEST(SubscriptionTrie, VersionChangesWithEveryChangeOfTheEntries) {
  trie t;
  auto v = t.version();
  auto changed = [&] {
    const bool c = t.version() != v;
    v = t.version();
    return c;
  };
  EXPECT_TRUE(t.insert("a/b", "x", 1) && changed());
  EXPECT_FALSE(t.insert("a/b", "x", 2));  // a new value for the same entry
  EXPECT_TRUE(changed());
  EXPECT_FALSE(t.erase("a/b", "nobody"));
  EXPECT_FALSE(changed());
  (void)t.find("a/b", "x");
  t.match("a/b", [](const std::string&, int, std::string_view) {});
  EXPECT_FALSE(changed());
  EXPECT_TRUE(t.erase("a/b", "x") && changed());
  t.insert("c", "y", 3);
  v = t.version();
  t.clear();
  EXPECT_TRUE(changed());
  t.insert("c", "y", 3);
  v = t.version();
  trie other = std::move(t);
  EXPECT_TRUE(changed());  // the moved-from trie lost its entries
  t = std::move(other);
  EXPECT_TRUE(changed());
}

TEST(SubscriptionTrie, EraseRemovesAndPrunes) {
  trie t;
  t.insert("a/b/c/d", "k", 1);
  const std::size_t nodes_one = t.node_count();  // root, a, b, c, d
  EXPECT_EQ(nodes_one, 5u);
  t.insert("a/b/x/#", "k", 2);
  t.insert("a/+/+", "k", 3);
  t.insert("a/b/c/d", "j", 4);
  EXPECT_EQ(t.node_count(), 5u + 2u + 2u);
  EXPECT_FALSE(t.erase("a/b/c/d", "nobody"));
  EXPECT_FALSE(t.erase("a/b/c", "k"));  // a prefix node with no entry of its own
  EXPECT_FALSE(t.erase("a/b/c/d/e", "k"));
  EXPECT_TRUE(t.erase("a/b/x/#", "k"));
  EXPECT_FALSE(t.erase("a/b/x/#", "k"));
  EXPECT_EQ(t.node_count(), 5u + 2u);  // "x" and "#" pruned
  EXPECT_TRUE(t.erase("a/+/+", "k"));
  EXPECT_EQ(t.node_count(), 5u);
  EXPECT_TRUE(t.erase("a/b/c/d", "k"));
  EXPECT_EQ(t.node_count(), 5u);  // "j" still holds a/b/c/d
  EXPECT_EQ(matched_filters(t, "a/b/c/d"), std::multiset<std::string>{"a/b/c/d"});
  EXPECT_TRUE(t.erase("a/b/c/d", "j"));
  EXPECT_EQ(t.node_count(), 1u);  // only the root
  EXPECT_TRUE(t.empty());
  EXPECT_TRUE(match_all(t, "a/b/c/d").empty());
}

TEST(SubscriptionTrie, PrunesOnlyUnusedNodes) {
  trie t;
  t.insert("a", "k", 1);
  t.insert("a/b", "k", 2);
  t.insert("a/#", "k", 3);
  t.insert("/", "k", 4);
  t.insert("//", "k", 5);
  EXPECT_EQ(t.node_count(), 1u + 3u + 3u);
  EXPECT_TRUE(t.erase("a/b", "k"));
  EXPECT_EQ(t.node_count(), 1u + 2u + 3u);
  EXPECT_EQ(matched_filters(t, "a"), (std::multiset<std::string>{"a", "a/#"}));
  EXPECT_TRUE(t.erase("/", "k"));  // "" -> "" still needed by "//"
  EXPECT_EQ(t.node_count(), 1u + 2u + 3u);
  EXPECT_EQ(matched_filters(t, "//"), std::multiset<std::string>{"//"});
  EXPECT_TRUE(t.erase("//", "k"));
  EXPECT_EQ(t.node_count(), 1u + 2u);
  EXPECT_TRUE(t.erase("a", "k"));
  EXPECT_EQ(matched_filters(t, "a/z"), std::multiset<std::string>{"a/#"});
  EXPECT_TRUE(t.erase("a/#", "k"));
  EXPECT_EQ(t.node_count(), 1u);
}

TEST(SubscriptionTrie, ManyFiltersMatchOneTopic) {
  trie t;
  const std::vector<std::string> matching = {
      "sport/tennis/player1", "sport/tennis/+", "sport/+/player1", "sport/+/+", "+/tennis/player1", "+/+/+",
      "+/+/player1",          "sport/#",        "sport/tennis/#",  "sport/tennis/player1/#", "#",   "+/#",
      "+/tennis/#",           "+/+/+/#",        "sport/+/#"};
  const std::vector<std::string> other = {"sport/tennis",   "sport/tennis/player2", "sport/+",    "+/+",
                                          "+/+/+/+",        "sport/tennis/player1/ranking", "sport/+/player2",
                                          "/sport/#",       "sport/tennis/player1/+", "$SYS/#", "+/tennis",
                                          "Sport/#",        "sport//player1",       "sport/tennis/player1/"};
  int v = 0;
  for (const auto& f : matching) {
    t.insert(f, "a", v++);
    t.insert(f, "b", v++);
  }
  for (const auto& f : other) t.insert(f, "a", v++);
  std::multiset<std::string> want;
  for (const auto& f : matching) {
    want.insert(f);  // once for "a"
    want.insert(f);  // once for "b"
  }
  EXPECT_EQ(matched_filters(t, "sport/tennis/player1"), want);
  EXPECT_EQ(match_all(t, "sport/tennis/player1").size(), 2 * matching.size());
}

TEST(SubscriptionTrie, MatchDoesNotAllocate) {
  trie t;
  for (int i = 0; i < 100; ++i) t.insert("site/" + std::to_string(i) + "/+/temp", "k" + std::to_string(i), i);
  for (std::string_view f : {"#", "site/#", "site/+/+/+", "site/7/dev/temp", "+/7/dev/#"})
    for (int k = 0; k < 40; ++k) t.insert(f, "k" + std::to_string(k), k);  // 40 keys: indexed nodes
  EXPECT_GT(allocations, 0u);  // the counter does see the trie's allocations
  const std::string name = "site/7/dev/temp";
  std::size_t hits = 0;
  const std::size_t before = allocations;
  t.match(name, [&](const std::string&, const int&, std::string_view) { ++hits; });
  EXPECT_EQ(allocations, before);
  EXPECT_EQ(hits, 1u + 5u * 40u);
}

TEST(SubscriptionTrie, DollarTopicsSkipLeadingWildcards) {
  trie t;
  for (std::string_view f : {"#", "+/monitor/Clients", "+/#", "$SYS/#", "$SYS/monitor/+", "$SYS/monitor/Clients",
                             "+/+/+"})
    t.insert(f, "k", 0);
  EXPECT_EQ(matched_filters(t, "$SYS/monitor/Clients"),
            (std::multiset<std::string>{"$SYS/#", "$SYS/monitor/+", "$SYS/monitor/Clients"}));
  EXPECT_EQ(matched_filters(t, "SYS/monitor/Clients"),
            (std::multiset<std::string>{"#", "+/monitor/Clients", "+/#", "+/+/+"}));
  EXPECT_EQ(matched_filters(t, "$SYS"), std::multiset<std::string>{"$SYS/#"});
}

TEST(SubscriptionTrie, MultiLevelWildcardMatchesParentLevel) {
  trie t;
  t.insert("sport/tennis/player1/#", "k", 0);
  t.insert("sport/#", "k", 0);
  EXPECT_EQ(matched_filters(t, "sport"), std::multiset<std::string>{"sport/#"});
  EXPECT_EQ(matched_filters(t, "sport/tennis/player1"),
            (std::multiset<std::string>{"sport/#", "sport/tennis/player1/#"}));
  EXPECT_EQ(matched_filters(t, "sport/tennis/player1/score/wimbledon"),
            (std::multiset<std::string>{"sport/#", "sport/tennis/player1/#"}));
  EXPECT_EQ(matched_filters(t, "sports"), std::multiset<std::string>{});
}

TEST(SubscriptionTrie, EmptyLevels) {
  trie t;
  for (std::string_view f : {"a//b", "a/+/b", "/a", "+/a", "/+", "/#", "+/+", "a/", "a/+", "/", "+"})
    t.insert(f, "k", 0);
  EXPECT_EQ(matched_filters(t, "a//b"), (std::multiset<std::string>{"a//b", "a/+/b"}));
  EXPECT_EQ(matched_filters(t, "/a"), (std::multiset<std::string>{"/a", "+/a", "/+", "/#", "+/+"}));
  EXPECT_EQ(matched_filters(t, "a/"), (std::multiset<std::string>{"a/", "a/+", "+/+"}));
  EXPECT_EQ(matched_filters(t, "/"), (std::multiset<std::string>{"/", "/+", "/#", "+/+"}));
  EXPECT_EQ(matched_filters(t, "a"), (std::multiset<std::string>{"+"}));
}

TEST(SubscriptionTrie, SharedSubscriptionsAreOrdinaryEntries) {
  // The broker strips "$share/{group}/" and keys the inner filter by group.
  trie t;
  auto s = parse_shared("$share/workers/jobs/+");
  ASSERT_TRUE(s && *s);
  t.insert((*s)->filter, "$share:" + std::string((*s)->group), 1);
  t.insert("jobs/+", "alice", 2);
  EXPECT_EQ(match_all(t, "jobs/1"), (std::multiset<hit>{{"$share:workers", 1, "jobs/+"}, {"alice", 2, "jobs/+"}}));
}

TEST(SubscriptionTrie, ManyKeysOnOneFilter) {
  // Past a few keys a node indexes them; replace and erase must still work.
  trie t;
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(t.insert("hot/topic", "k" + std::to_string(i), i));
  for (int i = 0; i < 200; i += 3) EXPECT_FALSE(t.insert("hot/topic", "k" + std::to_string(i), 1000 + i));
  for (int i = 0; i < 200; i += 2) EXPECT_TRUE(t.erase("hot/topic", "k" + std::to_string(i)));
  EXPECT_EQ(t.size(), 100u);
  std::multiset<hit> want;
  for (int i = 1; i < 200; i += 2) want.emplace("k" + std::to_string(i), i % 3 == 0 ? 1000 + i : i, "hot/topic");
  EXPECT_EQ(match_all(t, "hot/topic"), want);
  for (int i = 1; i < 200; i += 2) {
    ASSERT_NE(t.find("hot/topic", "k" + std::to_string(i)), nullptr);
    EXPECT_TRUE(t.erase("hot/topic", "k" + std::to_string(i)));
  }
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.node_count(), 1u);
}

TEST(SubscriptionTrie, ForEachClearAndMove) {
  trie t;
  t.insert("a/#", "x", 1);
  t.insert("a/+", "y", 2);
  t.insert("b", "z", 3);
  std::multiset<hit> all;
  t.for_each([&](const std::string& k, const int& v, std::string_view f) { all.emplace(k, v, std::string(f)); });
  EXPECT_EQ(all, (std::multiset<hit>{{"x", 1, "a/#"}, {"y", 2, "a/+"}, {"z", 3, "b"}}));

  trie moved = std::move(t);
  EXPECT_EQ(moved.size(), 3u);
  EXPECT_EQ(t.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_TRUE(match_all(t, "b").empty());
  EXPECT_EQ(matched_filters(moved, "a/q"), (std::multiset<std::string>{"a/#", "a/+"}));
  t.insert("c", "w", 4);  // a moved-from trie is usable
  EXPECT_EQ(t.size(), 1u);

  moved.clear();
  EXPECT_TRUE(moved.empty());
  EXPECT_EQ(moved.node_count(), 0u);
  EXPECT_TRUE(match_all(moved, "b").empty());
  moved.insert("b", "z", 5);
  EXPECT_EQ(matched_filters(moved, "b"), std::multiset<std::string>{"b"});
  moved = std::move(t);
  EXPECT_EQ(matched_filters(moved, "c"), std::multiset<std::string>{"c"});
  EXPECT_TRUE(match_all(moved, "b").empty());
}

TEST(SubscriptionTrie, DeepFiltersNeedNoDeepStack) {
  // 30,000 levels: match walks with parent links and clear unlinks
  // iteratively, so neither recurses.
  constexpr int depth = 30'000;
  std::string plus, name;
  for (int i = 0; i < depth; ++i) {
    plus += i ? "/+" : "+";
    name += i ? "/a" : "a";
  }
  trie t;
  t.insert(plus, "p", 1);
  t.insert(name, "n", 2);
  t.insert(name + "/#", "h", 3);
  EXPECT_EQ(match_all(t, name).size(), 3u);
  EXPECT_EQ(match_all(t, name + "/b").size(), 1u);
  EXPECT_TRUE(t.erase(plus, "p"));
  EXPECT_EQ(t.node_count(), 1u + depth + 1u);
  t.clear();
  t.insert(name, "n", 2);
}  // the destructor frees a 30,000-deep chain

// ---- trie::match agrees with matches() --------------------------------------

std::string random_topic(std::mt19937& rng, bool filter) {
  static constexpr std::string_view words[] = {"a", "b", "c", "", "ab"};
  std::uniform_int_distribution<int> levels(1, 5), pick(0, 99), word(0, 4);
  const int n = levels(rng);
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += '/';
    const int p = pick(rng);
    if (i == 0 && p < 8) {
      s += "$x";
    } else if (filter && i == n - 1 && p >= 85) {
      s += '#';
    } else if (filter && p >= 65) {
      s += '+';
    } else {
      s += words[word(rng)];
    }
  }
  return s.empty() ? random_topic(rng, filter) : s;  // "" is neither a name nor a filter
}

TEST(SubscriptionTrie, AgreesWithMatchesOnRandomFilters) {
  std::mt19937 rng(20240601);
  trie t;
  std::vector<std::string> filters;
  for (int i = 0; i < 2000; ++i) {
    std::string f = random_topic(rng, true);
    ASSERT_FALSE(validate_filter(f)) << f;
    t.insert(f, std::to_string(i), i);
    filters.push_back(std::move(f));
  }
  // Remove a tenth again, so pruning is part of what is compared.
  std::vector<bool> live(filters.size(), true);
  for (std::size_t i = 0; i < filters.size(); i += 10) {
    EXPECT_TRUE(t.erase(filters[i], std::to_string(i)));
    live[i] = false;
  }
  EXPECT_EQ(t.size(), 1800u);
  std::size_t total = 0;
  for (int j = 0; j < 2000; ++j) {
    const std::string name = random_topic(rng, false);
    ASSERT_FALSE(validate_name(name)) << name;
    std::multiset<int> want, got;
    for (std::size_t i = 0; i < filters.size(); ++i)
      if (live[i] && matches(filters[i], name)) want.insert(static_cast<int>(i));
    t.match(name, [&](const std::string& k, const int& v, std::string_view f) {
      EXPECT_EQ(k, std::to_string(v));
      EXPECT_EQ(f, filters[static_cast<std::size_t>(v)]);
      got.insert(v);
    });
    ASSERT_EQ(got, want) << name;
    total += got.size();
  }
  EXPECT_GT(total, 2000u);  // the alphabet is small enough for plenty of matches
}

}  // namespace
}  // namespace tern::topic
