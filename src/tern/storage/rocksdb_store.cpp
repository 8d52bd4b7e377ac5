// The RocksDB backend, running: committing write batches (group commit,
// the durability policies) and the reads the store's facades make. Opening
// and recovery are rocksdb_open.cpp's; see rocksdb_store.hpp for the layout.
#include <rocksdb/write_batch.h>

#include <algorithm>

#include "tern/storage/rocksdb_backend.hpp"

namespace tern::storage::detail {

storage_result<void> rocksdb_store::commit(const write_batch& b, wait_for w) {
  if (b.empty()) {
    // Nothing to write; with fsync, durable still covers earlier written commits.
    if (w != wait_for::durable || options_.durability != durability::fsync) return {};
    if (auto s = db_->SyncWAL(); !s.ok()) return to_error(s, "storage: commit");
    synced_commits_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  rocksdb::WriteBatch wb;
  rocksdb::Status s;
  bool has_retained = false;
  auto keep = [&](rocksdb::Status st) {
    if (s.ok() && !st.ok()) s = std::move(st);
  };
  for (const auto& op : b.ops()) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, write_batch::put_retained_op>) {
            has_retained = true;
            if (o.message.payload().empty()) {
              keep(wb.Delete(handle(cf_retained), slice(o.message.topic())));
            } else {
              std::optional<std::int64_t> expires;
              if (auto e = detail::expiry_of(o.message, o.now)) expires = time_.to_unix_ms(*e);
              keep(wb.Put(handle(cf_retained), slice(o.message.topic()),
                          detail::encode_retained(o.message, time_.to_unix_ms(o.now), expires)));
            }
          } else if constexpr (std::is_same_v<T, write_batch::save_session_op>) {
            keep(wb.Put(handle(cf_sessions), slice(o.session.client_id), detail::encode_session(o.session, time_)));
          } else if constexpr (std::is_same_v<T, write_batch::erase_session_op>) {
            keep(wb.Delete(handle(cf_sessions), slice(o.client_id)));
          } else if constexpr (std::is_same_v<T, write_batch::append_op>) {
            keep(wb.Put(handle(cf_messages), detail::queued_key(o.client_id, o.seq),
                        detail::encode_queued(o.message, time_.to_unix_ms(o.now))));
          } else if constexpr (std::is_same_v<T, write_batch::erase_queued_op>) {
            keep(wb.Delete(handle(cf_messages), detail::queued_key(o.client_id, o.seq)));
          } else if constexpr (std::is_same_v<T, write_batch::set_inflight_op>) {
            keep(wb.Put(handle(cf_messages), detail::outgoing_key(o.client_id, o.packet_id),
                        detail::encode_outgoing(o.seq, o.phase, o.message)));
          } else if constexpr (std::is_same_v<T, write_batch::erase_inflight_op>) {
            keep(wb.Delete(handle(cf_messages), detail::outgoing_key(o.client_id, o.packet_id)));
          } else if constexpr (std::is_same_v<T, write_batch::add_incoming_op>) {
            keep(
                wb.Put(handle(cf_messages), detail::incoming_key(o.client_id, o.packet_id), detail::encode_incoming()));
          } else if constexpr (std::is_same_v<T, write_batch::erase_incoming_op>) {
            keep(wb.Delete(handle(cf_messages), detail::incoming_key(o.client_id, o.packet_id)));
          } else if constexpr (std::is_same_v<T, write_batch::erase_messages_op>) {
            auto from = detail::client_prefix(o.client_id);
            auto to = from + '\xff';  // every kind byte sorts below
            keep(wb.DeleteRange(handle(cf_messages), from, to));
          } else if constexpr (std::is_same_v<T, write_batch::put_will_op>) {
            keep(wb.Put(handle(cf_wills), slice(o.client_id),
                        detail::encode_will(o.client_id, o.will, time_.to_unix_ms(o.due))));
          } else if constexpr (std::is_same_v<T, write_batch::erase_will_op>) {
            keep(wb.Delete(handle(cf_wills), slice(o.client_id)));
          }
        },
        op);
  }
  if (!s.ok())
    return storage_error{make_error_code(errc::invalid_argument), "storage: building a batch: " + s.ToString()};

  auto wo = unsynced();
  wo.sync = options_.durability == durability::fsync && w == wait_for::durable;
  if (has_retained) {
    std::lock_guard lock(retained_mutex_);
    s = db_->Write(wo, &wb);
    if (s.ok())
      for (const auto& op : b.ops())
        if (const auto* r = std::get_if<write_batch::put_retained_op>(&op)) retained_.put(r->message, r->now);
  } else {
    s = db_->Write(wo, &wb);
  }
  if (!s.ok()) return to_error(s, "storage: commit");
  commits_.fetch_add(1, std::memory_order_relaxed);
  operations_.fetch_add(b.size(), std::memory_order_relaxed);
  if (wo.sync) synced_commits_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

storage_result<void> rocksdb_store::sync() {
  rocksdb::Status s;
  if (options_.durability == durability::none) {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    s = db_->Flush(fo, handles_);
  } else {
    s = db_->SyncWAL();
  }
  if (!s.ok()) return to_error(s, "storage: sync");
  return {};
}

void rocksdb_store::match_retained(std::string_view filter, time_point now,
                                   const std::function<void(const publish_packet&)>& f) {
  std::vector<publish_packet> found;
  {
    std::lock_guard lock(retained_mutex_);
    std::vector<std::string> expired;
    found = retained_.match(filter, now, expired);
    if (!expired.empty()) {
      // Not synced: if the deletion is lost, the next open finds them expired.
      rocksdb::WriteBatch wb;
      for (const auto& t : expired) (void)wb.Delete(handle(cf_retained), slice(t));
      if (auto s = db_->Write(unsynced(), &wb); !s.ok())
        log(log_level::error, "storage: forgetting expired retained messages: " + s.ToString());
    }
  }
  for (const auto& m : found) f(m);  // outside the lock: f may publish
}

std::optional<session_record> rocksdb_store::load_session(std::string_view client_id) {
  rocksdb::PinnableSlice value;
  auto s = db_->Get(rocksdb::ReadOptions{}, handle(cf_sessions), slice(client_id), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) {
    log(log_level::error, "storage: loading a session: " + s.ToString());
    return std::nullopt;
  }
  auto r = detail::decode_session(client_id, view(value), time_);
  if (!r) {
    log(log_level::warning, "storage: an unreadable session record: " + r.error().message());
    return std::nullopt;
  }
  return std::move(*r);
}

void rocksdb_store::for_each_session(const std::function<void(const session_record&)>& f) {
  scan(cf_sessions, {}, {}, [&](std::string_view key, std::string_view value) {
    if (auto r = detail::decode_session(key, value, time_)) f(*r);
    return true;
  });
}

void rocksdb_store::for_each_message(std::string_view client_id, const std::function<void(const message_record&)>& f) {
  const auto prefix = detail::client_prefix(client_id);
  std::vector<message_record> outgoing, incoming;
  auto decode = [&](std::string_view key, std::string_view value) -> std::optional<message_record> {
    auto k = detail::parse_message_key(key);
    if (!k) return std::nullopt;
    auto r = detail::decode_message(*k, value, time_);
    if (!r) return std::nullopt;
    return std::move(*r);
  };
  // Keys sort 'i' < 'o' < 'q': the small incoming and outgoing sets first.
  scan(cf_messages, prefix + detail::kind_incoming, prefix + static_cast<char>(detail::kind_outgoing + 1),
       [&](std::string_view key, std::string_view value) {
         if (auto r = decode(key, value))
           (r->kind == record_kind::outgoing ? outgoing : incoming).push_back(std::move(*r));
         return true;
       });
  std::stable_sort(outgoing.begin(), outgoing.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  for (const auto& r : outgoing) f(r);
  scan(cf_messages, prefix + detail::kind_queued, prefix + static_cast<char>(detail::kind_queued + 1),
       [&](std::string_view key, std::string_view value) {
         if (auto r = decode(key, value)) f(*r);
         return true;
       });
  for (const auto& r : incoming) f(r);
}

void rocksdb_store::for_each_queued(std::string_view client_id, std::uint64_t from_seq, std::size_t max,
                                    const std::function<void(const message_record&)>& f) {
  const auto prefix = detail::client_prefix(client_id);
  std::size_t n = 0;
  scan(cf_messages, detail::queued_key(client_id, from_seq), prefix + static_cast<char>(detail::kind_queued + 1),
       [&](std::string_view key, std::string_view value) {
         auto k = detail::parse_message_key(key);
         if (!k) return true;
         if (auto r = detail::decode_message(*k, value, time_)) {
           f(*r);
           ++n;
         }
         return n < max;
       });
}

std::optional<std::uint64_t> rocksdb_store::last_seq(std::string_view client_id) {
  const auto prefix = detail::client_prefix(client_id);
  std::optional<std::uint64_t> last;
  // The last queued key.
  {
    const auto lower = prefix + detail::kind_queued;
    const auto upper = prefix + static_cast<char>(detail::kind_queued + 1);
    rocksdb::ReadOptions ro;
    rocksdb::Slice lo = slice(lower), up = slice(upper);
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &up;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(cf_messages)));
    it->SeekToLast();
    if (it->Valid())
      if (auto k = detail::parse_message_key(view(it->key()))) last = k->id;
  }
  scan(cf_messages, prefix + detail::kind_outgoing, prefix + static_cast<char>(detail::kind_outgoing + 1),
       [&](std::string_view key, std::string_view value) {
         auto k = detail::parse_message_key(key);
         if (!k) return true;
         if (auto r = detail::decode_message(*k, value, time_); r && (!last || r->seq > *last)) last = r->seq;
         return true;
       });
  return last;
}

void rocksdb_store::for_each_will(const std::function<void(const will_record&)>& f) {
  scan(cf_wills, {}, {}, [&](std::string_view key, std::string_view value) {
    if (auto r = detail::decode_will(key, value, time_)) f(*r);
    return true;
  });
}

}  // namespace tern::storage::detail
