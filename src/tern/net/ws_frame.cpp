// WebSocket framing (tern/net/ws_frame.hpp).
#include "tern/net/ws_frame.hpp"

#include <algorithm>
#include <cstring>

namespace tern::net::ws {

namespace {
constexpr std::uint8_t fin_bit = 0x80;
constexpr std::uint8_t rsv_bits = 0x70;
constexpr std::uint8_t mask_bit = 0x80;

std::uint8_t u8(std::byte b) { return static_cast<std::uint8_t>(b); }

bool is_control(opcode op) { return static_cast<std::uint8_t>(op) >= 8; }
}  // namespace

void apply_mask(std::byte* p, std::size_t n, const std::array<std::byte, 4>& mask, std::size_t at) {
  for (std::size_t i = 0; i < n; ++i) p[i] ^= mask[(at + i) & 3];
}

std::size_t write_header(std::span<std::byte, 14> out, opcode op, std::uint64_t len,
                         const std::array<std::byte, 4>* mask) {
  out[0] = std::byte{static_cast<std::uint8_t>(fin_bit | static_cast<std::uint8_t>(op))};
  const std::uint8_t m = mask ? mask_bit : 0;
  std::size_t n = 2;
  if (len < 126) {
    out[1] = std::byte{static_cast<std::uint8_t>(m | len)};
  } else if (len <= 0xFFFF) {
    out[1] = std::byte{static_cast<std::uint8_t>(m | 126)};
    out[2] = std::byte{static_cast<std::uint8_t>(len >> 8)};
    out[3] = std::byte{static_cast<std::uint8_t>(len)};
    n = 4;
  } else {
    out[1] = std::byte{static_cast<std::uint8_t>(m | 127)};
    for (std::size_t i = 0; i < 8; ++i) out[2 + i] = std::byte{static_cast<std::uint8_t>(len >> (56 - 8 * i))};
    n = 10;
  }
  if (mask) {
    std::memcpy(out.data() + n, mask->data(), 4);
    n += 4;
  }
  return n;
}

frame_reader::step_result frame_reader::fail(std::uint16_t code, std::size_t consumed, std::size_t produced) {
  failed_ = code;
  return {consumed, produced, event::failed, code};
}

std::uint16_t frame_reader::begin_frame() {
  const std::uint8_t b0 = u8(hdr_[0]);
  const std::uint8_t b1 = u8(hdr_[1]);
  if (b0 & rsv_bits) return close_code::protocol_error;  // no extension was agreed
  const bool fin = (b0 & fin_bit) != 0;
  op_ = static_cast<opcode>(b0 & 0x0F);
  std::uint64_t len = b1 & 0x7F;
  std::size_t at = 2;
  if (len == 126) {
    len = (std::uint64_t{u8(hdr_[2])} << 8) | u8(hdr_[3]);
    if (len < 126) return close_code::protocol_error;  // not the shortest form
    at = 4;
  } else if (len == 127) {
    len = 0;
    for (std::size_t i = 0; i < 8; ++i) len = (len << 8) | u8(hdr_[2 + i]);
    if (len >> 63) return close_code::protocol_error;
    if (len <= 0xFFFF) return close_code::protocol_error;
    at = 10;
  }
  if (masked_) std::memcpy(mask_.data(), hdr_.data() + at, 4);
  mask_at_ = 0;
  remaining_ = len;
  switch (op_) {
    case opcode::text:
      return close_code::unsupported_data;  // MQTT is binary
    case opcode::binary:
      if (in_message_) return close_code::protocol_error;  // a new message inside a fragmented one
      in_message_ = !fin;
      break;
    case opcode::continuation:
      if (!in_message_) return close_code::protocol_error;
      in_message_ = !fin;
      break;
    case opcode::close:
    case opcode::ping:
    case opcode::pong:
      if (!fin || len > control_.size()) return close_code::protocol_error;
      if (op_ == opcode::close && len == 1) return close_code::protocol_error;
      control_len_ = 0;
      return 0;
    default:
      return close_code::protocol_error;  // a reserved opcode
  }
  if (len > max_frame_) return close_code::too_big;
  return 0;
}

frame_reader::step_result frame_reader::step(std::byte* in, std::size_t n, std::byte* out) {
  std::size_t used = 0;
  std::size_t produced = 0;
  if (failed_) return {0, 0, event::failed, failed_};
  while (used < n) {
    if (!in_payload_) {
      // Header bytes, one piece at a time (a header may be split anywhere).
      hdr_[hdr_len_++] = in[used++];
      if (hdr_len_ == 2) {
        const std::uint8_t b1 = u8(hdr_[1]);
        masked_ = (b1 & mask_bit) != 0;
        if (masked_ != (role_ == role::server))
          return fail(close_code::protocol_error, used, produced);  // clients mask, servers do not
        const std::uint8_t len7 = b1 & 0x7F;
        hdr_need_ = static_cast<std::uint8_t>(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked_ ? 4 : 0));
      }
      if (hdr_len_ < hdr_need_) continue;
      if (const auto code = begin_frame()) return fail(code, used, produced);
      hdr_len_ = 0;
      hdr_need_ = 2;
      in_payload_ = true;
    }
    // Payload bytes.
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - used));
    if (is_control(op_)) {
      std::memcpy(control_.data() + control_len_, in + used, take);
      if (masked_) apply_mask(control_.data() + control_len_, take, mask_, mask_at_);
      control_len_ = static_cast<std::uint8_t>(control_len_ + take);
    } else {
      std::memmove(out + produced, in + used, take);
      if (masked_) apply_mask(out + produced, take, mask_, mask_at_);
      produced += take;
    }
    mask_at_ = static_cast<std::uint8_t>((mask_at_ + take) & 3);
    used += take;
    remaining_ -= take;
    if (remaining_ > 0) break;  // the input is used up
    in_payload_ = false;
    if (!is_control(op_)) continue;
    // A whole control frame.
    if (op_ == opcode::ping) return {used, produced, event::ping, 0};
    if (op_ == opcode::pong) return {used, produced, event::pong, 0};
    std::uint16_t code = close_code::none;
    if (control_len_ >= 2) {
      code = static_cast<std::uint16_t>((u8(control_[0]) << 8) | u8(control_[1]));
      // Codes a peer may send (section 7.4): 1000-1003, 1007-1011, 3000-4999.
      const bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                         (code >= 3000 && code <= 4999);
      if (!valid) return fail(close_code::protocol_error, used, produced);
    }
    failed_ = 0;
    return {used, produced, event::close, code};
  }
  return {used, produced, event::none, 0};
}

}  // namespace tern::net::ws
