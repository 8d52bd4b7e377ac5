// tern/storage/facades.hpp (internal to storage): the four interfaces of a
// store over one backend object. Writes become one-operation write_batches
// given to the backend's write_one(); reads call the backend's read_* and
// for_each_* functions. Both backends use these, so their direct writes
// behave alike by construction.
#pragma once

#include "tern/storage/storage.hpp"

namespace tern::storage::detail {

template <class Backend>
class retained_facade final : public retain_store {
 public:
  explicit retained_facade(Backend& b) : b_(b) {}
  void put(const publish_packet& m, time_point now) override {
    write_batch w;
    w.put_retained(m, now);
    b_.write_one(w);
  }
  void match(std::string_view filter, time_point now, const std::function<void(const publish_packet&)>& f) override {
    b_.match_retained(filter, now, f);
  }
  std::size_t size() const override { return b_.retained_size(); }

 private:
  Backend& b_;
};

template <class Backend>
class session_facade final : public session_store {
 public:
  explicit session_facade(Backend& b) : b_(b) {}
  void save(const session_record& s) override {
    write_batch w;
    w.save_session(s);
    b_.write_one(w);
  }
  std::optional<session_record> load(std::string_view client_id) override { return b_.load_session(client_id); }
  void erase(std::string_view client_id) override {
    write_batch w;
    w.erase_session(client_id);
    b_.write_one(w);
  }
  void for_each(const std::function<void(const session_record&)>& f) override { b_.for_each_session(f); }

 private:
  Backend& b_;
};

template <class Backend>
class message_facade final : public message_store {
 public:
  explicit message_facade(Backend& b) : b_(b) {}
  void append(std::string_view client_id, std::uint64_t seq, const publish_packet& m, time_point now) override {
    write_batch w;
    w.append(client_id, seq, m, now);
    b_.write_one(w);
  }
  void erase_queued(std::string_view client_id, std::uint64_t seq) override {
    write_batch w;
    w.erase_queued(client_id, seq);
    b_.write_one(w);
  }
  void set_inflight(std::string_view client_id, std::uint64_t seq, std::uint16_t packet_id, inflight_phase phase,
                    const publish_packet& m) override {
    write_batch w;
    w.set_inflight(client_id, seq, packet_id, phase, m);
    b_.write_one(w);
  }
  void erase_inflight(std::string_view client_id, std::uint16_t packet_id) override {
    write_batch w;
    w.erase_inflight(client_id, packet_id);
    b_.write_one(w);
  }
  void add_incoming_qos2(std::string_view client_id, std::uint16_t packet_id) override {
    write_batch w;
    w.add_incoming_qos2(client_id, packet_id);
    b_.write_one(w);
  }
  void erase_incoming_qos2(std::string_view client_id, std::uint16_t packet_id) override {
    write_batch w;
    w.erase_incoming_qos2(client_id, packet_id);
    b_.write_one(w);
  }
  void erase_session(std::string_view client_id) override {
    write_batch w;
    w.erase_messages(client_id);
    b_.write_one(w);
  }
  void for_each(std::string_view client_id, const std::function<void(const message_record&)>& f) override {
    b_.for_each_message(client_id, f);
  }
  void for_each_queued(std::string_view client_id, std::uint64_t from_seq, std::size_t max,
                       const std::function<void(const message_record&)>& f) override {
    if (max > 0) b_.for_each_queued(client_id, from_seq, max, f);
  }
  std::optional<std::uint64_t> last_seq(std::string_view client_id) override { return b_.last_seq(client_id); }

 private:
  Backend& b_;
};

template <class Backend>
class will_facade final : public will_store {
 public:
  explicit will_facade(Backend& b) : b_(b) {}
  void put(std::string_view client_id, const will_message& w, time_point due) override {
    write_batch b;
    b.put_will(client_id, w, due);
    b_.write_one(b);
  }
  void erase(std::string_view client_id) override {
    write_batch b;
    b.erase_will(client_id);
    b_.write_one(b);
  }
  void for_each(const std::function<void(const will_record&)>& f) override { b_.for_each_will(f); }

 private:
  Backend& b_;
};

}  // namespace tern::storage::detail
