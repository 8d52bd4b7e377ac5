// tern/codec/decoder.hpp: the incremental MQTT decoder. Bytes go in, in
// pieces split anywhere; whole, validated packets come out.
//
//   tern::decoder dec({.maximum_packet_size = 1 << 20});
//   tern::bytes_view in = bytes_just_read;
//   while (!in.empty()) {
//     auto r = dec.next(in);                 // consumes from `in`
//     if (!r) return close_with(r.error());  // r.error().code is the reason, .detail the rule
//     if (*r) handle(std::move(**r));        // a whole packet
//   }
//
// The decoder learns the protocol version from a CONNECT when it was built
// without one (a server), or is told it (a client). It refuses a packet
// larger than the maximum as soon as the fixed header says so, without
// buffering it. A packet's body is copied once, into one shared block that
// the packet's fields then view; that is the only allocation per PUBLISH.
// After an error the decoder stays failed and returns that error again.
//
// Thread safety: none; one decoder per connection.
#pragma once

#include <cstdint>
#include <optional>

#include "tern/codec/packet.hpp"
#include "tern/core/result.hpp"

namespace tern {

struct decoder_options {
  protocol_version version = protocol_version::unknown;
  // Largest packet accepted, fixed header included (MQTT 5 Maximum Packet
  // Size). The protocol's own limit is 268,435,460.
  std::uint32_t maximum_packet_size = 268'435'460;
};

class decoder {
 public:
  explicit decoder(decoder_options options = {}) noexcept : options_(options) {}

  // Consumes bytes from the front of `in` until one packet is complete or
  // `in` is empty. Returns the packet, nullopt when more bytes are needed, or
  // the error that ends the connection.
  result<std::optional<packet>> next(bytes_view& in);
  // The same, decoding into `out` (no packet is moved): returns true when
  // `out` holds a new packet. The hot path of a connection.
  result<bool> next(bytes_view& in, packet& out);

  protocol_version version() const noexcept { return options_.version; }
  void set_version(protocol_version v) noexcept { options_.version = v; }
  std::uint32_t maximum_packet_size() const noexcept { return options_.maximum_packet_size; }
  void set_maximum_packet_size(std::uint32_t n) noexcept { options_.maximum_packet_size = n; }
  // Bytes held of a packet not yet complete.
  std::size_t buffered() const noexcept { return header_size_ + filled_; }

 private:
  error fail(error e) noexcept;
  std::optional<error> start_packet(std::uint8_t first) noexcept;
  std::optional<error> start_body();
  result<bool> finish(packet& out);

  decoder_options options_;
  std::optional<error> failed_;
  std::byte header_[5]{};
  std::size_t header_size_ = 0;
  bool have_length_ = false;
  std::uint32_t remaining_ = 0;
  shared_bytes body_;
  std::byte* body_out_ = nullptr;
  std::size_t filled_ = 0;
};

// Decodes `first_byte` and `body` (the bytes after the remaining length) as
// one packet of version `v`. A CONNECT is decoded whatever `v` says.
result<packet> decode_packet(std::uint8_t first_byte, shared_bytes body, protocol_version v);

// Decodes exactly one whole packet held in `whole` (for tests and tools).
result<packet> decode(bytes_view whole, protocol_version v,
                      std::uint32_t maximum_packet_size = 268'435'460);

}  // namespace tern
