// tern/storage/records.hpp (internal to storage): the keys and values of the
// RocksDB backend. Messages are PUBLISH packets encoded by the codec for MQTT
// 5.0 after a small header; wills are a CONNECT carrying the will. Every
// value starts with a format byte (1). Integers are big-endian, so keys of
// one client sort by seq or packet id.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tern/core/result.hpp"
#include "tern/storage/rocksdb_store.hpp"

namespace tern::storage::detail {

// Maps time_points to Unix milliseconds and back, through the open's anchor.
class time_base {
 public:
  explicit time_base(clock_anchor a) noexcept : anchor_(a) {}
  std::int64_t to_unix_ms(time_point t) const noexcept {
    return anchor_.unix_ms + std::chrono::floor<std::chrono::milliseconds>(t - anchor_.now).count();
  }
  time_point from_unix_ms(std::int64_t ms) const noexcept {
    return anchor_.now + std::chrono::milliseconds(ms - anchor_.unix_ms);
  }

 private:
  clock_anchor anchor_;
};

// ---- keys of the "messages" column family ----
inline constexpr char kind_incoming = 'i';
inline constexpr char kind_outgoing = 'o';
inline constexpr char kind_queued = 'q';

// Every key of the client starts with this: its id's length (2 bytes) and id.
std::string client_prefix(std::string_view client_id);
std::string queued_key(std::string_view client_id, std::uint64_t seq);
std::string outgoing_key(std::string_view client_id, std::uint16_t packet_id);
std::string incoming_key(std::string_view client_id, std::uint16_t packet_id);

struct message_key {
  std::string_view client_id;
  char kind = 0;
  std::uint64_t id = 0;  // seq or packet id
};
std::optional<message_key> parse_message_key(std::string_view key);

// ---- values ----
struct retained_value {
  publish_packet message;
  std::int64_t stored_ms = 0;
  std::optional<std::int64_t> expires_ms;  // absolute; nullopt: never
};
std::string encode_retained(const publish_packet& m, std::int64_t stored_ms, std::optional<std::int64_t> expires_ms);
result<retained_value> decode_retained(std::string_view value);

std::string encode_queued(const publish_packet& m, std::int64_t queued_ms);
// kind, seq and packet id come from the key.
result<message_record> decode_message(const message_key& key, std::string_view value, const time_base& t);
std::string encode_outgoing(std::uint64_t seq, inflight_phase phase, const publish_packet& m);
std::string encode_incoming();

std::string encode_session(const session_record& s, const time_base& t);
result<session_record> decode_session(std::string_view client_id, std::string_view value, const time_base& t);

std::string encode_will(std::string_view client_id, const will_message& w, std::int64_t due_ms);
result<will_record> decode_will(std::string_view client_id, std::string_view value, const time_base& t);

}  // namespace tern::storage::detail
