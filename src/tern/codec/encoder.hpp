// tern/codec/encoder.hpp: packets to bytes, for one protocol version.
//
//   auto bytes = tern::encode(tern::packet{tern::pingreq_packet{}}, tern::protocol_version::v3_1_1);
//
//   tern::write_buffer out;                      // many packets, one gathered write
//   out.append(publish, tern::protocol_version::v5);
//   out.append(tern::packet{puback}, tern::protocol_version::v5);
//   for (tern::bytes_view b : out.buffers()) ...  // writev / asio::async_write
//
// A write_buffer copies headers and small payloads into one contiguous
// region and refers to larger payloads by reference (shared_bytes), so one
// payload block serves every subscriber a message goes to.
//
// The encoder writes what it is given; it does not validate (decoding does,
// and the session checks what an application asks it to send). Fields a
// version does not have are left out.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "tern/codec/packet.hpp"

namespace tern {

// The encoded size of `p`, fixed header included.
std::size_t encoded_size(const packet& p, protocol_version v);
std::size_t encoded_size(const publish_packet& p, protocol_version v);

// Leaves out of `p` the properties named in `droppable`, one identifier at a
// time in that order, until `p` encodes in at most `maximum` bytes; true when
// it then fits. MQTT 5.0 has a sender drop a Reason String or User Property
// rather than exceed the receiver's Maximum Packet Size (MQTT-3.2.2-19/-20,
// MQTT-3.4.2-2/-3 and the like for every acknowledgement, DISCONNECT and
// AUTH); which other properties may go is the caller's decision.
//   if (!fit_to(ack, v, peer_maximum, std::array{property_id::reason_string, property_id::user_property}))
//     ;  // too large even so: not to be sent (MQTT-3.1.2-24)
bool fit_to(packet& p, protocol_version v, std::uint32_t maximum, std::span<const property_id> droppable);

// Writes `p` at `out`, which has room for encoded_size(p, v) bytes; returns
// the end of what was written.
std::byte* encode_to(const packet& p, protocol_version v, std::byte* out);

// `p` as one contiguous byte vector.
std::vector<std::byte> encode(const packet& p, protocol_version v);

// Packets queued for one gathered write.
//
// One pointer to its parts, allocated by the first append with room for
// the first copied bytes: an empty buffer (default-constructed, moved-from,
// or assigned write_buffer{}) holds no heap memory, so an idle connection's
// output costs 8 bytes, and moving or swapping buffers (a network layer
// swaps a connection's output with a pooled one) swaps a pointer. clear()
// keeps the parts and their capacity.
class write_buffer {
 public:
  // Payloads at least this large are referenced, not copied.
  static constexpr std::size_t share_threshold = 256;

  write_buffer() noexcept = default;
  write_buffer(write_buffer&&) noexcept = default;
  write_buffer& operator=(write_buffer&&) noexcept = default;
  write_buffer(const write_buffer& o) : parts_(o.parts_ ? std::make_unique<parts>(*o.parts_) : nullptr) {}
  write_buffer& operator=(const write_buffer& o) {
    if (this != &o) *this = write_buffer(o);
    return *this;
  }
  ~write_buffer() = default;
  void swap(write_buffer& o) noexcept { parts_.swap(o.parts_); }
  friend void swap(write_buffer& a, write_buffer& b) noexcept { a.swap(b); }

  void append(const packet& p, protocol_version v);
  void append(const publish_packet& p, protocol_version v);

  // The buffers to write, in order. Valid until the next append or clear.
  const std::vector<bytes_view>& buffers();
  std::size_t size() const noexcept { return parts_ ? parts_->size : 0; }
  bool empty() const noexcept { return size() == 0; }
  // Forgets everything; keeps the capacity.
  void clear() noexcept;

 private:
  // A payload referenced, not copied: it goes after the first `at` copied bytes.
  struct splice {
    std::size_t at = 0;
    shared_bytes payload;
  };
  // One allocation, with room for the first copied bytes: a buffer that
  // fills and empties (a connection's output between two writes) touches
  // this block and nothing else unless it grows or references a payload.
  struct parts {
    parts() noexcept : bytes(first) {}
    parts(const parts& o);
    parts& operator=(const parts&) = delete;

    // What append() touches first.
    std::byte* bytes;  // the copied bytes: `first`, or `grown` once larger
    std::size_t used = 0;
    std::size_t capacity = first_capacity;
    std::size_t size = 0;           // copied and referenced bytes
    std::vector<splice> splices;    // in order of `at`
    std::vector<bytes_view> views;  // what buffers() returns
    std::unique_ptr<std::byte[]> grown;
    static constexpr std::size_t first_capacity = 160;
    std::byte first[first_capacity];
  };
  parts& get() {
    if (!parts_) parts_ = std::make_unique<parts>();
    return *parts_;
  }
  static std::byte* grow(parts& b, std::size_t n);

  std::unique_ptr<parts> parts_;
};

}  // namespace tern
