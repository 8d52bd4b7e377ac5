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
// the packet's fields then view; that is the only allocation per PUBLISH
// (acknowledgements of at most 4 bytes allocate nothing). After an error the
// decoder stays failed and returns that error again.
//
// Memory: between packets a decoder holds no heap memory. The state of a
// packet split across reads lives inline while small (the fixed header, a
// short acknowledgement) and otherwise in a part allocated until the packet
// completes (its body block and how much of it is filled): one allocation
// more for such a packet, none for the whole packets of a read.
// decoder_core is that state alone (16 bytes): an owner that keeps the
// version and the maximum itself (session::connection) passes them with
// every call; decoder adds them (24 bytes).
//
// Thread safety: none; one decoder per connection.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
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

// The incremental decoder without its options: the caller passes the version
// (unknown: only a CONNECT is accepted) and the maximum packet size to every
// call, and learns the version from the CONNECT itself.
class decoder_core {
 public:
  decoder_core() noexcept = default;
  decoder_core(decoder_core&&) noexcept = default;
  decoder_core& operator=(decoder_core&&) noexcept = default;

  // As decoder::next(in, out).
  result<bool> next(bytes_view& in, packet& out, protocol_version v, std::uint32_t maximum_packet_size);
  // Bytes held of a packet not yet complete.
  std::size_t buffered() const noexcept;

 private:
  // A packet whose body did not fit in short_, split across reads; or the
  // error the decoder failed with.
  struct partial {
    shared_bytes body;           // the block being filled (its size: the Remaining Length)
    std::byte* out = nullptr;    // body's writable start
    std::size_t filled = 0;
    std::optional<error> failure;
  };

  bool length_known() const noexcept { return short_size_ != 0 || (partial_ && !partial_->body.empty()); }
  error fail(error e);
  void start_body(std::uint32_t remaining);
  result<bool> finish(bytes_view body, protocol_version v, packet& out);
  result<bool> finish(shared_bytes body, protocol_version v, packet& out);
  void reset() noexcept;

  std::unique_ptr<partial> partial_;
  // The Remaining Length bytes read so far; once the length is known, the
  // body of a short acknowledgement (at most 4 bytes: no allocation).
  std::array<std::byte, 4> short_{};
  std::uint8_t first_ = 0;        // the fixed header's first byte
  std::uint8_t header_size_ = 0;  // fixed header bytes read (0: between packets)
  std::uint8_t short_size_ = 0;   // a short acknowledgement's body length (0: none in progress)
  std::uint8_t short_filled_ = 0;
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
  std::size_t buffered() const noexcept { return core_.buffered(); }

 private:
  decoder_options options_;
  decoder_core core_;
};

// Decodes `first_byte` and `body` (the bytes after the remaining length) as
// one packet of version `v`. A CONNECT is decoded whatever `v` says.
result<packet> decode_packet(std::uint8_t first_byte, shared_bytes body, protocol_version v);

// Decodes exactly one whole packet held in `whole` (for tests and tools).
result<packet> decode(bytes_view whole, protocol_version v,
                      std::uint32_t maximum_packet_size = 268'435'460);

}  // namespace tern
