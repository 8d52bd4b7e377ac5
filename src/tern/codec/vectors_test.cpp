// Packets captured from independent implementations (mosquitto_pub/sub,
// paho-mqtt, MQTT.js, and mosquitto as the broker; see tests/vectors/README.md)
// are decoded and re-encoded byte for byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "support/hex.hpp"
#include "tern/codec/codec.hpp"

namespace tern {
namespace {

namespace fs = std::filesystem;

struct vector_file {
  fs::path path;
  protocol_version version = protocol_version::unknown;
  std::vector<std::pair<std::string, std::vector<std::byte>>> packets;  // direction, bytes
};

std::vector<vector_file> load_vectors() {
  std::vector<vector_file> out;
  fs::path dir = fs::path(TERN_SOURCE_DIR) / "tests" / "vectors";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    vector_file v;
    v.path = f;
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("# version: ", 0) == 0) {
        auto s = line.substr(11);
        v.version = s == "3.1" ? protocol_version::v3_1 : s == "3.1.1" ? protocol_version::v3_1_1 : protocol_version::v5;
      } else if (line.rfind("c2s ", 0) == 0 || line.rfind("s2c ", 0) == 0) {
        v.packets.emplace_back(line.substr(0, 3), testing::from_hex(line.substr(4)));
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

TEST(Vectors, EveryCapturedPacketDecodesAndReencodesByteForByte) {
  auto files = load_vectors();
  ASSERT_GE(files.size(), 20u) << "tests/vectors is missing its captures";
  std::map<protocol_version, std::set<packet_type>> seen;
  std::size_t count = 0;
  for (const auto& f : files) {
    SCOPED_TRACE(f.path.filename().string());
    ASSERT_NE(f.version, protocol_version::unknown) << "no '# version:' line";
    for (const auto& [dir, bytes] : f.packets) {
      SCOPED_TRACE(dir + " " + testing::to_hex(bytes));
      auto p = decode(bytes, f.version);
      ASSERT_TRUE(p) << p.error().message();
      EXPECT_EQ(testing::to_hex(encode(*p, f.version)), testing::to_hex(bytes));
      seen[f.version].insert(type_of(*p));
      ++count;
    }
  }
  EXPECT_GE(count, 200u);
  // Every packet type these peers send in each version (AUTH needs an
  // enhanced-authentication peer, which none of them is).
  for (auto v : {protocol_version::v3_1, protocol_version::v3_1_1, protocol_version::v5}) {
    for (auto t : {packet_type::connect, packet_type::connack, packet_type::publish, packet_type::puback,
                   packet_type::pubrec, packet_type::pubrel, packet_type::pubcomp, packet_type::subscribe,
                   packet_type::suback, packet_type::unsubscribe, packet_type::unsuback, packet_type::pingreq,
                   packet_type::pingresp, packet_type::disconnect}) {
      EXPECT_TRUE(seen[v].count(t)) << name(t) << " missing from the " << name(v) << " captures";
    }
  }
}

TEST(Vectors, CapturedStreamsDecodeSplitAtEveryOffset) {
  for (const auto& f : load_vectors()) {
    SCOPED_TRACE(f.path.filename().string());
    for (const char* dir : {"c2s", "s2c"}) {
      std::vector<std::byte> stream;
      std::size_t expected = 0;
      for (const auto& [d, bytes] : f.packets) {
        if (d != dir) continue;
        stream.insert(stream.end(), bytes.begin(), bytes.end());
        ++expected;
      }
      for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        decoder dec({f.version});
        std::size_t got = 0;
        for (bytes_view part : {bytes_view(stream.data(), cut), bytes_view(stream.data() + cut, stream.size() - cut)}) {
          while (!part.empty()) {
            auto r = dec.next(part);
            ASSERT_TRUE(r) << r.error().message();
            if (*r) ++got;
          }
        }
        ASSERT_EQ(got, expected) << dir << " cut " << cut;
      }
    }
  }
}

}  // namespace
}  // namespace tern
