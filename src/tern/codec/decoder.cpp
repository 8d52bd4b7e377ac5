// The incremental decoder (decoder.hpp): finds packets in a byte stream,
// however it is cut, checks each first byte and length as it arrives, and
// hands each whole body to packet_decoders.cpp.
#include "tern/codec/decoder.hpp"

#include <algorithm>
#include <cstring>

#include "tern/codec/packet_decoders.hpp"

namespace tern {

using namespace codec_detail;

namespace {
constexpr std::string_view too_large = "MQTT 5.0 3.1.2.11.4: packet larger than the Maximum Packet Size";
}  // namespace

// ---------------------------------------------------------------- decoder_core

error decoder_core::fail(error e) {
  if (!partial_) partial_ = std::make_unique<partial>();
  partial_->failure = e;
  return e;
}

void decoder_core::reset() noexcept {
  header_size_ = 0;
  short_size_ = 0;
  short_filled_ = 0;
  // Between packets the decoder holds no heap memory (an idle connection is
  // small); a split packet allocates its part again.
  partial_.reset();
}

// The body of `remaining` (> 0) bytes goes into short_ when it is a short
// acknowledgement, else into a block of its own.
void decoder_core::start_body(std::uint32_t remaining) {
  static_assert(std::tuple_size_v<decltype(short_)> >= small_ack_body);
  if (remaining <= small_ack_body && is_ack(static_cast<packet_type>(first_ >> 4))) {
    short_size_ = static_cast<std::uint8_t>(remaining);
    return;
  }
  partial_ = std::make_unique<partial>();
  partial_->body = shared_bytes::allocate(remaining, partial_->out);
}

// Decodes a whole body held elsewhere: a short acknowledgement in place, any
// other packet copied into a shared block first (its fields view that block).
result<bool> decoder_core::finish(bytes_view body, protocol_version v, packet& out) {
  const auto first = first_;
  std::optional<error> e;
  if (body.size() <= small_ack_body && is_ack(static_cast<packet_type>(first >> 4)))
    e = decode_small_ack(first, body, v, out);
  else {
    auto block = shared_bytes::copy(body);
    e = decode_packet(first, block, v, out);
  }
  reset();
  if (e) return fail(*e);
  return true;
}

result<bool> decoder_core::finish(shared_bytes body, protocol_version v, packet& out) {
  const auto first = first_;
  reset();
  if (auto e = decode_packet(first, body, v, out)) return fail(*e);
  return true;
}

result<bool> decoder_core::next(bytes_view& in, packet& out, protocol_version v, std::uint32_t maximum) {
  if (partial_ && partial_->failure) return *partial_->failure;
  auto fits = [&](std::size_t header, std::uint32_t remaining) -> std::optional<error> {
    if (std::uint64_t{header} + remaining > maximum) return fail(error{reason::packet_too_large, too_large});
    return std::nullopt;
  };
  if (header_size_ == 0 && in.size() >= 2) {
    // Fast path, between packets with the whole fixed header in `in`: a
    // whole packet is decoded from `in` without being buffered.
    const auto first = static_cast<std::uint8_t>(in[0]);
    if (auto e = start_packet(first, v)) return fail(*e);
    auto len = varint::decode(in.subspan(1, std::min<std::size_t>(in.size() - 1, varint::max_size)));
    if (!len) return fail(len.error());
    if (*len) {
      const auto header = 1 + (*len)->size;
      const auto remaining = (*len)->value;
      if (auto e = fits(header, remaining)) return *e;
      first_ = first;
      in = in.subspan(header);
      if (in.size() >= remaining) {
        const auto body = in.first(remaining);
        in = in.subspan(remaining);
        return finish(body, v, out);
      }
      header_size_ = static_cast<std::uint8_t>(header);
      start_body(remaining);
    }
  }
  // Fixed header: the first byte, then the remaining length a byte at a time.
  while (!length_known()) {
    if (in.empty()) return false;
    const auto b = in.front();
    in = in.subspan(1);
    if (header_size_ == 0) {
      if (auto e = start_packet(static_cast<std::uint8_t>(b), v)) return fail(*e);
      first_ = static_cast<std::uint8_t>(b);
      header_size_ = 1;
      continue;
    }
    // At most 4 length bytes: the varint refuses a fifth before it is stored.
    short_[header_size_ - 1u] = b;
    ++header_size_;
    auto len = varint::decode({short_.data(), header_size_ - 1u});
    if (!len) return fail(len.error());
    if (!*len) continue;
    const auto remaining = (*len)->value;
    if (auto e = fits(header_size_, remaining)) return *e;
    if (remaining == 0) return finish(bytes_view{}, v, out);
    start_body(remaining);
  }
  // The body, into short_ or the packet's block.
  if (short_size_ != 0) {
    const auto take = std::min<std::size_t>(in.size(), short_size_ - short_filled_);
    if (take != 0) {
      std::memcpy(short_.data() + short_filled_, in.data(), take);
      short_filled_ = static_cast<std::uint8_t>(short_filled_ + take);
      in = in.subspan(take);
    }
    if (short_filled_ < short_size_) return false;
    return finish(bytes_view{short_.data(), short_size_}, v, out);
  }
  auto& p = *partial_;
  const auto take = std::min<std::size_t>(in.size(), p.body.size() - p.filled);
  if (take != 0) {
    std::memcpy(p.out + p.filled, in.data(), take);
    p.filled += take;
    in = in.subspan(take);
  }
  if (p.filled < p.body.size()) return false;
  return finish(std::move(p.body), v, out);
}

std::size_t decoder_core::buffered() const noexcept {
  if (short_size_ != 0) return header_size_ + short_filled_;
  return header_size_ + (partial_ ? partial_->filled : 0);
}

// ---------------------------------------------------------------- decoder

result<bool> decoder::next(bytes_view& in, packet& out) {
  auto r = core_.next(in, out, options_.version, options_.maximum_packet_size);
  if (r && *r && options_.version == protocol_version::unknown) {
    if (auto* c = std::get_if<connect_packet>(&out)) options_.version = c->version;
  }
  return r;
}

result<std::optional<packet>> decoder::next(bytes_view& in) {
  packet p;
  auto r = next(in, p);
  if (!r) return r.error();
  if (!*r) return std::optional<packet>{};
  return std::optional<packet>(std::move(p));
}

result<packet> decode(bytes_view whole, protocol_version v, std::uint32_t maximum_packet_size) {
  decoder d({v, maximum_packet_size});
  auto r = d.next(whole);
  if (!r) return r.error();
  if (!*r) return error{reason::malformed_packet, "MQTT 5.0 2.1.4: packet shorter than its Remaining Length"};
  if (!whole.empty()) return error{reason::malformed_packet, trailing};
  return std::move(**r);
}

}  // namespace tern
