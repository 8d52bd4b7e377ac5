// tern/auth/acl.hpp: mosquitto's ACL file and the decision it gives: may this
// client read, write or subscribe here?
//
//   # lines before any "user" line apply to anonymous clients
//   topic read public/#
//   user alice
//   topic readwrite alice/#
//   topic deny alice/secret
//   pattern write devices/%c/state        # every client: %c its client id, %u its user name
//
//   auto a = tern::auth::acl::load("/etc/ternd/acl");
//   if (!a) return log(a.error().message);              // "acl:3: unknown keyword \"topc\""
//   a->allowed("alice", "dev1", "alice/x", tern::auth::access::write);      // true
//   a->allowed(std::nullopt, "dev1", "devices/dev1/state", access::write);  // true (pattern)
//
// The decisions follow mosquitto 2.0's (src/security_default.c):
// - A client with a user name gets the rules of its "user" section (none when
//   the file has no such section); a client without one gets the lines before
//   the first "user" line. "pattern" rules apply to every client wherever
//   they are written; a pattern with %u gives nothing to a client without a
//   user name.
// - A rule's filter is matched with tern::topic::matches, so a filter that
//   starts with a wildcard never matches a topic that starts with '$'.
// - "deny" wins: a topic matched by any deny rule that applies to the client is
//   refused, whatever grants it. (mosquitto 2.0 looks at the user's rules,
//   denials first, before the patterns, so there a user's grant beats a
//   pattern's deny; here the deny wins, as its manual describes.)
// - A client whose user name or client id holds '+' or '#' gets the rules of
//   its own section and no pattern at all (mosquitto 2.0: the name would
//   turn a pattern into a wider filter). A pattern that would put a '/' into
//   the topic through %c or %u grants nothing to that client (mosquitto
//   substitutes it, so that client "a/b" reaches into client "a"'s part of
//   the tree); as a deny it applies as substituted.
// - Subscribe: mosquitto 2.0 accepts every SUBSCRIBE and checks read access at
//   delivery. Here a filter may be subscribed to when a read rule covers it
//   (every topic the filter matches is readable by that rule) and no deny rule
//   covers it; a filter a deny only overlaps is accepted, and the deny applies
//   at delivery (check read per message). "$share/group/filter" is judged by
//   its filter.
//
// Thread safety: an acl is immutable once built; allowed() may run on any
// number of threads at once. decision_cache is per client, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/auth/text_file.hpp"
#include "tern/core/string_hash.hpp"

namespace tern::auth {

// What a client asks to do with a topic.
enum class access : std::uint8_t {
  read = 1,       // receive a message published to this topic name
  write = 2,      // publish to this topic name
  subscribe = 4,  // subscribe to this topic filter
};

class acl {
 public:
  // What a rule grants: deny, read, write or both.
  enum class grant : std::uint8_t { deny = 0, read = 1, write = 2, readwrite = 3 };
  struct rule {
    grant what = grant::readwrite;
    std::string filter;   // as written; for a pattern with %c and %u still in it
    bool pattern = false;
    std::size_t line = 0;  // in the file, for messages
  };

  // The rules of `text`; `name` (usually the path) starts each problem of the
  // refusal, "<name>:<line>: <what>", every problem of the file: an unknown
  // keyword, an access other than read|write|readwrite|deny, a missing or
  // invalid topic filter, a "user" line without a name.
  [[nodiscard]] static file_result<acl> parse(std::string_view text, std::string_view name);
  [[nodiscard]] static file_result<acl> load(const std::filesystem::path& path);

  // True when the client (its user name, nullopt when anonymous, and its
  // client id) may do `what` with `topic` (a topic name for read and write, a
  // topic filter for subscribe).
  [[nodiscard]] bool allowed(std::optional<std::string_view> user, std::string_view client_id,
                             std::string_view topic, access what) const;

  // The rules for anonymous clients, for `user`, and the patterns, in file order.
  [[nodiscard]] const std::vector<rule>& anonymous_rules() const noexcept { return anonymous_; }
  [[nodiscard]] const std::vector<rule>* user_rules(std::string_view user) const;
  [[nodiscard]] const std::vector<rule>& patterns() const noexcept { return patterns_; }

 private:
  std::vector<rule> anonymous_;
  std::unordered_map<std::string, std::vector<rule>, string_hash, std::equal_to<>> users_;
  std::vector<rule> patterns_;
};

// True when every topic name `filter` matches is matched by `rule_filter`
// (both valid topic filters): "a/#" covers "a/b/+" and "a", "+/b" covers
// "x/b" but not "#".
[[nodiscard]] bool covers(std::string_view rule_filter, std::string_view filter) noexcept;

// A client's remembered decisions, so that an ACL is asked once per client,
// topic and access: the broker holds one per connected client, on that
// client's thread. Bounded: past `capacity` topics it starts again empty.
// Clear it when the ACL is replaced.
//
//   if (auto d = cache.find(topic, access::write)) return *d;
//   const bool ok = acl.allowed(user, id, topic, access::write);
//   cache.insert(topic, access::write, ok);
//
// Or in one call: auth::allowed(acl, cache, user, id, topic, access::write).
class decision_cache {
 public:
  explicit decision_cache(std::size_t capacity = 1024) : capacity_(capacity) {}

  [[nodiscard]] std::optional<bool> find(std::string_view topic, access what) const;
  void insert(std::string_view topic, access what, bool allowed);
  void clear() noexcept { decisions_.clear(); }
  [[nodiscard]] std::size_t size() const noexcept { return decisions_.size(); }

 private:
  // Per topic: bit k set when access (1 << k) is known, bit k+4 when it is allowed.
  std::unordered_map<std::string, std::uint8_t, string_hash, std::equal_to<>> decisions_;
  std::size_t capacity_;
};

// acl.allowed(...) through `cache`.
[[nodiscard]] bool allowed(const acl& acl, decision_cache& cache, std::optional<std::string_view> user,
                           std::string_view client_id, std::string_view topic, access what);

}  // namespace tern::auth
