// libFuzzer target for WebSocket framing (tern/net/ws_frame.hpp). The first
// byte picks the reader's role (bit 0) and the size of the pieces the rest
// is fed in (1 to 64 bytes: frames split anywhere); the reader works in
// place, as the filter does. These must hold:
//   - a step never writes more payload than it consumed input, nor past it;
//   - every byte is consumed unless a control frame or an error ends a step;
//   - once failed, every step fails and consumes nothing;
//   - feeding the same input whole or in pieces gives the same payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tern/net/ws_frame.hpp"

namespace {

using namespace tern::net::ws;

void check(bool ok) {
  if (!ok) std::abort();
}

// The payload `in` carries, fed in pieces of `piece` bytes.
std::vector<std::byte> run(role r, const std::uint8_t* data, std::size_t size, std::size_t piece, bool& failed) {
  frame_reader reader(r, 4096);
  std::vector<std::byte> payload;
  failed = false;
  for (std::size_t at = 0; at < size && !failed;) {
    const std::size_t n = std::min(piece, size - at);
    std::vector<std::byte> buf(n);
    std::memcpy(buf.data(), data + at, n);
    std::size_t used = 0;
    std::size_t out = 0;
    while (used < n) {
      const auto s = reader.step(buf.data() + used, n - used, buf.data() + out);
      check(s.consumed <= n - used);
      check(out + s.produced <= used + s.consumed);
      used += s.consumed;
      out += s.produced;
      if (s.what == frame_reader::event::failed) {
        check(reader.failed());
        const auto again = reader.step(buf.data(), n, buf.data());
        check(again.what == frame_reader::event::failed && again.consumed == 0);
        failed = true;
        break;
      }
      if (s.what == frame_reader::event::none) check(used == n);
      if (s.what == frame_reader::event::ping) check(reader.control_payload().size() <= 125);
    }
    payload.insert(payload.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(out));
    at += n;
  }
  return payload;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const role r = (data[0] & 1) ? role::client : role::server;
  const std::size_t piece = 1 + (data[0] >> 2);
  bool failed_whole = false;
  bool failed_pieces = false;
  const auto whole = run(r, data + 1, size - 1, size, failed_whole);
  const auto pieces = run(r, data + 1, size - 1, piece, failed_pieces);
  check(failed_whole == failed_pieces);
  if (!failed_whole) check(whole == pieces);
  return 0;
}
