// Micro-benchmarks of tern::gateway: an MQTT message to the interface's
// vocabulary (parse + map) and back (map + format), with mqttgateway's dummy
// map (strict gateway and action, loose function and location, an alias), a
// bare action, a JSON payload of strings and one with a number (half of
// the "json" inputs). The issue's target is
// 1M messages per second per core for map + parse + format (the round trip).
//
//   build/release/bin/gateway_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "tern/gateway/map.hpp"

namespace {

using namespace tern::gateway;

// mqttgateway's dummy_map.json (src/tern/gateway/testdata), with an alias.
constexpr const char* dummy_map = R"({
  "root": "home",
  "topics": ["home/+/dummy/+/+/+/C", "home/audiovideo/+/+/+/+/C"],
  "function": {"maptype": "loose", "map": {"AudioVideo": ["audiovideo"], "Lighting": ["lighting"]}},
  "gateway": {"maptype": "strict", "map": {"Dummy": ["dummy"]}},
  "location": {"maptype": "loose", "map": {"DiningRm": ["dining_room"], "Office": ["office", "study"],
                                           "Kitchen": ["kitchen"]}},
  "device": {"maptype": "none"},
  "sender": {"maptype": "none"},
  "action": {"maptype": "strict", "map": {"POWER_ON": ["audio_on"], "VOL_UP": ["volume_up"],
             "VOL_DN": ["volume_down"], "LIGHT_ON": ["light_on"], "LIGHT_OFF": ["light_off"]}},
  "argkey": {"maptype": "none"},
  "argvalue": {"maptype": "none"}
})";

const message_map& the_map() {
  static const message_map m = message_map::parse(dummy_map, "dummy_map.json").value();
  return m;
}

struct input {
  std::string topic, payload;
};

const std::vector<input> bare = {
    {"home/lighting/dummy/office/light1/app/C", "light_on"},
    {"home/audiovideo/dummy/study/amp/app/C", "volume_up"},
    {"home/lighting/dummy/kitchen/spots/app/C", "light_off"},
    {"home/audiovideo/dummy/dining_room/tv/app/C", "audio_on"},
};
// Flat objects of strings: read without nlohmann (syntax.cpp's fast path).
const std::vector<input> json_strings = {
    {"home/lighting/dummy/office/light1/app/C", R"({"action":"light_on","level":"80","ramp":"2s"})"},
    {"home/audiovideo/dummy/study/amp/app/C", R"({"action":"volume_up","step":"3","zone":"main"})"},
};
// One with a number: nlohmann reads it.
const std::vector<input> json = {
    {"home/lighting/dummy/office/light1/app/C", R"({"action":"light_on","level":"80","ramp":"2s"})"},
    {"home/audiovideo/dummy/study/amp/app/C", R"({"action":"volume_up","step":3,"zone":"main"})"},
};

void BM_ToInternal(benchmark::State& state, const std::vector<input>* in) {
  const message_map& map = the_map();
  std::size_t i = 0;
  for (auto _ : state) {
    const input& x = (*in)[i++ % in->size()];
    auto m = map.to_internal(x.topic, x.payload, "dummy2mqtt");
    benchmark::DoNotOptimize(m);
  }
  state.counters["msg/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_ToMqtt(benchmark::State& state, const std::vector<input>* in) {
  const message_map& map = the_map();
  std::vector<message> msgs;
  for (const auto& x : *in) msgs.push_back(map.to_internal(x.topic, x.payload, "dummy2mqtt").value().reply("OK", "done"));
  if (in == &bare)
    for (auto& m : msgs) m.arguments.clear();
  std::size_t i = 0;
  for (auto _ : state) {
    auto out = map.to_mqtt(msgs[i++ % msgs.size()], "dummy2mqtt");
    benchmark::DoNotOptimize(out);
  }
  state.counters["msg/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// The whole way: a command in (parse + map), its reply out (map + format).
void BM_RoundTrip(benchmark::State& state, const std::vector<input>* in) {
  const message_map& map = the_map();
  std::size_t i = 0;
  for (auto _ : state) {
    const input& x = (*in)[i++ % in->size()];
    auto m = map.to_internal(x.topic, x.payload, "dummy2mqtt");
    m->type = kind::status;
    auto out = map.to_mqtt(*m, "dummy2mqtt");
    benchmark::DoNotOptimize(out);
  }
  state.counters["msg/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_ToInternal, bare, &bare);
BENCHMARK_CAPTURE(BM_ToInternal, json_strings, &json_strings);
BENCHMARK_CAPTURE(BM_ToInternal, json, &json);
BENCHMARK_CAPTURE(BM_ToMqtt, bare, &bare);
BENCHMARK_CAPTURE(BM_ToMqtt, json, &json);
BENCHMARK_CAPTURE(BM_RoundTrip, bare, &bare);
BENCHMARK_CAPTURE(BM_RoundTrip, json_strings, &json_strings);
BENCHMARK_CAPTURE(BM_RoundTrip, json, &json);

}  // namespace
