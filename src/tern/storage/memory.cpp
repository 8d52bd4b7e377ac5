#include <map>
#include <mutex>
#include <unordered_map>

#include "tern/storage/storage.hpp"
#include "tern/topic/topic.hpp"

namespace tern::storage {
namespace {

// The remaining Message Expiry Interval of a message stored at `stored`, or
// nullopt when it has expired. Messages without the property never expire.
std::optional<properties> remaining_expiry(const publish_packet& m, time_point stored, time_point now,
                                           bool& expired) {
  expired = false;
  auto interval = m.props().get<property_id::message_expiry_interval>();
  if (!interval) return std::nullopt;
  auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - stored).count();
  if (waited >= static_cast<long long>(*interval)) {
    expired = true;
    return std::nullopt;
  }
  if (waited == 0) return std::nullopt;
  properties::builder b;
  m.props().for_each([&](const property& p) {
    if (p.id == property_id::message_expiry_interval) {
      b.add<property_id::message_expiry_interval>(*interval - static_cast<std::uint32_t>(waited));
    } else {
      (void)b.add(p);
    }
  });
  return b.build();
}

class memory_retain_store final : public retain_store {
 public:
  void put(const publish_packet& m, time_point now) override {
    std::lock_guard lock(mutex_);
    if (m.payload().empty()) {
      messages_.erase(std::string(m.topic()));
      return;
    }
    publish_packet copy = m;
    copy.dup = false;
    copy.packet_id = 0;
    messages_.insert_or_assign(std::string(m.topic()), entry{std::move(copy), now});
  }

  void match(std::string_view filter, time_point now, const std::function<void(const publish_packet&)>& f) override {
    std::vector<publish_packet> found;
    {
      std::lock_guard lock(mutex_);
      auto visit = [&](auto it) {
        bool expired = false;
        auto props = remaining_expiry(it->second.message, it->second.stored, now, expired);
        if (expired) return true;
        found.push_back(it->second.message);
        if (props) found.back().set_props(std::move(*props));
        return false;
      };
      if (!topic::has_wildcard(filter)) {
        auto it = messages_.find(std::string(filter));
        if (it != messages_.end() && visit(it)) messages_.erase(it);
      } else {
        for (auto it = messages_.begin(); it != messages_.end();) {
          if (topic::matches(filter, it->first) && visit(it)) {
            it = messages_.erase(it);
          } else {
            ++it;
          }
        }
      }
    }
    for (const auto& m : found) f(m);  // outside the lock: f may publish
  }

  std::size_t size() const override {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }

 private:
  struct entry {
    publish_packet message;
    time_point stored;
  };
  mutable std::mutex mutex_;
  std::map<std::string, entry, std::less<>> messages_;
};

class memory_session_store final : public session_store {
 public:
  void save(const session_record& s) override {
    std::lock_guard lock(mutex_);
    sessions_.insert_or_assign(s.client_id, s);
  }
  std::optional<session_record> load(std::string_view client_id) override {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(client_id);
    if (it == sessions_.end()) return std::nullopt;
    return it->second;
  }
  void erase(std::string_view client_id) override {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(client_id);
    if (it != sessions_.end()) sessions_.erase(it);
  }
  void for_each(const std::function<void(const session_record&)>& f) override {
    std::vector<session_record> all;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [k, v] : sessions_) all.push_back(v);
    }
    for (const auto& s : all) f(s);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, session_record, std::less<>> sessions_;
};

class memory_store final : public store {
 public:
  retain_store& retained() override { return retained_; }
  session_store& sessions() override { return sessions_; }

 private:
  memory_retain_store retained_;
  memory_session_store sessions_;
};

}  // namespace

std::unique_ptr<store> make_memory_store() { return std::make_unique<memory_store>(); }

}  // namespace tern::storage
