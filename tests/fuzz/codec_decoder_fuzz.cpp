// libFuzzer target for the codec's incremental decoder.
//
// Input: byte 0 picks the protocol version the decoder starts with (and a
// small maximum packet size when bit 6 is set), byte 1 the size of the
// chunks the rest is fed in (0: all at once), the rest is the byte stream.
//
// Invariants checked on every packet decoded: it re-encodes to exactly the
// bytes it came from (the codec keeps the optional-field layout it saw), the
// re-encoding decodes to an equal packet, encoded_size() is right, and a
// write_buffer produces the same bytes. A refusal must carry a failure code.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "tern/codec/codec.hpp"

namespace {

using namespace tern;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_packet(const packet& p, protocol_version v, bytes_view original) {
  if (auto* c = std::get_if<connect_packet>(&p)) v = c->version;
  auto bytes = encode(p, v);
  check(bytes.size() == encoded_size(p, v));
  // Two 3.1 leniencies are accepted and not kept: CONNACK's unused first
  // byte, and the DUP bit 3.1 allowed on PUBREL, SUBSCRIBE and UNSUBSCRIBE.
  const auto t = type_of(p);
  const bool exact = !(v == protocol_version::v3_1 && (t == packet_type::connack || t == packet_type::pubrel ||
                                                       t == packet_type::subscribe || t == packet_type::unsubscribe));
  if (exact) check(bytes.size() == original.size() && std::memcmp(bytes.data(), original.data(), bytes.size()) == 0);
  auto again = decode(bytes, v);
  check(static_cast<bool>(again));
  check(*again == p);
  write_buffer w;
  w.append(p, v);
  std::vector<std::byte> joined;
  for (auto b : w.buffers()) joined.insert(joined.end(), b.begin(), b.end());
  check(joined == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  constexpr protocol_version versions[] = {protocol_version::unknown, protocol_version::v3_1,
                                           protocol_version::v3_1_1, protocol_version::v5};
  decoder_options options;
  options.version = versions[data[0] & 3];
  if (data[0] & 0x40) options.maximum_packet_size = 64;
  const std::size_t chunk = data[1] == 0 ? size : data[1];
  decoder d(options);

  const auto* stream = reinterpret_cast<const std::byte*>(data + 2);
  const std::size_t total = size - 2;
  std::size_t pos = 0, start = 0;
  while (pos < total) {
    bytes_view part(stream + pos, std::min(chunk, total - pos));
    while (!part.empty()) {
      const auto before = part.size();
      auto r = d.next(part);
      pos += before - part.size();
      if (!r) {
        check(is_failure(static_cast<reason>(r.error().code.value())));
        check(!r.error().detail.empty());
        return 0;
      }
      if (*r) {
        check_packet(**r, d.version(), bytes_view(stream + start, pos - start));
        start = pos;
      }
    }
  }
  return 0;
}
