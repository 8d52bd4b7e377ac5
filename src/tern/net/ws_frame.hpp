// tern/net/ws_frame.hpp: WebSocket framing (RFC 6455 section 5), shared by
// the broker's WebSocket filter and the load generator's client filter
// (ws_filter.hpp): an incremental frame reader that takes bytes in place
// (payload unmasked and moved down over the frame headers, control frames
// reported one at a time) and the header of a frame to send.
//
//   ws::frame_reader r(ws::role::server, 1 << 20);
//   std::byte* w = buf;                            // payload goes here (never past the input)
//   for (std::size_t at = 0; at < n;) {
//     auto s = r.step(buf + at, n - at, w);
//     at += s.consumed;
//     w += s.produced;
//     if (s.what == ws::frame_reader::event::ping) send_pong(r.control_payload());
//     if (s.what == ws::frame_reader::event::failed) close_with(s.code);   // 1002, 1003, 1009
//   }
//
// Binary messages only: a text frame is refused (1003), as MQTT over
// WebSocket asks (MQTT 5.0 section 6). Frames of a fragmented message and
// several messages carry one byte stream: MQTT packets may span frames, and
// one frame may hold several packets.
//
// Thread safety: none; a reader belongs to one connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tern::net::ws {

enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes (RFC 6455 section 7.4.1).
namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t unsupported_data = 1003;
constexpr std::uint16_t none = 1005;  // a close frame without a code (never sent)
constexpr std::uint16_t policy_violation = 1008;
constexpr std::uint16_t too_big = 1009;
}  // namespace close_code

// Which end reads: a server requires masked frames, a client unmasked ones.
enum class role : std::uint8_t { server, client };

class frame_reader {
 public:
  enum class event : std::uint8_t {
    none,    // the input was used up (or a step ended inside a frame)
    ping,    // a whole ping: answer with a pong of control_payload()
    pong,    // a whole pong
    close,   // a whole close frame: code() (close_code::none without one)
    failed,  // a protocol error: close with code(); nothing more is read
  };
  struct step_result {
    std::size_t consumed = 0;  // input bytes used
    std::size_t produced = 0;  // payload bytes written at `out`
    event what = event::none;
    std::uint16_t code = 0;  // close and failed: the close code
  };

  // `max_frame` bounds a data frame's payload (past it: failed, 1009).
  frame_reader(role r, std::uint64_t max_frame) : role_(r), max_frame_(max_frame) {}

  // Reads `in[0, n)` until it is used up or a control frame or an error
  // ends the step; the payload of data frames goes to `out`, unmasked.
  // `out` may be `in` or before it (memmove: the payload moves down over
  // the headers); it receives at most n bytes.
  step_result step(std::byte* in, std::size_t n, std::byte* out);

  // The payload of the last control frame (a ping's, for the pong).
  std::span<const std::byte> control_payload() const { return {control_.data(), control_len_}; }
  // A protocol error was reported: every later step fails again.
  bool failed() const { return failed_ != 0; }

 private:
  step_result fail(std::uint16_t code, std::size_t consumed, std::size_t produced);
  // The header in hdr_ is complete: checks it; 0 or the close code of the error.
  std::uint16_t begin_frame();

  role role_;
  std::uint64_t max_frame_;
  std::array<std::byte, 14> hdr_{};
  std::uint8_t hdr_len_ = 0;   // header bytes collected
  std::uint8_t hdr_need_ = 2;  // header bytes this frame's header has
  bool in_payload_ = false;    // the header is done: payload follows
  bool in_message_ = false;    // a fragmented binary message goes on (continuations expected)
  bool masked_ = false;
  opcode op_ = opcode::binary;  // of the current frame
  std::uint16_t failed_ = 0;   // the close code of the error, once failed
  std::uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
  std::array<std::byte, 4> mask_{};
  std::uint8_t mask_at_ = 0;  // the mask's index of the next payload byte
  std::array<std::byte, 125> control_{};
  std::uint8_t control_len_ = 0;
};

// Writes the header of a final frame of `op` with `len` payload bytes into
// `out` (masked with `mask` when given: a client's frame); returns its size
// (2 to 14 bytes).
std::size_t write_header(std::span<std::byte, 14> out, opcode op, std::uint64_t len,
                         const std::array<std::byte, 4>* mask = nullptr);

// XORs `n` bytes with `mask`, starting at the mask's index `at`.
void apply_mask(std::byte* p, std::size_t n, const std::array<std::byte, 4>& mask, std::size_t at = 0);

}  // namespace tern::net::ws
