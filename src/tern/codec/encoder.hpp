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
#include <vector>

#include "tern/codec/packet.hpp"

namespace tern {

// The encoded size of `p`, fixed header included.
std::size_t encoded_size(const packet& p, protocol_version v);
std::size_t encoded_size(const publish_packet& p, protocol_version v);

// Writes `p` at `out`, which has room for encoded_size(p, v) bytes; returns
// the end of what was written.
std::byte* encode_to(const packet& p, protocol_version v, std::byte* out);

// `p` as one contiguous byte vector.
std::vector<std::byte> encode(const packet& p, protocol_version v);

// Packets queued for one gathered write.
class write_buffer {
 public:
  // Payloads at least this large are referenced, not copied.
  static constexpr std::size_t share_threshold = 256;

  void append(const packet& p, protocol_version v);
  void append(const publish_packet& p, protocol_version v);

  // The buffers to write, in order. Valid until the next append or clear.
  const std::vector<bytes_view>& buffers();
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Forgets everything; keeps the capacity.
  void clear() noexcept;

 private:
  struct piece {
    std::size_t offset = 0;  // into bytes_, when shared is empty
    std::size_t length = 0;
    shared_bytes shared;
  };
  std::byte* grow(std::size_t n);

  std::vector<std::byte> bytes_;
  std::vector<piece> pieces_;
  std::vector<bytes_view> views_;
  std::size_t size_ = 0;
};

}  // namespace tern
