#include "tern/client/persistence.hpp"

#include <algorithm>

namespace tern::client_detail {

storage::storage_result<std::unique_ptr<persistent_session>> persistent_session::open(const persistence_options& o,
                                                                                      const log::logger& log,
                                                                                      session::time_point now,
                                                                                      std::int64_t unix_ms) {
  storage::rocksdb_options ro;
  ro.dir = o.dir;
  ro.durability = o.durability;
  ro.on_corruption = storage::corruption_policy::move_aside;
  ro.clock = {now, unix_ms};
  ro.log = [log](storage::log_level l, std::string_view m) {
    switch (l) {
      case storage::log_level::info: return log.info("{}", m);
      case storage::log_level::warning: return log.warn("{}", m);
      case storage::log_level::error: return log.error("{}", m);
    }
  };
  auto s = storage::make_rocksdb_store(ro);
  if (!s) return s.error();
  return std::make_unique<persistent_session>(std::move(*s));
}

restored_session persistent_session::load(std::string client_id, std::uint64_t processed) {
  batch_.clear();
  marker_dirty_ = false;
  key_ = std::move(client_id);
  inbox_key_ = key_;
  inbox_key_.push_back('\0');
  inbox_key_ += "inbox";

  restored_session out;
  auto& messages = store_->messages();
  std::uint64_t last = 0;
  messages.for_each(key_, [&](const storage::message_record& r) {
    last = std::max(last, r.seq);
    switch (r.kind) {
      case storage::record_kind::outgoing: {
        session::outgoing o{r.message, static_cast<enum session::outgoing::phase>(r.phase), 0, r.seq};
        o.message.packet_id = r.packet_id;
        // Released messages are stored without their body: only PUBREL is resent.
        if (o.phase == session::outgoing::phase::awaiting_comp) o.message.qos = qos::exactly_once;
        out.inflight.push_back(std::move(o));
        break;
      }
      case storage::record_kind::queued: {
        auto m = r.message;
        m.packet_id = 0;
        m.dup = false;
        out.queued.push_back({std::move(m), r.queued_at, r.seq});
        break;
      }
      case storage::record_kind::incoming_qos2: out.incoming_qos2.push_back(r.packet_id); break;
    }
  });
  next_seq_ = std::max(next_seq_, last + 1);

  std::uint64_t last_number = 0;
  messages.for_each(inbox_key_, [&](const storage::message_record& r) {
    last_number = std::max(last_number, r.seq);
    if (r.kind != storage::record_kind::queued) return;  // the marker
    if (r.seq <= processed) {
      batch_.erase_queued(inbox_key_, r.seq);
      ++out.skipped;
      return;
    }
    out.inbox.push_back({r.message, r.seq, true});
  });
  // A number the application has processed is never given again, even if
  // the store lost its records (moved aside as damaged).
  next_number_ = std::max({next_number_, last_number + 1, processed + 1});
  return out;
}


// ---------------------------------------------------------------- offline queue

void persistent_session::queue(std::uint64_t seq, const publish_packet& m, session::time_point now) {
  batch_.append(key_, seq, m, now);
}

void persistent_session::forget_session(const session::state& s) {
  for (const auto& [id, o] : s.outgoing_messages()) batch_.erase_inflight(key_, id);
  for (auto id : s.incoming_qos2_ids()) batch_.erase_incoming_qos2(key_, id);
}

// ---------------------------------------------------------------- received messages

std::uint64_t persistent_session::received(const publish_packet& m, session::time_point now) {
  const auto n = next_number_++;
  auto stored = m;
  stored.packet_id = 0;
  stored.dup = false;
  batch_.append(inbox_key_, n, stored, now);
  marker_dirty_ = true;
  return n;
}

storage::storage_result<void> persistent_session::delivered(std::uint64_t number) {
  batch_.erase_queued(inbox_key_, number);
  if (auto r = store_->commit(batch_, storage::wait_for::written); !r) return r.error();
  batch_.clear();
  unsynced_ = true;
  return {};
}

storage::storage_result<void> persistent_session::commit() {
  if (marker_dirty_) {
    batch_.set_inflight(inbox_key_, next_number_ - 1, 0, storage::inflight_phase::awaiting_comp, {});
    marker_dirty_ = false;
  }
  if (batch_.empty() && !unsynced_) return {};
  if (auto r = store_->commit(batch_, storage::wait_for::durable); !r) return r.error();
  batch_.clear();
  unsynced_ = false;
  return {};
}

}  // namespace tern::client_detail
