// `tern pub`: publish one message, a file, stdin whole or line by line,
// with mosquitto_pub's flags.
//
//   tern pub -t sensors/t1 -m 21.5 -q 1
//   tern pub -h broker -p 1884 -V 5 -t a/b -f data.bin -r -D publish user-property site north
//   read_meter | tern pub -t meter -l -q 1
//   tern pub -h broker.example --cafile ca.pem -t a -m x            # TLS, port 8883
//
// Exit status: 0 when every message went out (QoS 1: PUBACK, QoS 2: PUBCOMP);
// 1 when the broker cannot be reached (or its TLS certificate does not
// verify), the connection is lost, a publish is refused; 2 for a usage
// error; a refused CONNECT exits with the CONNACK's code (as mosquitto_pub
// does).
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "client_flags.hpp"
#include "commands.hpp"
#include "tern/client/client.hpp"
#include "tern/topic/topic.hpp"

namespace tern::cli {
namespace {

struct pub_settings {
  client_flags common;
  std::string topic;
  std::optional<std::string> message;  // -m
  std::string file;                    // -f
  bool lines = false;                  // -l
  bool whole_stdin = false;            // -s
  bool null_message = false;           // -n
  int qos = 0;
  bool retain = false;
  int repeat = 1;
  double repeat_delay = 0;
};

// Publishes, keeping at most `window` requests unanswered; the first failure.
class sender {
 public:
  sender(Client& c, const pub_settings& s, properties props) : c_(c), s_(s), props_(std::move(props)) {}

  void send(std::string_view payload) {
    pending_.push_back(c_.publish(
        publish_packet(topic(), shared_bytes::copy(payload), static_cast<qos>(s_.qos), s_.retain, props_)));
    while (!pending_.empty() && (pending_.front().is_complete() || pending_.size() > window)) settle_front();
  }
  // Waits for every publish; the first error.
  boost::system::error_code finish() {
    while (!pending_.empty()) settle_front();
    return first_;
  }
  const std::string& topic() const { return s_.topic; }

 private:
  static constexpr std::size_t window = 1000;
  void settle_front() {
    pending_.front().wait();
    if (auto ec = pending_.front().error(); ec && !first_) first_ = ec;
    pending_.pop_front();
  }
  Client& c_;
  const pub_settings& s_;
  properties props_;
  std::deque<token> pending_;
  boost::system::error_code first_;
};

int run_pub(pub_settings& s) {
  const auto t = tool::pub;
  auto& f = s.common;
  client_setup setup;
  if (auto bad = resolve(f, t, setup)) return report(f, t, *bad);
  if (setup.url_topic && s.topic.empty()) s.topic = *setup.url_topic;
  const int modes = (s.message ? 1 : 0) + (s.file.empty() ? 0 : 1) + (s.lines ? 1 : 0) + (s.whole_stdin ? 1 : 0) +
                    (s.null_message ? 1 : 0);
  if (s.topic.empty() || modes == 0)
    return report(f, t, {exit_status::usage, "a topic (-t) and a message (-m, -f, -l, -s or -n) are needed"});
  if (modes > 1) return report(f, t, {exit_status::usage, "only one of -m, -f, -l, -s and -n at a time"});
  if (auto e = topic::validate_name(s.topic))
    return report(f, t, {exit_status::usage, fmt::format("invalid topic '{}': {}", s.topic, e->message())});
  if (s.repeat < 1) return report(f, t, {exit_status::usage, "--repeat: at least 1"});
  if (s.repeat > 1 && s.lines) return report(f, t, {exit_status::usage, "--repeat does not go with -l"});

  std::string payload;
  if (s.message) payload = *s.message;
  if (!s.file.empty()) {
    std::ifstream in(s.file, std::ios::binary);
    if (!in) return report(f, t, {exit_status::failure, fmt::format("cannot read '{}': {}", s.file, std::strerror(errno))});
    payload.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (s.whole_stdin) {
    std::ostringstream all;
    all << std::cin.rdbuf();
    payload = all.str();
  }

  // A one-shot tool: a lost connection is a failure to report, not to hide.
  setup.client.reconnect.enabled = false;
  Client c(setup.client);
  if (auto ec = c.connect(setup.uri, setup.connect)) return report(f, t, connect_failure(setup.uri, ec));
  c.loop_start();  // the network runs while this thread reads stdin
  sender out(c, s, setup.publish_props);
  bool lost = false;
  if (s.lines) {
    std::string line;
    while (std::getline(std::cin, line)) {
      if ((lost = !c.connected())) break;  // reconnect is off: no point reading on
      out.send(line);
    }
  } else {
    for (int i = 0; i < s.repeat; ++i) {
      if (i > 0 && s.repeat_delay > 0)
        std::this_thread::sleep_for(std::chrono::duration<double>(s.repeat_delay));
      out.send(payload);
    }
  }
  const auto ec = out.finish();
  c.disconnect(reason::normal_disconnection, setup.disconnect_props).wait();
  c.loop_stop();
  if (ec) return report(f, t, {exit_status::failure, fmt::format("publish to '{}' failed: {}", s.topic, ec.message())});
  if (lost) return report(f, t, {exit_status::failure, fmt::format("the connection to {} was lost", setup.uri)});
  return exit_status::ok;
}

}  // namespace

void add_pub(CLI::App& app, int& status) {
  auto s = std::make_shared<pub_settings>();
  auto* cmd = app.add_subcommand("pub", "Publish messages (mosquitto_pub's flags)");
  add_client_flags(*cmd, s->common, tool::pub);
  cmd->add_option("-t,--topic", s->topic, "Topic to publish to");
  cmd->add_option("-m,--message", s->message, "Message payload");
  cmd->add_option("-f,--file", s->file, "Send the contents of a file as the message");
  cmd->add_flag("-l,--stdin-line", s->lines, "Send each line of stdin as a message (without its newline)");
  cmd->add_flag("-s,--stdin-file", s->whole_stdin, "Send all of stdin as one message");
  cmd->add_flag("-n,--null-message", s->null_message, "Send a null (zero length) message");
  cmd->add_option("-q,--qos", s->qos, "QoS of the messages")->check(CLI::Range(0, 2))->capture_default_str();
  cmd->add_flag("-r,--retain", s->retain, "Retained messages");
  cmd->add_option("--repeat", s->repeat, "With -m, -f, -s or -n: publish N times")->capture_default_str();
  cmd->add_option("--repeat-delay", s->repeat_delay, "Seconds between repeats")->capture_default_str();
  cmd->footer(
      "Exit status: 0 when every message went out (QoS 1/2: acknowledged); 1 when the broker cannot be\n"
      "reached, the connection is lost or a publish is refused; 2 for a usage error; a refused CONNECT\n"
      "exits with the CONNACK's code, as mosquitto_pub does (3.x: 1-5; 5.0: 128-162).\n"
      "TLS: --cafile, --capath, --cert/--key, --insecure, --tls-use-os-certs or -L mqtts:// (port 8883\n"
      "unless -p); the broker's certificate is verified against the CAs (default: the system's) and host.\n"
      "Differences from mosquitto_pub: usage errors exit 2 (not 1); -D needs -V 5 and is refused\n"
      "for packets tern pub does not send.");
  cmd->callback([s, &status] { status = run_pub(*s); });
}

}  // namespace tern::cli
