// tern/storage/retained_index.hpp (internal to storage): the retained
// messages by topic, with Message Expiry, as both backends keep them in
// memory (RocksDB writes them through and loads them at open).
//
// Thread safety: none; the backend locks.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tern/storage/storage.hpp"

namespace tern::storage::detail {

class retained_index {
 public:
  // Stores `m` (normalised by write_batch) as its topic's retained message,
  // stored at `now`; an empty payload removes the topic's message.
  void put(const publish_packet& m, time_point now);
  // The messages whose topic matches `filter` and has not expired at `now`,
  // carrying their remaining expiry interval. Expired ones are forgotten,
  // their topics added to `expired`.
  std::vector<publish_packet> match(std::string_view filter, time_point now, std::vector<std::string>& expired);
  std::size_t size() const noexcept { return messages_.size(); }

 private:
  struct entry {
    publish_packet message;
    time_point stored;
  };
  std::map<std::string, entry, std::less<>> messages_;
};

// When `m`, stored at `stored`, expires; nullopt for never.
std::optional<time_point> expiry_of(const publish_packet& m, time_point stored);

}  // namespace tern::storage::detail
