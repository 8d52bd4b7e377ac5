// tern/bench/options.hpp: what one `tern bench` run does: the scenario, the
// broker to drive, the load, and how the generator itself runs.
//
//   tern::bench::options o;
//   o.scenario = tern::bench::scenario::fan_in;
//   o.publishers = 8;
//   o.qos = tern::qos::at_least_once;
//   if (auto problem = o.check(); !problem.empty()) fail(problem);
//   auto r = tern::bench::run(o);   // runner.hpp
//
// Scenarios (each publisher is one stream of numbered messages):
//   fan-in   P publishers -> 1 subscriber, one topic
//   fan-out  1 publisher  -> S subscribers, one topic
//   pairs    N publishers -> N subscribers, one topic per pair
//   shared   P publishers -> S members of one $share group
//   idle     N connections that only keep their session alive (PINGREQ)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tern/codec/packet.hpp"

namespace tern::bench {

enum class scenario : std::uint8_t { fan_in, fan_out, pairs, shared, idle };

std::string_view name(scenario s) noexcept;
std::optional<scenario> parse_scenario(std::string_view s) noexcept;

struct options {
  bench::scenario scenario = scenario::fan_in;
  std::string host = "127.0.0.1";  // an IPv4 address or a host name
  std::uint16_t port = 1883;
  protocol_version version = protocol_version::v3_1_1;
  tern::qos qos = qos::at_most_once;
  std::size_t size = 64;  // payload bytes; at least stamp_size (stamp.hpp)

  std::uint32_t publishers = 1;   // fan-in, shared
  std::uint32_t subscribers = 1;  // fan-out, shared
  std::uint32_t pairs = 1;        // pairs
  std::uint32_t connections = 1;  // idle

  double duration = 10;  // seconds of publishing (idle: of holding, then the broker's memory is read)
  double rate = 0;       // messages per second per publisher; 0: as fast as the window allows
  // Messages a publisher may have sent that its slowest receiver has not yet
  // received. A subscriber counts by the highest sequence number it has seen
  // (so a lost message does not close the window for good); a $share group
  // at QoS 1/2 counts arrivals, since its members see a stream out of order.
  std::uint32_t window = 100;
  // Cap on unacknowledged QoS 1/2 PUBLISHes per publisher, below the
  // broker's Receive Maximum (5.0) which is always respected.
  std::uint32_t max_inflight = 65535;
  std::uint32_t batch = 256;  // most PUBLISHes a publisher writes per loop turn
  std::uint32_t threads = 1;  // event loops (one epoll each)

  std::uint16_t keep_alive = 60;           // seconds, in CONNECT; PINGREQ at 3/4 of it when idle
  std::uint32_t connect_concurrency = 100;  // handshakes in progress at once (a broker's listen backlog)
  // 0: the kernel picks the source address. N > 0: connections are bound in
  // turn to 127.0.0.2 .. 127.0.0.(N+1) (each gives ~28,000 ports).
  std::uint32_t source_addresses = 0;
  double connect_timeout = 30;  // seconds for every connection to be ready
  double drain = 5;  // seconds after publishing stops to collect stragglers (QoS 0: until a second brings none)

  int broker_pid = 0;  // when set: the broker's VmRSS and CPU time are read from /proc
  std::string topic_prefix = "tern-bench";
  // TLS (mqtts): every connection makes a full handshake; the server is
  // verified against ca_file when one is given, else not at all.
  bool tls = false;
  std::string ca_file;
  // Non-empty: MQTT over WebSocket on this HTTP path (over TLS with tls).
  std::string ws_path;

  // An empty string, or what is wrong with these options.
  std::string check() const;
  // Publishing connections, subscribing connections, and all of them.
  std::uint32_t publisher_count() const noexcept;
  std::uint32_t subscriber_count() const noexcept;
  std::uint32_t connection_count() const noexcept { return publisher_count() + subscriber_count(); }
};

}  // namespace tern::bench
