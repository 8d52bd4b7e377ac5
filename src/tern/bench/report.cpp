#include "tern/bench/report.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace tern::bench {
namespace {

double per_s(std::uint64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; }
// Rounds to `digits` decimals so the JSON line stays readable.
double round_to(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}
double us(std::uint64_t ns) { return round_to(static_cast<double>(ns) / 1000.0, 1); }

std::string version_name(protocol_version v) {
  return v == protocol_version::v5 ? "5" : v == protocol_version::v3_1_1 ? "3.1.1" : "3.1";
}

}  // namespace

double report::received_per_s() const noexcept { return per_s(received_in_run, duration_s); }
double report::sent_per_s() const noexcept { return per_s(sent, duration_s); }
double report::generator_cores() const noexcept {
  return duration_s > 0 ? (cpu_user_s + cpu_system_s) / duration_s : 0.0;
}

std::optional<double> report::other_cores() const noexcept {
  if (!machine_busy_s || !broker_cpu_s || duration_s <= 0) return std::nullopt;
  const double other = (*machine_busy_s - *broker_cpu_s - cpu_user_s - cpu_system_s) / duration_s;
  return other > 0 ? other : 0.0;
}

std::string to_json(const report& r) {
  const auto& o = r.options;
  using nlohmann::json;
  json j = json::object();
  j["tool"] = "tern bench";
  j["scenario"] = std::string(name(o.scenario));
  j["broker"] = o.host + ":" + std::to_string(o.port);
  j["mqtt"] = version_name(o.version);
  if (o.scenario != scenario::idle) {
    j["qos"] = static_cast<int>(o.qos);
    j["size"] = o.size;
    j["publishers"] = o.publisher_count();
    j["subscribers"] = o.subscriber_count();
    j["rate_per_publisher"] = o.rate;
    j["window"] = o.window;
    j["max_inflight"] = o.max_inflight;
  }
  j["connections"] = r.connections;
  j["keep_alive"] = o.keep_alive;
  j["duration_s"] = round_to(r.duration_s, 3);
  j["threads"] = o.threads;
  j["ok"] = r.ok();
  j["error"] = r.ok() ? json(nullptr) : json(r.error);

  if (o.scenario != scenario::idle) {
    j["sent"] = r.sent;
    j["expected"] = r.expected;
    j["received"] = r.received;
    j["received_in_run"] = r.received_in_run;
    j["lost"] = r.lost;
    j["duplicated"] = r.duplicated;
    j["reordered"] = r.reordered;
    j["unexpected"] = r.unexpected;
    j["refused"] = r.refused;
    j["msgs_per_s"] = std::round(r.received_per_s());
    j["sent_per_s"] = std::round(r.sent_per_s());
    j["payload_mib_per_s"] = round_to(r.received_per_s() * static_cast<double>(o.size) / (1024.0 * 1024.0), 2);
    j["latency_us"] = {
        {"p50", us(r.latency.percentile(50))},   {"p99", us(r.latency.percentile(99))},
        {"p99_9", us(r.latency.percentile(99.9))}, {"max", us(r.latency.max())},
        {"mean", round_to(r.latency.mean() / 1000.0, 1)}, {"count", r.latency.count()},
    };
    j["drain_s"] = round_to(r.drain_s, 3);
  }
  j["connect_s"] = round_to(r.connect_s, 3);
  j["receive_maximum"] = r.receive_maximum;
  j["disconnects"] = r.disconnects;
  if (r.disconnects > 0) j["disconnect_reason"] = r.disconnect_reason;
  j["pings"] = r.pings;
  j["generator"] = {
      {"threads", o.threads},
      {"cpu_user_s", round_to(r.cpu_user_s, 3)},
      {"cpu_system_s", round_to(r.cpu_system_s, 3)},
      {"cores", round_to(r.generator_cores(), 3)},
      {"write_calls", r.write_calls},
      {"read_calls", r.read_calls},
  };
  if (r.machine_busy_s) {
    json m = {{"cores", r.machine_cores},
              {"busy_cores", round_to(r.duration_s > 0 ? *r.machine_busy_s / r.duration_s : 0.0, 3)}};
    if (auto other = r.other_cores()) m["other_cores"] = round_to(*other, 3);
    j["machine"] = std::move(m);
  }
  if (o.broker_pid > 0) {
    json b = {{"pid", o.broker_pid}};
    if (r.broker_rss_before_kib) b["rss_before_kib"] = *r.broker_rss_before_kib;
    if (r.broker_rss_after_kib) b["rss_after_kib"] = *r.broker_rss_after_kib;
    if (r.broker_rss_before_kib && r.broker_rss_after_kib && r.connections > 0) {
      const double grown = static_cast<double>(*r.broker_rss_after_kib) - static_cast<double>(*r.broker_rss_before_kib);
      b["kib_per_connection"] = round_to(grown / r.connections, 3);
    }
    if (r.broker_cpu_s) {
      b["cpu_s"] = round_to(*r.broker_cpu_s, 3);
      b["cores"] = round_to(r.duration_s > 0 ? *r.broker_cpu_s / r.duration_s : 0.0, 3);
    }
    j["broker_process"] = std::move(b);
  }
  return j.dump();
}

}  // namespace tern::bench
