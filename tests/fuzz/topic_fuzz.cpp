// libFuzzer target for tern::topic. The input is split at '\n': the last
// line is a Topic Name, the lines before it (at most 16) Topic Filters. Every
// function must be safe on any bytes, and these must hold:
//   - parse_shared agrees with validate_filter and returns views into its input;
//   - a valid name that is not "$share/..." is also a valid filter and matches itself;
//   - a valid filter without wildcards matches a valid name iff they are equal;
//   - no filter starting with a wildcard matches a name starting with '$';
//   - subscription_trie::match finds exactly the (filter, key) pairs matches() accepts;
//   - erasing every entry leaves an empty trie with only its root node.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>
#include <vector>

#include "tern/topic/topic.hpp"
#include "tern/topic/trie.hpp"

namespace {

using namespace tern::topic;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_filter(std::string_view f) {
  const bool valid = !validate_filter(f);
  (void)has_wildcard(f);
  auto s = parse_shared(f);
  if (!f.starts_with(share_prefix)) {
    check(s.has_value() && !s->has_value());
  } else {
    check(s.has_value() == valid);
    if (s) {
      const shared_filter& p = **s;
      check(p.group.data() == f.data() + share_prefix.size());
      check(p.filter.data() == p.group.data() + p.group.size() + 1);
      check(p.filter.data() + p.filter.size() == f.data() + f.size());
      check(!p.group.empty() && !p.filter.empty());
      check(p.group.find_first_of("/+#") == std::string_view::npos);
      check(!validate_filter(p.filter) || p.filter.starts_with(share_prefix));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> filters;
  std::size_t start = 0;
  for (std::size_t nl = in.find('\n'); nl != std::string_view::npos && filters.size() < 16; nl = in.find('\n', start)) {
    filters.push_back(in.substr(start, nl - start));
    start = nl + 1;
  }
  const std::string_view name = in.substr(start);

  const bool name_valid = !validate_name(name);
  if (name_valid && !name.starts_with(share_prefix)) {
    check(!validate_filter(name));
    check(matches(name, name));
  }

  subscription_trie<int, int> trie;
  std::vector<std::string_view> inserted;
  for (std::string_view f : filters) {
    check_filter(f);
    const bool valid = !validate_filter(f);
    const bool hit = matches(f, name);  // must be safe even on invalid input
    if (!valid) continue;
    if (name_valid && !has_wildcard(f)) check(hit == (f == name));
    if (name_valid && !name.empty() && name.front() == '$' && (f.front() == '+' || f.front() == '#')) check(!hit);
    if (name_valid && f == "#") check(hit == (name.front() != '$'));
    const int key = static_cast<int>(inserted.size());
    check(trie.insert(f, key, key));
    check(!trie.insert(f, key, key));  // the same (filter, key) again replaces
    inserted.push_back(f);
  }
  // Filters that exercise the wildcard slots whatever the input.
  for (std::string_view f : {"#", "+", "+/#", "+/+"}) {
    const int key = static_cast<int>(inserted.size());
    trie.insert(f, key, key);
    inserted.push_back(f);
  }
  check(trie.size() == inserted.size());

  std::multiset<int> want, got;
  for (std::size_t i = 0; i < inserted.size(); ++i)
    if (matches(inserted[i], name)) want.insert(static_cast<int>(i));
  trie.match(name, [&](const int& k, const int& v, std::string_view f) {
    check(k == v && f == inserted[static_cast<std::size_t>(k)]);
    got.insert(k);
  });
  check(got == want);

  for (std::size_t i = 0; i < inserted.size(); ++i) check(trie.erase(inserted[i], static_cast<int>(i)));
  check(trie.empty() && trie.node_count() == 1);
  return 0;
}
