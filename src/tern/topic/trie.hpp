// tern/topic/trie.hpp: subscription_trie, the broker's subscription index.
// It maps (Topic Filter, Key) to a Value and finds every entry whose filter
// matches a Topic Name, with the rules of tern::topic::matches() ('+', '#',
// and no wildcard-first filter matching a '$' name, MQTT-4.7.2-1).
//
//   tern::topic::subscription_trie<client_id, subscription_options> subs;
//   subs.insert("sport/+/player1", "alice", {.qos = 1});     // true: new
//   subs.insert("sport/#", "bob", {.qos = 0});
//   subs.match("sport/tennis/player1",
//              [&](const client_id& who, const subscription_options& o, std::string_view filter) {
//                deliver(who, o);          // once per matching (filter, key)
//              });
//   subs.erase("sport/#", "bob");           // true: removed, empty nodes pruned
//
// One node per filter level. Literal levels sit in a per-node hash map looked
// up by std::string_view (no copy of the name's levels), '+' and '#' have
// their own child slots, and the (Key, Value) entries of the filter ending at
// a node sit in a small vector (with a hash index once a node has many keys).
// match() neither allocates nor recurses: it walks the tree with parent links,
// so its stack use is constant however deep the filters are.
//
// Shared subscriptions are not special here: the broker strips
// "$share/{group}/" and inserts the inner filter with a Key that names the
// group; a "$share/..." string given to insert() is just a filter whose first
// level is "$share".
//
// Thread safety: none inside. The const members (match, find, for_each, size,
// empty) only read, so any number of them may run at once (e.g. under a shared
// lock); insert, erase, clear and assignment need exclusive access.
#pragma once

#include <boost/container/small_vector.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/core/string_hash.hpp"
#include "tern/topic/topic.hpp"

namespace tern::topic {

// A map from (Topic Filter, Key) to Value, matched against Topic Names.
// Key must be copyable, hashable with KeyHash and comparable with KeyEqual;
// Value must be movable. KeyHash and KeyEqual are default-constructed.
template <class Key, class Value, class KeyHash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
class subscription_trie {
 public:
  subscription_trie() noexcept = default;
  subscription_trie(const subscription_trie&) = delete;
  subscription_trie& operator=(const subscription_trie&) = delete;
  subscription_trie(subscription_trie&& o) noexcept
      : root_(std::move(o.root_)), size_(std::exchange(o.size_, 0)), version_(o.version_++) {}
  subscription_trie& operator=(subscription_trie&& o) noexcept {
    if (this != &o) {
      clear();
      root_ = std::move(o.root_);
      size_ = std::exchange(o.size_, 0);
      version_ = std::max(version_, o.version_++) + 1;
    }
    return *this;
  }
  ~subscription_trie() { clear(); }

  // Adds `value` for (filter, key), or replaces the value already there.
  // Returns true when the entry is new. `filter` must be a valid Topic Filter
  // (validate_filter); it is stored as given.
  bool insert(std::string_view filter, const Key& key, Value value) {
    assert(!validate_filter(filter));
    ++version_;
    if (!root_) root_ = std::make_unique<node>();
    node* n = root_.get();
    try {
      // If this throws it may leave unused nodes behind: harmless (they
      // match nothing), reused by a later insert, freed by clear().
      n = find_or_create(filter);
      if (const std::size_t i = find_entry(*n, key); i != npos) {
        n->entries[i].value = std::move(value);
        return false;
      }
      if (n->entries.empty()) n->filter.assign(filter);
      if (n->index) {
        n->index->emplace(key, n->entries.size());
        try {
          n->entries.push_back(entry{key, std::move(value)});
        } catch (...) {
          n->index->erase(key);
          throw;
        }
      } else {
        n->entries.push_back(entry{key, std::move(value)});
        if (n->entries.size() > index_above) build_index(*n);
      }
    } catch (...) {
      prune(n, filter);  // undo nodes this call created
      throw;
    }
    ++size_;
    return true;
  }

  // Removes the entry for (filter, key) and the nodes left empty. Returns
  // true when there was one.
  bool erase(std::string_view filter, const Key& key) {
    node* n = find_node(filter);
    if (!n) return false;
    const std::size_t i = find_entry(*n, key);
    if (i == npos) return false;
    ++version_;
    if (n->index) n->index->erase(key);
    const std::size_t last = n->entries.size() - 1;
    if (i != last) {
      n->entries[i] = std::move(n->entries[last]);
      if (n->index) n->index->find(n->entries[i].key)->second = i;
    }
    n->entries.pop_back();
    if (n->index && n->entries.size() < index_below) n->index.reset();
    if (n->entries.empty()) {
      n->filter = std::string{};
      prune(n, filter);
    }
    --size_;
    return true;
  }

  // The value for (filter, key), or nullptr.
  const Value* find(std::string_view filter, const Key& key) const {
    const node* n = find_node(filter);
    if (!n) return nullptr;
    const std::size_t i = find_entry(*n, key);
    return i == npos ? nullptr : &n->entries[i].value;
  }

  // Calls f(const Key&, const Value&, std::string_view filter) once for each
  // entry whose filter matches the Topic Name `name`, in no particular order.
  // Allocates nothing. `f` must not change the trie.
  template <class F>
  void match(std::string_view name, F&& f) const {
    const node* const root = root_.get();
    if (!root) return;
    // MQTT-4.7.2-1: '+' and '#' as a first level never match a '$' name.
    const bool dollar = !name.empty() && name.front() == '$';
    // `pos` is where the next name level starts, or `done` once every level
    // is consumed; `n` is the node reached by the levels before `pos`.
    const node* n = root;
    std::size_t pos = 0;
    enum class step { enter, try_plus, leave } s = step::enter;
    for (;;) {
      switch (s) {
        case step::enter: {
          if (n->hash && (n != root || !dollar)) emit(*n->hash, f);  // '#' matches the parent level too
          if (pos == done) {
            emit(*n, f);
            s = step::leave;
            break;
          }
          s = step::try_plus;
          if (!n->children.empty()) {
            const std::size_t end = level_end(name, pos);
            auto it = n->children.find(name.substr(pos, end - pos));
            if (it != n->children.end()) {
              n = it->second.get();
              pos = next_level(name, end);
              s = step::enter;
            }
          }
          break;
        }
        case step::try_plus:
          s = step::leave;
          if (n->plus && (n != root || !dollar)) {
            n = n->plus.get();
            pos = next_level(name, level_end(name, pos));
            s = step::enter;
          }
          break;
        case step::leave:
          if (n == root) return;
          pos = previous_level(name, pos);
          s = n->via == edge::plus ? step::leave : step::try_plus;
          n = n->parent;
          break;
      }
    }
  }

  // Calls f(const Key&, const Value&, std::string_view filter) once for each
  // entry, in no particular order. `f` must not change the trie.
  template <class F>
  void for_each(F&& f) const {
    if (!root_) return;
    std::vector<const node*> stack{root_.get()};
    while (!stack.empty()) {
      const node* n = stack.back();
      stack.pop_back();
      emit(*n, f);
      push_children(*n, stack);
    }
  }

  // The number of (filter, key) entries.
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Changes with every change of the entries (insert, erase, clear, move):
  // the references match() and find() hand out stay valid while it holds.
  std::uint64_t version() const noexcept { return version_; }

  // The number of nodes, root included (0 before any insert and after clear):
  // one per distinct filter prefix. For tests and diagnostics; walks the trie.
  std::size_t node_count() const {
    if (!root_) return 0;
    std::size_t count = 0;
    std::vector<const node*> stack{root_.get()};
    while (!stack.empty()) {
      const node* n = stack.back();
      stack.pop_back();
      ++count;
      push_children(*n, stack);
    }
    return count;
  }

  // Removes every entry. Iterative: no recursion however deep the trie.
  void clear() noexcept {
    ++version_;
    size_ = 0;
    if (!root_) return;
    // Unlink the nodes into a list threaded through `parent` (which clear no
    // longer needs), then free them one by one, each with no children left,
    // so no destructor recurses and nothing is allocated.
    node* list = nullptr;
    auto unlink_children = [&list](node& n) noexcept {
      auto push = [&list](std::unique_ptr<node>& p) noexcept {
        if (!p) return;
        node* c = p.release();
        c->parent = list;
        list = c;
      };
      push(n.plus);
      push(n.hash);
      for (auto& [level, child] : n.children) push(child);
      n.children.clear();
    };
    unlink_children(*root_);
    while (list) {
      node* n = list;
      list = n->parent;
      unlink_children(*n);
      delete n;  // owned through `list` since release() above
    }
    root_.reset();
  }

 private:
  enum class edge : unsigned char { literal, plus, hash };
  struct entry {
    Key key;
    Value value;
  };
  struct node;
  using children_map = boost::unordered_flat_map<std::string, std::unique_ptr<node>, tern::string_hash, std::equal_to<>>;
  using key_index = boost::unordered_flat_map<Key, std::size_t, KeyHash, KeyEqual>;

  struct node {
    node* parent = nullptr;
    edge via = edge::literal;         // which slot of `parent` holds this node
    children_map children;            // literal levels
    std::unique_ptr<node> plus;       // the '+' level
    std::unique_ptr<node> hash;       // the '#' level (never has children)
    boost::container::small_vector<entry, 1> entries;  // of the filter ending here
    std::unique_ptr<key_index> index;  // key -> position in entries, for big nodes
    std::string filter;                // the filter ending here, while entries is non-empty

    bool unused() const noexcept { return entries.empty() && children.empty() && !plus && !hash; }
  };

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  static constexpr std::size_t done = npos;
  static constexpr std::size_t index_above = 16;  // build a key index past this many entries
  static constexpr std::size_t index_below = 4;   // and drop it below this many

  template <class F>
  static void emit(const node& n, F& f) {
    for (const entry& e : n.entries) f(std::as_const(e.key), std::as_const(e.value), std::string_view(n.filter));
  }

  static void push_children(const node& n, std::vector<const node*>& stack) {
    if (n.hash) stack.push_back(n.hash.get());
    if (n.plus) stack.push_back(n.plus.get());
    for (const auto& [level, child] : n.children) stack.push_back(child.get());
  }

  // The end of the name level starting at `pos`.
  static std::size_t level_end(std::string_view s, std::size_t pos) noexcept {
    const std::size_t e = s.find('/', pos);
    return e == std::string_view::npos ? s.size() : e;
  }
  // The start of the level after the one ending at `end`, or `done`.
  static std::size_t next_level(std::string_view s, std::size_t end) noexcept {
    return end == s.size() ? done : end + 1;
  }
  // The start of the level before `pos` (the inverse of next_level).
  static std::size_t previous_level(std::string_view s, std::size_t pos) noexcept {
    const std::size_t end = pos == done ? s.size() : pos - 1;
    if (end == 0) return 0;
    const std::size_t slash = s.rfind('/', end - 1);
    return slash == std::string_view::npos ? 0 : slash + 1;
  }

  std::size_t find_entry(const node& n, const Key& key) const {
    if (n.index) {
      auto it = n.index->find(key);
      return it == n.index->end() ? npos : it->second;
    }
    for (std::size_t i = 0; i < n.entries.size(); ++i)
      if (KeyEqual{}(n.entries[i].key, key)) return i;
    return npos;
  }

  static void build_index(node& n) {
    try {
      auto index = std::make_unique<key_index>();
      index->reserve(n.entries.size());
      for (std::size_t i = 0; i < n.entries.size(); ++i) index->emplace(n.entries[i].key, i);
      n.index = std::move(index);
    } catch (...) {
      // Without an index the node still works, by linear search.
    }
  }

  static std::unique_ptr<node> make_child(node* parent, edge via) {
    auto c = std::make_unique<node>();
    c->parent = parent;
    c->via = via;
    return c;
  }

  // Walks `filter` level by level from `n`, calling step(node, level, last)
  // to step to the next node; stops early when it returns nullptr.
  template <class Step>
  static node* walk(node* n, std::string_view filter, Step step) {
    std::size_t pos = 0;
    while (n) {
      const std::size_t end = level_end(filter, pos);
      const bool last = end == filter.size();
      n = step(*n, filter.substr(pos, end - pos), last);
      if (last) break;
      pos = end + 1;
    }
    return n;
  }

  node* find_or_create(std::string_view filter) {
    return walk(root_.get(), filter, [](node& n, std::string_view level, bool last) -> node* {
      if (level == "#" && last) {
        if (!n.hash) n.hash = make_child(&n, edge::hash);
        return n.hash.get();
      }
      if (level == "+") {
        if (!n.plus) n.plus = make_child(&n, edge::plus);
        return n.plus.get();
      }
      auto it = n.children.find(level);
      if (it == n.children.end()) it = n.children.emplace(std::string(level), make_child(&n, edge::literal)).first;
      return it->second.get();
    });
  }

  node* find_node(std::string_view filter) const {
    return walk(root_.get(), filter, [](node& n, std::string_view level, bool last) -> node* {
      if (level == "#" && last) return n.hash.get();
      if (level == "+") return n.plus.get();
      auto it = n.children.find(level);
      return it == n.children.end() ? nullptr : it->second.get();
    });
  }

  // Removes `n` (reached by `filter`) and its ancestors while they are unused.
  void prune(node* n, std::string_view filter) noexcept {
    std::size_t end = filter.size();  // `filter` up to `end` leads to `n`
    while (n && n != root_.get() && n->unused()) {
      node* p = n->parent;
      const std::size_t slash = end == 0 ? std::string_view::npos : filter.rfind('/', end - 1);
      const std::size_t start = slash == std::string_view::npos ? 0 : slash + 1;
      switch (n->via) {
        case edge::hash: p->hash.reset(); break;
        case edge::plus: p->plus.reset(); break;
        case edge::literal: {
          auto it = p->children.find(filter.substr(start, end - start));
          assert(it != p->children.end() && it->second.get() == n);
          p->children.erase(it);
          break;
        }
      }
      n = p;
      end = start == 0 ? 0 : start - 1;
    }
  }

  std::unique_ptr<node> root_;
  std::size_t size_ = 0;
  std::uint64_t version_ = 0;
};

}  // namespace tern::topic
