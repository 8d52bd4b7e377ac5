// libFuzzer target for tern::auth::acl, fed any text as a mosquitto ACL file.
//
// Invariants: parse() returns an ACL or a refusal and throws nothing; a
// refusal names the file and a line of the text on every line
// (file_refusal.hpp). For an ACL it accepts, probed with user names, client
// ids and topics taken from its own rules and from the input: allowed() never
// faults; for a topic name (no wildcard, not "$share/"), subscribe is allowed
// exactly when read is; a topic matched by a deny rule of the client's own
// section is never allowed; the per-client decision cache answers as the ACL
// does; covers(rule, name) is topic::matches(rule, name).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "file_refusal.hpp"
#include "tern/auth/acl.hpp"
#include "tern/topic/topic.hpp"

using tern::fuzz::check;
using tern::auth::access;

namespace {

constexpr std::string_view file = "fuzz.acl";

// A topic name made from a filter: wildcards become ordinary levels.
std::string name_from(std::string_view filter, std::string_view id) {
  std::string out;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '+' || filter[i] == '#') out += "x";
    else if (filter[i] == '%' && i + 1 < filter.size() && (filter[i + 1] == 'c' || filter[i + 1] == 'u')) {
      out += id;
      ++i;
    } else out += filter[i];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = tern::auth::acl::parse(text, file);
  if (!a) {
    tern::fuzz::check_refusal(a.error().message, file, tern::fuzz::line_count(text));
    return 0;
  }

  // Who asks: anonymous, each user with a section (a few), and odd names.
  std::vector<std::optional<std::string>> users{std::nullopt, std::string("u"), std::string("a+b"),
                                                std::string("a/b")};
  std::vector<std::string> filters;
  const auto take = [&filters](const std::vector<tern::auth::acl::rule>& rules) {
    for (const auto& r : rules)
      if (filters.size() < 16) filters.push_back(r.filter);
  };
  take(a->anonymous_rules());
  take(a->patterns());
  for (const auto [n, line] : tern::auth::text_lines(text)) {
    const auto t = tern::auth::trim(line);
    if (t.starts_with("user ") && users.size() < 8) {
      const auto name = std::string(tern::auth::trim(t.substr(5)));
      users.emplace_back(name);
      if (const auto* rules = a->user_rules(name)) take(*rules);
    }
  }

  tern::auth::decision_cache cache(4);
  for (const auto& user : users) {
    for (const std::string_view id : {"c", "dev1", "a/b", "x+"}) {
      const std::optional<std::string_view> u = user ? std::optional<std::string_view>(*user) : std::nullopt;
      cache.clear();
      for (const auto& f : filters) {
        for (const auto& topic : {name_from(f, id), name_from(f, user.value_or("u")), f}) {
          if (topic.empty() || topic.size() > 1000) continue;
          const bool read = a->allowed(u, id, topic, access::read);
          const bool write = a->allowed(u, id, topic, access::write);
          const bool sub = a->allowed(u, id, topic, access::subscribe);
          check(tern::auth::allowed(*a, cache, u, id, topic, access::write) == write);
          check(tern::auth::allowed(*a, cache, u, id, topic, access::read) == read);
          const bool name = !tern::topic::validate_name(topic) && !topic.starts_with("$share/");
          if (name) {
            check(sub == read);
            for (const auto& g : filters)
              if (!tern::topic::validate_filter(g)) check(tern::auth::covers(g, topic) == tern::topic::matches(g, topic));
          }
          const auto* own = u ? a->user_rules(*u) : &a->anonymous_rules();
          if (own && name)
            for (const auto& r : *own)
              if (r.what == tern::auth::acl::grant::deny && tern::topic::matches(r.filter, topic))
                check(!read && !write && !sub);
        }
      }
    }
  }
  return 0;
}
