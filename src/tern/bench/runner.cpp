// tern::bench::run (runner.hpp): sets a scenario up (the connections, their
// streams and sinks, the loops of event_loop.hpp), runs its phases
// (connecting, running, draining) with progress, and reports.
#include "tern/bench/runner.hpp"

#include "tern/net/tls_filter.hpp"
#include "tern/net/ws_filter.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tern/bench/event_loop.hpp"
#include "tern/bench/proc.hpp"
#include "tern/bench/sequence.hpp"
#include "tern/bench/stamp.hpp"
#include "tern/codec/codec.hpp"

namespace tern::bench {

using namespace detail;

namespace {

// The PUBLISH of `c`, encoded once by the codec; the offsets of its packet id
// and payload are checked by decoding a patched copy.
void build_template(connection& c, const options& o) {
  std::vector<std::byte> zeros(o.size);
  publish_packet p(c.topic, shared_bytes::copy(bytes_view(zeros)), o.qos, false);
  p.packet_id = o.qos == qos::at_most_once ? 0 : 1;
  c.tmpl = encode(packet{p}, o.version);
  c.stamp_at = c.tmpl.size() - o.size;
  c.id_at = o.qos == qos::at_most_once ? 0 : c.stamp_at - 2 - (o.version == protocol_version::v5 ? 1 : 0);

  auto probe = c.tmpl;
  if (o.qos != qos::at_most_once) {
    probe[c.id_at] = std::byte{0xBE};
    probe[c.id_at + 1] = std::byte{0xEF};
  }
  const stamp want{c.stream, 42, 4242};
  write_stamp(probe.data() + c.stamp_at, want);
  auto decoded = decode(probe, o.version);
  const auto* pub = decoded ? std::get_if<publish_packet>(&*decoded) : nullptr;
  const auto got = pub ? read_stamp(pub->payload().span()) : std::nullopt;
  if (!pub || (o.qos != qos::at_most_once && pub->packet_id != 0xBEEF) || !got || got->seq != want.seq ||
      got->sent_ns != want.sent_ns || got->stream != want.stream || pub->topic() != c.topic)
    throw std::logic_error("tern bench: the PUBLISH template's offsets do not match the codec");
}

std::string run_id() {
  static const char digits[] = "0123456789abcdef";
  std::uint64_t x = now_ns() ^ (static_cast<std::uint64_t>(::getpid()) << 40);
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 32;
  std::string id;
  for (int i = 0; i < 6; ++i, x >>= 4) id += digits[x & 15u];
  return id;
}

std::string resolve(const std::string& host, std::uint16_t port, sockaddr_in& out) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int e = ::getaddrinfo(host.c_str(), nullptr, &hints, &res); e != 0 || res == nullptr)
    return "cannot resolve " + host + ": " + ::gai_strerror(e);
  std::memcpy(&out, res->ai_addr, sizeof out);
  ::freeaddrinfo(res);
  out.sin_port = htons(port);
  return {};
}

std::string raise_file_limit(std::uint64_t need) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur >= need) return {};
  if (lim.rlim_max < need)
    return std::to_string(need) + " open files needed; the hard limit is " + std::to_string(lim.rlim_max);
  lim.rlim_cur = need;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return errno_text("setrlimit");
  return {};
}

}  // namespace

report run(const options& o, const progress_callback& on_progress) {
  report r;
  r.options = o;
  if (auto problem = o.check(); !problem.empty()) {
    r.error = problem;
    return r;
  }
  run_state rs(o);
  if (auto e = raise_file_limit(std::uint64_t{o.connection_count()} + 64); !e.empty()) {
    r.error = e;
    return r;
  }
  if (auto e = resolve(o.host, o.port, rs.broker); !e.empty()) {
    r.error = e;
    return r;
  }
  if (o.tls) {
    std::string e;
    rs.tls = net::tls_client::make({.ca_file = o.ca_file, .cert_file = {}, .key_file = {}}, e);
    if (!rs.tls) {
      r.error = "TLS: " + e;
      return r;
    }
  }
  if (!o.ws_path.empty()) {  // WebSocket over TCP, or over the TLS layer
    net::ws_client_options w;
    w.host = o.host + ":" + std::to_string(o.port);
    w.path = o.ws_path;
    rs.tls = std::make_shared<net::ws_client>(std::move(w), std::move(rs.tls));
  }

  // The scenario's layout: streams (one per publisher), sinks, connections.
  const std::uint32_t publishers = o.publisher_count();
  const std::uint32_t subscribers = o.subscriber_count();
  rs.stream_count = publishers;
  rs.streams = std::make_unique<stream_state[]>(std::max<std::uint32_t>(publishers, 1));
  rs.copies = o.scenario == scenario::fan_out ? subscribers : 1;
  rs.count_groups = o.qos != qos::at_most_once;
  for (std::uint32_t i = 0; i < publishers; ++i) {
    rs.streams[i].receivers = rs.copies;
    rs.streams[i].reached = std::make_unique<padded_counter[]>(rs.copies);
  }
  rs.rate_interval_ns = o.rate > 0 ? std::max<std::uint64_t>(1, to_ns(1.0 / o.rate)) : 0;
  const std::string id = run_id();
  const std::string base = o.topic_prefix + "/" + id;
  std::vector<std::unique_ptr<connection>> all;
  auto add = [&](connection::role kind, char tag, std::uint32_t i) -> connection& {
    auto c = std::make_unique<connection>();
    c->kind = kind;
    c->index = static_cast<std::uint32_t>(all.size());
    c->client_id = "tb" + id + tag + std::to_string(i);
    all.push_back(std::move(c));
    return *all.back();
  };
  auto add_sink = [&](std::uint32_t members, std::uint32_t stream_base, std::uint32_t count, std::uint32_t slot) {
    sink_state sk;
    sk.members = members;
    sk.stream_base = stream_base;
    sk.stream_count = count;
    sk.slot = slot;
    rs.sinks.push_back(sk);
    return static_cast<std::uint32_t>(rs.sinks.size() - 1);
  };
  auto topic_of = [&](std::uint32_t i) {
    switch (o.scenario) {
      case scenario::fan_in: return base + "/fan-in";
      case scenario::fan_out: return base + "/fan-out";
      case scenario::pairs: return base + "/pair/" + std::to_string(i);
      case scenario::shared: return base + "/shared";
      case scenario::idle: break;
    }
    return base;
  };
  const std::uint32_t group = o.scenario == scenario::shared ? add_sink(subscribers, 0, publishers, 0) : 0;
  for (std::uint32_t i = 0; i < subscribers; ++i) {
    if (o.scenario == scenario::idle) {
      add(connection::role::idle, 'i', i);
      continue;
    }
    auto& c = add(connection::role::subscriber, 's', i);
    switch (o.scenario) {
      case scenario::fan_in: c.sink = add_sink(1, 0, publishers, 0); break;
      case scenario::fan_out: c.sink = add_sink(1, 0, 1, i); break;
      case scenario::pairs: c.sink = add_sink(1, i, 1, 0); break;
      case scenario::shared: c.sink = group; break;
      case scenario::idle: break;
    }
    const auto& sk = rs.sinks[c.sink];
    c.stream_base = sk.stream_base;
    c.trackers.resize(sk.stream_count);
    c.advanced.assign(sk.stream_count, 0);
    c.touched.assign(sk.stream_count, 0);
    c.filter = o.scenario == scenario::shared ? "$share/tern-bench/" + topic_of(i) : topic_of(i);
  }
  for (std::uint32_t i = 0; i < publishers; ++i) {
    auto& c = add(connection::role::publisher, 'p', i);
    c.stream = i;
    c.topic = topic_of(i);
    if (o.rate > 0) c.start_offset_ns = static_cast<std::uint64_t>(1e9 / o.rate * i / publishers);
    build_template(c, o);
  }

  for (std::uint32_t t = 0; t < o.threads; ++t) rs.loops.push_back(std::make_unique<event_loop>(rs));
  for (std::size_t k = 0; k < all.size(); ++k) rs.loops[k % rs.loops.size()]->add(all[k].get());

  auto sent_now = [&] {
    std::uint64_t n = 0;
    for (std::uint32_t i = 0; i < rs.stream_count; ++i) n += rs.streams[i].sent.value.load(std::memory_order_relaxed);
    return n;
  };
  auto received_now = [&] {
    std::uint64_t n = 0;
    for (auto& l : rs.loops) n += l->received_live.load(std::memory_order_relaxed);
    return n;
  };
  auto stop_all = [&] {
    rs.set_phase(phase::stopping);
    for (auto& l : rs.loops) l->wake();
    for (auto& l : rs.loops) l->join();
  };
  auto sleep = [](std::uint64_t ns) { std::this_thread::sleep_for(std::chrono::nanoseconds(ns)); };

  if (o.broker_pid > 0) r.broker_rss_before_kib = resident_kib(o.broker_pid);

  // Connect, subscribe.
  const std::uint64_t connect_start = now_ns();
  for (auto& l : rs.loops) l->start();
  std::uint64_t next_report = connect_start + s;
  for (;;) {
    const std::uint64_t now = now_ns();
    if (rs.failed.load()) break;
    if (rs.ready.load() >= all.size()) break;
    if (now - connect_start > to_ns(o.connect_timeout)) {
      rs.fail("timed out: " + std::to_string(rs.ready.load()) + " of " + std::to_string(all.size()) +
              " connections ready after " + std::to_string(o.connect_timeout) + " s");
      break;
    }
    if (on_progress && now >= next_report) {
      on_progress({"connecting", to_s(now - connect_start), rs.ready.load(), 0, 0});
      next_report += s;
    }
    sleep(2 * ms);
  }
  if (rs.failed.load()) {
    stop_all();
    r.error = rs.error;
    return r;
  }
  r.connections = static_cast<std::uint32_t>(all.size());
  r.connect_s = to_s(now_ns() - connect_start);

  // Run (idle: hold).
  const auto cpu_before = own_cpu();
  const auto broker_cpu_before = o.broker_pid > 0 ? cpu_seconds(o.broker_pid) : std::nullopt;
  const auto machine_before = machine_busy_seconds();
  const std::uint64_t t0 = now_ns(), t_end = t0 + to_ns(o.duration);
  rs.t0.store(t0);
  rs.t_end.store(t_end);
  rs.set_phase(phase::running);
  for (auto& l : rs.loops) l->wake();
  const char* running_name = o.scenario == scenario::idle ? "holding" : "running";
  next_report = t0 + s;
  for (std::uint64_t now = now_ns(); now < t_end; now = now_ns()) {
    if (on_progress && now >= next_report) {
      on_progress({running_name, to_s(now - t0), rs.ready.load(), sent_now(), received_now()});
      next_report += s;
    }
    sleep(std::min<std::uint64_t>(t_end - now, 20 * ms));
  }
  const auto cpu_after = own_cpu();
  const auto broker_cpu_after = o.broker_pid > 0 ? cpu_seconds(o.broker_pid) : std::nullopt;
  const auto machine_after = machine_busy_seconds();
  if (machine_before && machine_after) r.machine_busy_s = *machine_after - *machine_before;
  r.machine_cores = std::thread::hardware_concurrency();
  r.duration_s = to_s(now_ns() - t0);
  r.cpu_user_s = cpu_after.user_s - cpu_before.user_s;
  r.cpu_system_s = cpu_after.system_s - cpu_before.system_s;
  if (broker_cpu_before && broker_cpu_after) r.broker_cpu_s = *broker_cpu_after - *broker_cpu_before;
  if (o.broker_pid > 0 && o.scenario == scenario::idle) r.broker_rss_after_kib = resident_kib(o.broker_pid);

  // Drain: wait for what is still on its way, until everything arrived or
  // the drain time is up; at QoS 0 (where a broker may drop) also when
  // nothing arrived for a second.
  rs.set_phase(phase::draining);
  const std::uint64_t drain_start = now_ns();
  if (o.scenario != scenario::idle) {
    const std::uint64_t expected = sent_now() * rs.copies;
    std::uint64_t last = received_now();
    std::uint64_t last_change = drain_start;
    next_report = drain_start + s;
    for (std::uint64_t now = drain_start; now - drain_start < to_ns(o.drain); now = now_ns()) {
      const std::uint64_t got = received_now();
      if (got >= expected) break;
      if (got != last) {
        last = got;
        last_change = now;
      } else if (o.qos == qos::at_most_once && now - last_change > s) {
        break;
      }
      if (on_progress && now >= next_report) {
        on_progress({"draining", to_s(now - drain_start), rs.ready.load(), sent_now(), got});
        next_report += s;
      }
      sleep(ms);
    }
    if (o.broker_pid > 0) r.broker_rss_after_kib = resident_kib(o.broker_pid);
  }
  r.drain_s = to_s(now_ns() - drain_start);
  stop_all();

  // Figures.
  for (auto& l : rs.loops) {
    r.latency.merge(l->latency);
    r.received += l->received;
    r.received_in_run += l->received_in_run;
    r.unexpected += l->unexpected;
    r.refused += l->refused;
    r.disconnects += l->disconnects;
    r.pings += l->pings;
    r.write_calls += l->writes;
    r.read_calls += l->reads;
    if (l->min_receive_max > 0)
      r.receive_maximum = r.receive_maximum == 0 ? l->min_receive_max : std::min(r.receive_maximum, l->min_receive_max);
  }
  r.disconnect_reason = rs.disconnect_reason;
  r.sent = sent_now();
  r.expected = r.sent * rs.copies;
  std::vector<std::vector<const connection*>> members(rs.sinks.size());
  for (const auto& c : all)
    if (c->kind == connection::role::subscriber) members[c->sink].push_back(c.get());
  for (std::size_t k = 0; k < rs.sinks.size(); ++k) {
    const auto& sk = rs.sinks[k];
    for (std::uint32_t j = 0; j < sk.stream_count; ++j) {
      std::vector<const sequence_tracker*> trackers;
      for (const auto* c : members[k]) trackers.push_back(&c->trackers[j]);
      const auto m = merge(trackers);
      const std::uint64_t sent = rs.streams[sk.stream_base + j].sent.value.load();
      r.lost += sent > m.distinct ? sent - m.distinct : 0;
      r.duplicated += m.duplicates;
      r.reordered += m.reordered;
    }
  }
  return r;
}

}  // namespace tern::bench
