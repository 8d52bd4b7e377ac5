// `tern bench <scenario>`: arguments, the progress line on stderr, and the
// JSON line on stdout. The load generator itself is src/tern/bench.
//
//   tern bench fan-in -h 127.0.0.1 -p 1883 --publishers 8 --qos 1 --size 64 --duration 10
//   tern bench fan-out --subscribers 50 --qos 1 --window 200
//   tern bench pairs --pairs 1 --rate 2000 --duration 10        # latency at 2,000 msg/s
//   tern bench shared --publishers 8 --subscribers 4 --version 5
//   tern bench idle --connections 10000 --broker-pid $(pidof ternd)
//
// Exit status: 0 when the run completed (lost messages are a figure, not a
// failure: read "lost" in the JSON), 1 when it could not run (no broker, a
// refused CONNECT or SUBSCRIBE, a timeout), 2 for a usage error.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "tern/bench/runner.hpp"

namespace tern::cli {
namespace {

using bench::options;
using bench::scenario;

struct settings {
  options o;
  std::string version = "3.1.1";
  int qos = 0;
  std::string progress = "auto";
};

// "1,234,567"
std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

class progress_line {
 public:
  progress_line(std::string scenario, bool enabled) : scenario_(std::move(scenario)), enabled_(enabled) {
    tty_ = ::isatty(STDERR_FILENO) != 0;
  }
  void operator()(const bench::progress& p) {
    if (!enabled_) return;
    std::string line = "[" + scenario_ + "] " + std::string(p.phase) + " " + fixed(p.elapsed_s, 1) + " s";
    if (p.phase == "connecting" || p.phase == "holding") {
      line += "  " + grouped(p.connected) + " connections ready";
    } else {
      // Since the last line of this phase, or since the phase began.
      const bool same = p.phase == last_phase_;
      const double dt = same ? p.elapsed_s - last_s_ : p.elapsed_s;
      const std::uint64_t got = same ? p.received - last_received_ : p.received;
      const double rate = dt > 0 ? static_cast<double>(got) / dt : 0;
      line += "  sent " + grouped(p.sent) + "  received " + grouped(p.received) + "  " +
              grouped(static_cast<std::uint64_t>(rate)) + " msg/s";
    }
    last_phase_ = std::string(p.phase);
    last_s_ = p.elapsed_s;
    last_received_ = p.received;
    if (tty_) std::cerr << '\r' << line << "\x1b[K" << std::flush;
    else std::cerr << line << '\n';
    shown_ = true;
  }
  void finish() {
    if (shown_ && tty_) std::cerr << '\n';
  }

 private:
  static std::string fixed(double v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
  }
  std::string scenario_;
  bool enabled_;
  bool tty_ = false;
  bool shown_ = false;
  std::string last_phase_;
  double last_s_ = 0;
  std::uint64_t last_received_ = 0;
};

int run_bench(settings& st) {
  auto& o = st.o;
  if (st.version == "5" || st.version == "5.0") o.version = protocol_version::v5;
  else o.version = protocol_version::v3_1_1;  // "3.1.1", "311", "4" (checked by CLI11)
  o.qos = static_cast<tern::qos>(st.qos);
  if (auto problem = o.check(); !problem.empty()) {
    std::cerr << "tern bench: " << problem << '\n';
    return 2;
  }
  const bool show = st.progress == "always" || (st.progress == "auto" && ::isatty(STDERR_FILENO));
  progress_line line(std::string(bench::name(o.scenario)), show);
  const auto r = bench::run(o, [&](const bench::progress& p) { line(p); });
  line.finish();
  std::cout << bench::to_json(r) << std::endl;
  if (!r.ok()) {
    std::cerr << "tern bench: " << r.error << '\n';
    return 1;
  }
  return 0;
}

void add_connection_flags(CLI::App& sc, settings& st) {
  auto& o = st.o;
  sc.add_option("-h,--host", o.host, "Broker address")->capture_default_str();
  sc.add_option("-p,--port", o.port, "Broker port")->capture_default_str();
  sc.add_option("-V,--version", st.version, "MQTT version")
      ->check(CLI::IsMember({"3.1.1", "311", "4", "5", "5.0"}))
      ->capture_default_str();
  sc.add_option("-d,--duration", o.duration, "Seconds of publishing (idle: of holding the connections)")
      ->capture_default_str();
  sc.add_option("-t,--threads", o.threads, "Event loops (one epoll each) of the generator")
      ->capture_default_str();
  sc.add_option("-k,--keep-alive", o.keep_alive, "Keep Alive seconds in CONNECT; PINGREQ at 3/4 of it")
      ->capture_default_str();
  sc.add_option("--connect-concurrency", o.connect_concurrency, "Handshakes in progress at once")
      ->capture_default_str();
  sc.add_option("--source-addresses", o.source_addresses,
                "Bind connections in turn to 127.0.0.2 .. 127.0.0.(N+1) (0: let the kernel choose)")
      ->capture_default_str();
  sc.add_option("--connect-timeout", o.connect_timeout, "Seconds for every connection to be ready")
      ->capture_default_str();
  sc.add_option("--broker-pid", o.broker_pid, "The broker's pid: report its resident memory and CPU time");
  sc.add_flag("--tls", o.tls, "TLS (mqtts): a full handshake per connection; the server is not verified without --cafile");
  sc.add_option("--cafile", o.ca_file, "With --tls: verify the broker's certificate against these CAs (PEM)");
  sc.add_option("--ws", o.ws_path, "MQTT over WebSocket on this HTTP path (/mqtt); with --tls: wss");
  sc.add_option_function<std::string>(
      "-L,--url",
      [&o](const std::string& url) {
        // scheme://host:port[/path]: mqtt, mqtts, ws (path: /mqtt by default), wss.
        std::string_view u = url;
        const auto sep = u.find("://");
        if (sep == std::string_view::npos) throw CLI::ValidationError("-L", "expected scheme://host[:port][/path]");
        const auto scheme = u.substr(0, sep);
        u.remove_prefix(sep + 3);
        const bool ws = scheme == "ws" || scheme == "wss";
        o.tls = scheme == "mqtts" || scheme == "wss";
        if (!ws && !o.tls && scheme != "mqtt")
          throw CLI::ValidationError("-L", "unsupported scheme (mqtt, mqtts, ws or wss)");
        const auto slash = u.find('/');
        const auto authority = u.substr(0, slash);
        if (ws) o.ws_path = slash == std::string_view::npos ? "/mqtt" : std::string(u.substr(slash));
        const auto colon = authority.rfind(':');
        o.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) o.port = static_cast<std::uint16_t>(std::stoul(std::string(authority.substr(colon + 1))));
        else o.port = static_cast<std::uint16_t>(ws ? (o.tls ? 443 : 80) : (o.tls ? 8883 : 1883));
      },
      "Broker as a URL instead of -h -p --tls --ws: mqtt[s]://host[:port], ws[s]://host[:port][/path]");
  sc.add_option("--topic-prefix", o.topic_prefix, "First topic level (a random run id follows)")
      ->capture_default_str();
  sc.add_option("--progress", st.progress, "Progress line on stderr once a second")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

void add_message_flags(CLI::App& sc, settings& st) {
  auto& o = st.o;
  sc.add_option("-q,--qos", st.qos, "QoS of PUBLISH and SUBSCRIBE")->check(CLI::Range(0, 2))->capture_default_str();
  sc.add_option("-s,--size", o.size, "Payload bytes (at least 20: stream, sequence number, send time)")
      ->capture_default_str();
  sc.add_option("-r,--rate", o.rate, "Messages per second per publisher; 0: flat out")->capture_default_str();
  sc.add_option("-w,--window", o.window,
                "Messages a publisher may be ahead of its subscribers (sent, not yet received)")
      ->capture_default_str();
  sc.add_option("--max-inflight", o.max_inflight,
                "Unacknowledged QoS 1/2 PUBLISHes per publisher (the broker's Receive Maximum also applies)")
      ->capture_default_str();
  sc.add_option("--batch", o.batch, "Most PUBLISHes a publisher writes per loop turn")->capture_default_str();
  sc.add_option("--drain", o.drain, "Most seconds to wait for messages in flight when publishing stops")
      ->capture_default_str();
}

}  // namespace

void add_bench(CLI::App& app, int& status) {
  auto* bench = app.add_subcommand("bench", "Load an MQTT broker and measure it; prints one JSON line");
  bench->require_subcommand(1);
  bench->footer(
      "Every scenario prints one JSON line on stdout: throughput, latency percentiles, lost, duplicated\n"
      "and reordered messages, the generator's own CPU time, and with --broker-pid the broker's memory.");

  struct entry {
    scenario kind;
    const char* help;
  };
  for (const auto& e : {
           entry{scenario::fan_in, "P publishers -> 1 subscriber, one topic"},
           entry{scenario::fan_out, "1 publisher -> S subscribers, one topic"},
           entry{scenario::pairs, "N publisher/subscriber pairs, a topic each"},
           entry{scenario::shared, "P publishers -> a $share group of S members"},
           entry{scenario::idle, "N connections held open with keep-alive; with --broker-pid, KiB per connection"},
       }) {
    auto st = std::make_shared<settings>();
    st->o.scenario = e.kind;
    auto* sc = bench->add_subcommand(std::string(bench::name(e.kind)), e.help);
    sc->set_help_flag("--help", "Print this help and exit");
    add_connection_flags(*sc, *st);
    switch (e.kind) {
      case scenario::fan_in:
        st->o.publishers = 8;
        sc->add_option("-P,--publishers", st->o.publishers, "Publishers")->capture_default_str();
        break;
      case scenario::fan_out:
        st->o.subscribers = 50;
        sc->add_option("-S,--subscribers", st->o.subscribers, "Subscribers")->capture_default_str();
        break;
      case scenario::pairs:
        st->o.pairs = 8;
        sc->add_option("-n,--pairs", st->o.pairs, "Publisher/subscriber pairs")->capture_default_str();
        break;
      case scenario::shared:
        st->o.publishers = 8;
        st->o.subscribers = 4;
        sc->add_option("-P,--publishers", st->o.publishers, "Publishers")->capture_default_str();
        sc->add_option("-S,--subscribers", st->o.subscribers, "Members of the $share group")->capture_default_str();
        break;
      case scenario::idle:
        st->o.connections = 1000;
        sc->add_option("-n,--connections", st->o.connections, "Connections")->capture_default_str();
        break;
    }
    if (e.kind != scenario::idle) add_message_flags(*sc, *st);
    sc->callback([st, &status] { status = run_bench(*st); });
  }
}

}  // namespace tern::cli
