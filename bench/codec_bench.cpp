// Codec micro-benchmarks: decode and encode of PUBLISH (64 B and 1 KiB
// payloads, QoS 0 and 1, MQTT 3.1.1 and 5.0) and of a 5.0 CONNECT with
// properties. Run a release build:
//
//   cmake --preset release && cmake --build --preset release --target codec_bench
//   build/release/bin/codec_bench
#include <benchmark/benchmark.h>

#include <string>

#include "tern/codec/codec.hpp"

namespace {

using namespace tern;

protocol_version version_of(const benchmark::State& s) {
  return s.range(2) == 5 ? protocol_version::v5 : protocol_version::v3_1_1;
}

publish_packet make_publish(std::size_t payload, qos q) {
  publish_packet p("sensors/kitchen/temperature", shared_bytes::copy(std::string(payload, 'x')), q);
  if (q != qos::at_most_once) p.packet_id = 4242;
  return p;
}

connect_packet make_connect() {
  connect_packet c;
  c.client_id = "bench-client-0001";
  c.username = "user";
  c.password = "password";
  c.keep_alive = 60;
  c.props = properties::builder{}
                .add<property_id::session_expiry_interval>(3600)
                .add<property_id::receive_maximum>(100)
                .add<property_id::maximum_packet_size>(1 << 20)
                .add<property_id::topic_alias_maximum>(10)
                .user_property("site", "north")
                .build();
  c.will = will_message{"clients/bench/state", shared_bytes::copy("offline"), qos::at_least_once, true,
                        properties::builder{}.add<property_id::will_delay_interval>(5).build()};
  return c;
}

// Args: payload bytes, QoS, version (4 or 5).
void BM_DecodePublish(benchmark::State& state) {
  const auto v = version_of(state);
  const auto bytes = encode(make_publish(static_cast<std::size_t>(state.range(0)), static_cast<qos>(state.range(1))), v);
  decoder d({v});
  packet out;
  for (auto _ : state) {
    bytes_view in(bytes);
    auto r = d.next(in, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

// Encodes into a reused write_buffer, as a connection does.
void BM_EncodePublish(benchmark::State& state) {
  const auto v = version_of(state);
  const auto p = make_publish(static_cast<std::size_t>(state.range(0)), static_cast<qos>(state.range(1)));
  write_buffer out;
  for (auto _ : state) {
    out.append(p, v);
    benchmark::DoNotOptimize(out.buffers().data());
    out.clear();
  }
}

void publish_args(benchmark::internal::Benchmark* b) {
  for (int payload : {64, 1024})
    for (int q : {0, 1})
      for (int v : {4, 5}) b->Args({payload, q, v});
  b->ArgNames({"payload", "qos", "v"});
}
BENCHMARK(BM_DecodePublish)->Apply(publish_args);
BENCHMARK(BM_EncodePublish)->Apply(publish_args);

void BM_DecodeConnect5(benchmark::State& state) {
  const auto bytes = encode(make_connect(), protocol_version::v5);
  packet out;
  for (auto _ : state) {
    decoder d;
    bytes_view in(bytes);
    auto r = d.next(in, out);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_DecodeConnect5);

void BM_EncodeConnect5(benchmark::State& state) {
  const packet c = make_connect();
  write_buffer out;
  for (auto _ : state) {
    out.append(c, protocol_version::v5);
    benchmark::DoNotOptimize(out.buffers().data());
    out.clear();
  }
}
BENCHMARK(BM_EncodeConnect5);

}  // namespace
