// The memory backend: every interface over maps under one mutex. Lost when
// the process ends; the reference the RocksDB backend is tested against.
#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "tern/storage/facades.hpp"
#include "tern/storage/retained_index.hpp"
#include "tern/storage/storage.hpp"

namespace tern::storage {
namespace {

template <class Map>
void erase_key(Map& m, std::string_view key) {
  auto it = m.find(key);
  if (it != m.end()) m.erase(it);
}

class memory_store final : public store {
 public:
  retain_store& retained() override { return retained_facade_; }
  session_store& sessions() override { return session_facade_; }
  message_store& messages() override { return message_facade_; }
  will_store& wills() override { return will_facade_; }

  storage_result<void> commit(const write_batch& b, wait_for) override {
    if (b.empty()) return {};
    std::lock_guard lock(mutex_);
    for (const auto& op : b.ops()) std::visit([this](const auto& o) { apply(o); }, op);
    ++stats_.commits;
    stats_.operations += b.size();
    return {};
  }
  storage_result<void> sync() override { return {}; }
  store_stats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  // ---- for the facades ----
  void write_one(const write_batch& b) { (void)commit(b, wait_for::durable); }

  void match_retained(std::string_view filter, time_point now, const std::function<void(const publish_packet&)>& f) {
    std::vector<publish_packet> found;
    {
      std::lock_guard lock(mutex_);
      std::vector<std::string> expired;
      found = retained_.match(filter, now, expired);
    }
    for (const auto& m : found) f(m);  // outside the lock: f may publish
  }
  std::size_t retained_size() const {
    std::lock_guard lock(mutex_);
    return retained_.size();
  }

  std::optional<session_record> load_session(std::string_view client_id) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(client_id);
    if (it == sessions_.end()) return std::nullopt;
    return it->second;
  }
  void for_each_session(const std::function<void(const session_record&)>& f) {
    std::vector<session_record> all;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [k, v] : sessions_) all.push_back(v);
    }
    for (const auto& s : all) f(s);
  }

  void for_each_message(std::string_view client_id, const std::function<void(const message_record&)>& f) {
    std::vector<message_record> all;
    {
      std::lock_guard lock(mutex_);
      auto it = messages_.find(client_id);
      if (it == messages_.end()) return;
      const auto& c = it->second;
      for (const auto& [id, r] : c.outgoing) all.push_back(r);
      std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
      for (const auto& [seq, r] : c.queued) all.push_back(r);
      for (auto id : c.incoming) all.push_back(message_record{record_kind::incoming_qos2, 0, id, {}, {}, {}});
    }
    for (const auto& r : all) f(r);
  }
  void for_each_queued(std::string_view client_id, std::uint64_t from_seq, std::size_t max,
                       const std::function<void(const message_record&)>& f) {
    std::vector<message_record> some;
    {
      std::lock_guard lock(mutex_);
      auto it = messages_.find(client_id);
      if (it == messages_.end()) return;
      const auto& q = it->second.queued;
      for (auto i = q.lower_bound(from_seq); i != q.end() && some.size() < max; ++i) some.push_back(i->second);
    }
    for (const auto& r : some) f(r);
  }
  std::optional<std::uint64_t> last_seq(std::string_view client_id) {
    std::lock_guard lock(mutex_);
    auto it = messages_.find(client_id);
    if (it == messages_.end()) return std::nullopt;
    std::optional<std::uint64_t> last;
    if (!it->second.queued.empty()) last = it->second.queued.rbegin()->first;
    for (const auto& [id, r] : it->second.outgoing)
      if (!last || r.seq > *last) last = r.seq;
    return last;
  }

  void for_each_will(const std::function<void(const will_record&)>& f) {
    std::vector<will_record> all;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [k, v] : wills_) all.push_back(v);
    }
    for (const auto& w : all) f(w);
  }

 private:
  struct client_messages {
    std::map<std::uint64_t, message_record> queued;
    std::map<std::uint16_t, message_record> outgoing;
    std::set<std::uint16_t> incoming;
    bool empty() const { return queued.empty() && outgoing.empty() && incoming.empty(); }
  };

  // Forgets the client's entry once it holds nothing.
  void tidy(std::string_view client_id) {
    auto it = messages_.find(client_id);
    if (it != messages_.end() && it->second.empty()) messages_.erase(it);
  }

  void apply(const write_batch::put_retained_op& o) { retained_.put(o.message, o.now); }
  void apply(const write_batch::save_session_op& o) { sessions_.insert_or_assign(o.session.client_id, o.session); }
  void apply(const write_batch::erase_session_op& o) { erase_key(sessions_, o.client_id); }
  void apply(const write_batch::append_op& o) {
    messages_[o.client_id].queued.insert_or_assign(o.seq,
                                                   message_record{record_kind::queued, o.seq, 0, {}, o.message, o.now});
  }
  void apply(const write_batch::erase_queued_op& o) {
    auto it = messages_.find(o.client_id);
    if (it == messages_.end()) return;
    it->second.queued.erase(o.seq);
    tidy(o.client_id);
  }
  void apply(const write_batch::set_inflight_op& o) {
    messages_[o.client_id].outgoing.insert_or_assign(
        o.packet_id, message_record{record_kind::outgoing, o.seq, o.packet_id, o.phase, o.message, {}});
  }
  void apply(const write_batch::erase_inflight_op& o) {
    auto it = messages_.find(o.client_id);
    if (it == messages_.end()) return;
    it->second.outgoing.erase(o.packet_id);
    tidy(o.client_id);
  }
  void apply(const write_batch::add_incoming_op& o) { messages_[o.client_id].incoming.insert(o.packet_id); }
  void apply(const write_batch::erase_incoming_op& o) {
    auto it = messages_.find(o.client_id);
    if (it == messages_.end()) return;
    it->second.incoming.erase(o.packet_id);
    tidy(o.client_id);
  }
  void apply(const write_batch::erase_messages_op& o) { erase_key(messages_, o.client_id); }
  void apply(const write_batch::put_will_op& o) {
    wills_.insert_or_assign(o.client_id, will_record{o.client_id, o.will, o.due});
  }
  void apply(const write_batch::erase_will_op& o) { erase_key(wills_, o.client_id); }
  void apply(const write_batch::cancelled_op&) {}

  mutable std::mutex mutex_;
  detail::retained_index retained_;
  std::map<std::string, session_record, std::less<>> sessions_;
  std::map<std::string, client_messages, std::less<>> messages_;
  std::map<std::string, will_record, std::less<>> wills_;
  store_stats stats_;
  detail::retained_facade<memory_store> retained_facade_{*this};
  detail::session_facade<memory_store> session_facade_{*this};
  detail::message_facade<memory_store> message_facade_{*this};
  detail::will_facade<memory_store> will_facade_{*this};
};

}  // namespace

std::unique_ptr<store> make_memory_store() { return std::make_unique<memory_store>(); }

}  // namespace tern::storage
