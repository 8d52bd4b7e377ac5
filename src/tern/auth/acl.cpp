#include "tern/auth/acl.hpp"

#include <fmt/format.h>

#include "tern/topic/topic.hpp"

namespace tern::auth {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// The first word of `s` (which starts with no blank), and the rest trimmed.
std::pair<std::string_view, std::string_view> first_word(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && !is_blank(s[n])) ++n;
  return {s.substr(0, n), trim(s.substr(n))};
}

// Iterates the levels of a topic name or filter.
class levels {
 public:
  explicit levels(std::string_view s) noexcept : rest_(s) {}
  std::optional<std::string_view> next() noexcept {
    if (done_) return std::nullopt;
    const auto slash = rest_.find('/');
    const auto level = rest_.substr(0, slash);
    if (slash == std::string_view::npos) done_ = true;
    else rest_.remove_prefix(slash + 1);
    return level;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

bool dangerous(std::string_view s) { return s.find_first_of("+#") != std::string_view::npos; }

// `filter` with %c and %u replaced (mosquitto's substitution: anywhere in the
// filter, left to right). nullopt when the rule has %u and the client no user
// name, or when `strict` and a substituted value holds a '/'.
std::optional<std::string> substitute(std::string_view filter, std::optional<std::string_view> user,
                                      std::string_view client_id, bool strict) {
  std::string out;
  out.reserve(filter.size() + client_id.size());
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '%' && i + 1 < filter.size() && (filter[i + 1] == 'c' || filter[i + 1] == 'u')) {
      std::string_view value = client_id;
      if (filter[i + 1] == 'u') {
        if (!user) return std::nullopt;
        value = *user;
      }
      if (strict && value.find('/') != std::string_view::npos) return std::nullopt;
      out += value;
      ++i;
      continue;
    }
    out += filter[i];
  }
  return out;
}

// Does a rule's filter decide about `topic`: match a name (read, write) or
// cover a filter (subscribe)?
bool applies(std::string_view rule_filter, std::string_view topic, access what) {
  return what == access::subscribe ? covers(rule_filter, topic) : topic::matches(rule_filter, topic);
}

bool grants(acl::grant g, access what) {
  const auto bits = static_cast<std::uint8_t>(g);
  switch (what) {
    case access::read:
    case access::subscribe:
      return (bits & static_cast<std::uint8_t>(acl::grant::read)) != 0;
    case access::write:
      return (bits & static_cast<std::uint8_t>(acl::grant::write)) != 0;
  }
  return false;
}

}  // namespace

bool covers(std::string_view rule_filter, std::string_view filter) noexcept {
  levels r(rule_filter), f(filter);
  for (bool first = true;; first = false) {
    const auto rl = r.next();
    const auto fl = f.next();
    if (!rl && !fl) return true;
    // '#' matches its parent and everything below; at the first level, no
    // topic starting with '$' (MQTT-4.7.2-1).
    if (rl && *rl == "#") return !(first && fl && fl->starts_with('$'));
    if (!rl || !fl) return false;
    if (*fl == "#") return false;  // the filter reaches deeper than the rule
    if (*fl == "+") {
      if (*rl != "+") return false;
    } else if (*rl == "+") {
      if (first && fl->starts_with('$')) return false;
    } else if (*rl != *fl) {
      return false;
    }
  }
}

file_result<acl> acl::parse(std::string_view text, std::string_view name) {
  acl a;
  problems p(name);
  std::vector<rule>* section = &a.anonymous_;
  for (const auto [number, line] : text_lines(text)) {
    const auto t = trim(line);
    if (t.empty() || t.starts_with('#')) continue;
    const auto [keyword, rest] = first_word(t);
    if (keyword == "user") {
      if (rest.empty()) {
        p.add(number, "\"user\" without a user name");
        continue;
      }
      section = &a.users_[std::string(rest)];
      continue;
    }
    if (keyword != "topic" && keyword != "pattern") {
      p.add(number, fmt::format("unknown keyword \"{}\" (not user, topic or pattern)", keyword));
      continue;
    }
    if (rest.empty()) {
      p.add(number, fmt::format("\"{}\" without a topic filter", keyword));
      continue;
    }
    rule r;
    r.pattern = keyword == "pattern";
    r.line = number;
    auto [word, filter] = first_word(rest);
    if (filter.empty()) {
      filter = word;  // "topic FILTER": read and write
    } else if (word == "read") {
      r.what = grant::read;
    } else if (word == "write") {
      r.what = grant::write;
    } else if (word == "readwrite") {
      r.what = grant::readwrite;
    } else if (word == "deny") {
      r.what = grant::deny;
    } else {
      p.add(number, fmt::format("unknown access \"{}\" (not read, write, readwrite or deny)", word));
      continue;
    }
    if (auto e = topic::validate_filter(filter)) {
      p.add(number, fmt::format("invalid topic filter \"{}\": {}", filter, e->message()));
      continue;
    }
    r.filter = std::string(filter);
    (r.pattern ? a.patterns_ : *section).push_back(std::move(r));
  }
  if (!p.empty()) return p.error();
  return a;
}

file_result<acl> acl::load(const std::filesystem::path& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  return parse(*text, path.string());
}

const std::vector<acl::rule>* acl::user_rules(std::string_view user) const {
  const auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

bool acl::allowed(std::optional<std::string_view> user, std::string_view client_id, std::string_view topic,
                  access what) const {
  if (what == access::subscribe) {
    const auto shared = topic::parse_shared(topic);
    if (!shared) return false;
    if (*shared) topic = (*shared)->filter;
  }
  const std::vector<rule>* own = user ? user_rules(*user) : &anonymous_;
  // A '+' or '#' in a name would turn a pattern into a wider filter: such a
  // client gets its own section's rules and no pattern (mosquitto 2.0).
  const bool patterns = !((user && dangerous(*user)) || dangerous(client_id));
  // Denials first, from the client's section and from the patterns.
  if (own)
    for (const auto& r : *own)
      if (r.what == grant::deny && applies(r.filter, topic, what)) return false;
  if (patterns)
    for (const auto& r : patterns_) {
      if (r.what != grant::deny) continue;
      const auto f = substitute(r.filter, user, client_id, false);
      if (f && applies(*f, topic, what)) return false;
    }
  if (own)
    for (const auto& r : *own)
      if (grants(r.what, what) && applies(r.filter, topic, what)) return true;
  if (patterns)
    for (const auto& r : patterns_) {
      if (!grants(r.what, what)) continue;
      const auto f = substitute(r.filter, user, client_id, true);
      if (f && applies(*f, topic, what)) return true;
    }
  return false;
}

// ---- decision_cache ----------------------------------------------------------------

std::optional<bool> decision_cache::find(std::string_view topic, access what) const {
  const auto it = decisions_.find(topic);
  const auto bit = static_cast<std::uint8_t>(what);
  if (it == decisions_.end() || (it->second & bit) == 0) return std::nullopt;
  return (it->second & (bit << 4)) != 0;
}

void decision_cache::insert(std::string_view topic, access what, bool allowed) {
  auto it = decisions_.find(topic);
  if (it == decisions_.end()) {
    if (decisions_.size() >= capacity_) decisions_.clear();
    it = decisions_.emplace(std::string(topic), std::uint8_t{0}).first;
  }
  const auto bit = static_cast<std::uint8_t>(what);
  it->second = static_cast<std::uint8_t>((it->second & ~(bit << 4)) | bit | (allowed ? bit << 4 : 0));
}

bool allowed(const acl& acl, decision_cache& cache, std::optional<std::string_view> user,
             std::string_view client_id, std::string_view topic, access what) {
  if (const auto d = cache.find(topic, what)) return *d;
  const bool ok = acl.allowed(user, client_id, topic, what);
  cache.insert(topic, what, ok);
  return ok;
}

}  // namespace tern::auth
