// `tern sub`: subscribe and print what arrives, with mosquitto_sub's flags.
//
//   tern sub -t 'sensors/#' -v
//   tern sub -t a/b -C 1 -W 5 -F '%t %p %P'          # one message within 5 s, or exit 27
//   tern sub -V 5 -t jobs -q 1 -c -i worker-1 -D subscribe user-property team blue
//   tern sub -L mqtts://broker.example/alerts/# --cafile ca.pem --cert me.crt --key me.key
//
// Messages go to stdout (one write and flush per message), everything else
// to stderr. Runs until -C messages arrived, -W seconds passed, SIGINT or
// SIGTERM; reconnects by itself when the connection is lost.
//
// Exit status: 0 after -C messages, -E, or a signal; 27 when -W ran out
// first (as mosquitto_sub); 1 when the broker cannot be reached (or its TLS
// certificate does not verify) or refuses every subscription; 2 for a usage error; a refused
// CONNECT exits with the CONNACK's code (as mosquitto_sub does).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "client_flags.hpp"
#include "common/signals.hpp"
#include "commands.hpp"
#include "tern/client/client.hpp"
#include "tern/topic/topic.hpp"

namespace tern::cli {
namespace {

struct sub_settings {
  client_flags common;
  std::vector<std::string> topics;       // -t
  std::vector<std::string> filter_out;   // -T
  std::vector<std::string> unsubscribe;  // -U
  int qos = 0;
  int count = 0;    // -C
  int timeout = 0;  // -W, seconds
  bool verbose = false;
  bool no_eol = false;
  bool no_retained = false;    // -R
  bool exit_after_sub = false;  // -E
  bool retained_only = false;
  std::optional<std::string> format;  // -F
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Waits for SIGINT/SIGTERM (blocked in every other thread) and calls
// `on_signal` once; stops when destroyed.
class signal_watch {
 public:
  template <class F>
  explicit signal_watch(F on_signal) {
    thread_ = std::thread([this, on_signal] {
      while (!stop_.load()) {
        if (signals_.wait_for(std::chrono::milliseconds(50)) != 0) {
          on_signal();
          return;
        }
      }
    });
  }
  ~signal_watch() {
    stop_ = true;
    thread_.join();
  }
  signal_watch(const signal_watch&) = delete;
  signal_watch& operator=(const signal_watch&) = delete;

 private:
  const apps::control_signals signals_{apps::control_signals::with_reload::no};  // before any other thread starts
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int run_sub(sub_settings& s) {
  const auto t = tool::sub;
  auto& f = s.common;
  client_setup setup;
  if (auto bad = resolve(f, t, setup)) return report(f, t, *bad);
  if (setup.url_topic && !setup.url_topic->empty()) s.topics.push_back(*setup.url_topic);
  if (s.topics.empty() && s.unsubscribe.empty())
    return report(f, t, {exit_status::usage, "a topic filter to subscribe to (-t) is needed"});
  for (const auto* list : {&s.topics, &s.unsubscribe, &s.filter_out})
    for (const auto& filter : *list)
      if (auto e = topic::validate_filter(filter))
        return report(f, t, {exit_status::usage, fmt::format("invalid topic filter '{}': {}", filter, e->message())});
  if (s.count < 0 || s.timeout < 0) return report(f, t, {exit_status::usage, "-C and -W take a positive number"});
  output_options out_opts;
  out_opts.verbose = s.verbose;
  out_opts.newline = !s.no_eol;
  if (s.format) {
    auto compiled = output_format::compile(*s.format);
    if (auto* err = std::get_if<std::string>(&compiled)) return report(f, t, {exit_status::usage, *err});
    out_opts.format = std::move(std::get<output_format>(compiled));
  }

  Client c(setup.client);
  std::atomic<bool> stopping{false};
  bool timed_out = false;
  int received = 0;
  std::string line;
  auto stop = [&] {
    if (!stopping.exchange(true)) c.disconnect(reason::normal_disconnection, setup.disconnect_props);
  };
  c.on_message([&](const publish_packet& m) {
    if (stopping.load()) return;
    if (s.retained_only && !m.retain) return stop();
    if (s.no_retained && m.retain) return;
    for (const auto& filter : s.filter_out)
      if (topic::matches(filter, m.topic())) return;
    line.clear();
    print_message(out_opts, m, now_ns(), line);
    if (!line.empty()) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fflush(stdout);
    }
    if (s.count > 0 && ++received >= s.count) stop();
  });
  signal_watch signals(stop);

  if (auto ec = c.connect(setup.uri, setup.connect)) return report(f, t, connect_failure(setup.uri, ec));
  if (!s.unsubscribe.empty()) {
    auto u = c.unsubscribe(s.unsubscribe, setup.unsubscribe_props);
    u.wait();
    if (u.error() && !stopping.load())
      return report(f, t, {exit_status::failure, fmt::format("unsubscribe failed: {}", u.error().message())});
  }
  if (!s.topics.empty() && !stopping.load()) {
    std::vector<subscription> subs;
    for (const auto& filter : s.topics) subs.push_back({filter, {.max_qos = static_cast<qos>(s.qos)}});
    auto sub = c.subscribe(std::move(subs), setup.subscribe_props);
    sub.wait();
    if (!stopping.load()) {
      if (auto ec = sub.error()) {
        c.disconnect().wait();
        return report(f, t, {exit_status::failure, fmt::format("subscribe failed: {}", ec.message())});
      }
      const auto codes = sub.reason_codes();
      std::size_t refused = 0;
      for (std::size_t i = 0; i < codes.size() && i < s.topics.size(); ++i) {
        if (!is_failure(codes[i])) continue;
        ++refused;
        if (!f.quiet)
          std::fprintf(stderr, "tern sub: subscription to '%s' refused: %s (0x%02X)\n", s.topics[i].c_str(),
                       std::string(name(codes[i])).c_str(), static_cast<unsigned>(codes[i]));
      }
      if (refused == s.topics.size()) {
        c.disconnect().wait();
        return report(f, t, {exit_status::failure, "every subscription was refused"});
      }
    }
  }
  if (s.exit_after_sub) stop();
  if (s.timeout > 0 && !stopping.load()) {
    c.new_event(std::chrono::seconds(s.timeout), [&] {
      if (!stopping.load()) timed_out = true;
      stop();
      return false;
    });
  }
  const auto why = c.loop_forever();
  if (timed_out) return report(f, t, {exit_status::timed_out, fmt::format("timed out after {} s", s.timeout)});
  if (why) return report(f, t, {exit_status::failure, fmt::format("the connection ended: {}", why.message())});
  return exit_status::ok;
}

}  // namespace

void add_sub(CLI::App& app, int& status) {
  auto s = std::make_shared<sub_settings>();
  auto* cmd = app.add_subcommand("sub", "Subscribe and print messages (mosquitto_sub's flags)");
  add_client_flags(*cmd, s->common, tool::sub);
  cmd->add_option("-t,--topic", s->topics, "Topic filter to subscribe to (repeatable)");
  cmd->add_option("-q,--qos", s->qos, "QoS of the subscriptions")->check(CLI::Range(0, 2))->capture_default_str();
  cmd->add_option("-C,--count", s->count, "Exit after this many messages");
  cmd->add_option("-W,--timeout", s->timeout, "Exit with status 27 after this many seconds (from the CONNACK)");
  cmd->add_flag("-v,--verbose", s->verbose, "Print 'topic payload'");
  cmd->add_flag("-N,--no-eol", s->no_eol, "No newline after each message");
  cmd->add_option("-F,--format", s->format,
                  "Output format: %t topic, %p payload, %q QoS, %r retain, %m message id, %l length, %x/%X hex,\n"
                  "%P user properties, %C content type, %D correlation data, %E expiry, %F format indicator,\n"
                  "%R response topic, %S subscription id, %A topic alias, %I ISO-8601 time, %U Unix time,\n"
                  "%j JSON, %% a %; -, 0, width and .precision as in printf; @X strftime's %X, @N ns, @@;\n"
                  "\\n \\t \\r \\0 \\a \\e \\v \\\\");
  cmd->add_flag("-R,--no-retained", s->no_retained, "Do not print retained (stale) messages");
  cmd->add_option("-T,--filter-out", s->filter_out, "Do not print messages whose topic matches this filter");
  cmd->add_option("-U,--unsubscribe", s->unsubscribe, "Unsubscribe from this filter first (persistent sessions)");
  cmd->add_flag("-E", s->exit_after_sub, "Exit once the subscriptions are acknowledged");
  cmd->add_flag("--retained-only", s->retained_only, "Print only retained messages; exit at the first other one");
  cmd->footer(
      "Exit status: 0 after -C messages, -E or SIGINT/SIGTERM; 27 when -W runs out first (as mosquitto_sub);\n"
      "1 when the broker cannot be reached or refuses every subscription; 2 for a usage error; a refused\n"
      "CONNECT exits with the CONNACK's code, as mosquitto_sub does (3.x: 1-5; 5.0: 128-162).\n"
      "TLS: --cafile, --capath, --cert/--key, --insecure, --tls-use-os-certs or -L mqtts:// (port 8883\n"
      "unless -p); the broker's certificate is verified against the CAs (default: the system's) and host.\n"
      "Messages go to stdout, everything else to stderr. A lost connection is re-established.");
  cmd->callback([s, &status] { status = run_sub(*s); });
}

}  // namespace tern::cli
