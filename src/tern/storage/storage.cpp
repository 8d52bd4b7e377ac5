#include "tern/storage/storage.hpp"

#include <algorithm>
#include <string>

namespace tern::storage {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tern.storage"; }
  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::io_error:
        return "storage I/O error";
      case errc::corruption:
        return "storage data is corrupted";
      case errc::damaged:
        return "the store is damaged";
      case errc::locked:
        return "the store is in use by another process";
      case errc::unsupported_format:
        return "the store was written by a newer version";
      case errc::invalid_argument:
        return "invalid storage option";
    }
    return "unknown storage error";
  }
};

}  // namespace

const std::error_category& storage_category() noexcept {
  static const category c;
  return c;
}

void throw_exception_from_error(const storage_error& e, const boost::source_location&) {
  throw std::system_error(e.code, e.message);
}

void write_batch::put_retained(const publish_packet& m, time_point now) {
  publish_packet copy = m;
  copy.dup = false;
  copy.packet_id = 0;
  ops_.emplace_back(put_retained_op{std::move(copy), now});
}

void write_batch::save_session(session_record s) { ops_.emplace_back(save_session_op{std::move(s)}); }

void write_batch::erase_session(std::string_view client_id) {
  ops_.emplace_back(erase_session_op{std::string(client_id)});
}

void write_batch::append(std::string_view client_id, std::uint64_t seq, const publish_packet& m, time_point now) {
  publish_packet copy = m;
  copy.dup = false;
  copy.packet_id = 0;
  if (appended_.empty()) appended_sorted_ = true;
  else if (appended_.back().first >= seq) appended_sorted_ = false;
  appended_.emplace_back(seq, ops_.size());
  ops_.emplace_back(append_op{std::string(client_id), seq, std::move(copy), now});
}

void write_batch::erase_queued(std::string_view client_id, std::uint64_t seq) {
  // Brokers number messages from one counter per store and append in that
  // order, so the appends are sorted and found by binary search.
  auto it = appended_.end();
  if (appended_sorted_) {
    auto lb = std::lower_bound(appended_.begin(), appended_.end(), std::make_pair(seq, std::size_t{0}));
    if (lb != appended_.end() && lb->first == seq) it = lb;
  } else {
    it = std::find_if(appended_.begin(), appended_.end(), [&](const auto& a) { return a.first == seq; });
  }
  for (; it != appended_.end() && it->first == seq; ++it) {
    auto* a = std::get_if<append_op>(&ops_[it->second]);
    if (a && a->client_id == client_id) {
      ops_[it->second] = cancelled_op{};
      return;
    }
    if (!appended_sorted_) break;
  }
  ops_.emplace_back(erase_queued_op{std::string(client_id), seq});
}

void write_batch::set_inflight(std::string_view client_id, std::uint64_t seq, std::uint16_t packet_id,
                               inflight_phase phase, const publish_packet& m) {
  publish_packet copy;
  if (!m.topic().empty()) {
    copy = m;
    copy.packet_id = packet_id;
    if (copy.qos == qos::at_most_once) copy.dup = false;
  }
  ops_.emplace_back(set_inflight_op{std::string(client_id), seq, packet_id, phase, std::move(copy)});
}

void write_batch::erase_inflight(std::string_view client_id, std::uint16_t packet_id) {
  ops_.emplace_back(erase_inflight_op{std::string(client_id), packet_id});
}

void write_batch::add_incoming_qos2(std::string_view client_id, std::uint16_t packet_id) {
  ops_.emplace_back(add_incoming_op{std::string(client_id), packet_id});
}

void write_batch::erase_incoming_qos2(std::string_view client_id, std::uint16_t packet_id) {
  ops_.emplace_back(erase_incoming_op{std::string(client_id), packet_id});
}

void write_batch::erase_messages(std::string_view client_id) {
  ops_.emplace_back(erase_messages_op{std::string(client_id)});
}

void write_batch::put_will(std::string_view client_id, const will_message& w, time_point due) {
  ops_.emplace_back(put_will_op{std::string(client_id), w, due});
}

void write_batch::erase_will(std::string_view client_id) { ops_.emplace_back(erase_will_op{std::string(client_id)}); }

void write_batch::forget_client(std::string_view client_id) {
  erase_session(client_id);
  erase_messages(client_id);
  erase_will(client_id);
}

}  // namespace tern::storage
