// libFuzzer target for the broker engine: whole connections, without I/O.
//
// A tern::engine::engine (two workers, a memory store, a manual clock) serves
// up to four client slots, driven as the network layer drives it: CONNECTs
// admitted on the worker that owns their client id, every worker committed,
// then batches handed between workers, until nothing moves; a connection
// that is closing has its output flushed and is destroyed at the next step.
//
// Input: three bytes of engine options (see make_options), then commands.
// A command's first byte: bits 0-1 the slot, bits 2-4 the action, bits 5-7 a
// parameter; its further bytes depend on the action:
//   0 raw bytes for the slot's connection: a length byte, then that many bytes
//   1 a well-formed CONNECT (client id from a small set, version, clean
//     start, will, keep alive, expiry, limits), on a new connection
//   2 a SUBSCRIBE or UNSUBSCRIBE (filters from a small set)
//   3 a PUBLISH (topic from a small set, QoS, retain, DUP, expiry, alias)
//   4 PUBACK, PUBREC, PUBREL or PUBCOMP (a given id, or the oldest in flight)
//   5 DISCONNECT, PINGREQ, closing the transport, or restarting the engine
//     on the same store (shutdown, or as after a crash)
//   6 advancing the clock (10 ms to 10 minutes): timeouts and ticks
//   7 raw bytes (as 0) on a new connection
// Packets are built in the version of the slot's CONNECT (5.0 before one).
// At the end every connection closes, and (session expiry capped) the clock
// passes every expiry.
//
// Invariants checked after every step (abort() on a violation):
//   - a connection's output is whole packets that tern's decoder reads in the
//     connection's version; before the version is known, it can only be one
//     refusing CONNACK (3.1.1 or 5.0 form), and the connection is closing;
//   - the first packet out is CONNACK, there is at most one; a refusal
//     carries no Session Present, nor does an acceptance of a Clean Start;
//     nothing follows a refusal or a DISCONNECT; DISCONNECT only to 5.0;
//   - nothing a client does not receive (CONNECT, SUBSCRIBE, UNSUBSCRIBE,
//     PINGREQ) goes out; PINGRESP never outnumbers PINGREQ; each PUBACK,
//     PUBREC, PUBCOMP answers a QoS 1 PUBLISH, QoS 2 PUBLISH, PUBREL of the
//     client with that id; SUBACK/UNSUBACK answer the client's SUBSCRIBE/
//     UNSUBSCRIBE in order, with the same id and one code per filter (5.0);
//   - a PUBLISH out: QoS at most the broker's Maximum QoS; a QoS 1/2 one has
//     a packet id, a new (not DUP) one an id not in flight on the connection;
//     no more in flight than the client's Receive Maximum and the broker's
//     max_inflight allow; within the client's Maximum Packet Size; topic
//     aliases within the client's Topic Alias Maximum, an empty topic only
//     with an alias set earlier on the connection;
//   - nothing is added to a connection's output once it was closing and its
//     output was taken;
//   - statistics: no counter underflows; clients_connected <= connections
//     alive; clients_total == the sessions the workers hold; after a restart
//     the recovered sessions are clients_total and none is connected;
//   - at the end no client is connected and no acknowledgement is held for a
//     full subscriber (options::queue_full hold_acks), and once every session has expired
//     no session, subscription, will or stored message is left.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <list>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/engine/engine.hpp"
#include "tern/storage/storage.hpp"

namespace {

using namespace tern;
using namespace tern::engine;
using namespace std::chrono_literals;

// Aborts (what libFuzzer reports), naming the invariant's line.
void check(bool ok, unsigned line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "broker_fuzz: invariant at line %u failed\n", line);
  std::abort();
}

constexpr std::size_t workers = 2;
constexpr std::size_t slots = 4;
constexpr std::size_t max_commands = 1024;
constexpr std::size_t max_ids = 64;  // client ids remembered for the final store check
constexpr std::uint32_t capped_expiry = 600;

struct fuzz_endpoint final : endpoint {
  using endpoint::endpoint;
  void wake() override {}
  std::string peer_address() const override { return "127.0.0.1:50000"; }
};

// Decisions from content, so that every verdict is reachable.
struct fuzz_hooks final : hooks {
  reason on_connect(const connect_request& r) override {
    if (r.username && *r.username == "bad") return reason::bad_user_name_or_password;
    if (r.client_id == "refused") return reason::not_authorized;
    return reason::success;
  }
  publish_verdict on_publish(const client_info& c, publish_packet& m) override {
    (void)c.peer();  // a hook may ask at any input
    if (m.topic() == "discard") return {publish_action::discard};
    if (m.topic() == "refuse") return {publish_action::refuse, reason::not_authorized};
    if (m.topic() == "redirect") m.set_topic("t/redirected");
    return {};
  }
  reason on_subscribe(const client_info&, subscription& s) override {
    if (s.filter == "forbidden") return reason::not_authorized;
    if (s.filter.starts_with("cap/")) s.options.max_qos = std::min(s.options.max_qos, qos::at_least_once);
    return reason::success;
  }
  void on_disconnect(const client_info& c, const error&) override { (void)c.peer(); }
};

struct input {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  bytes_view take(std::size_t k) {
    k = std::min(k, n);
    bytes_view v(reinterpret_cast<const std::byte*>(p), k);
    p += k;
    n -= k;
    return v;
  }
};

options make_options(std::uint8_t a, std::uint8_t b, std::uint8_t c) {
  options o;
  o.connection.maximum_qos = static_cast<qos>(std::min(a & 3, 2));
  o.connection.retain_available = (a & 4) == 0;
  o.connection.topic_alias_maximum = (a & 8) ? 2 : 0;
  o.connection.receive_maximum = (a & 16) ? 2 : 65'535;
  if (a & 32) o.connection.maximum_packet_size = 128;
  o.allow_zero_length_client_id = (a & 64) == 0;
  o.max_keep_alive = (a & 128) ? 5 : 0;
  constexpr std::size_t queue_sizes[] = {1000, 2, 4, 8};
  o.queue.max_messages = queue_sizes[b & 3];
  constexpr std::uint16_t inflight[] = {65'535, 1, 2, 3};
  o.max_inflight = inflight[(b >> 2) & 3];
  o.max_stored_messages = (b & 16) ? 4 : 1'000'000;
  if (b & 32) o.denied_filters = {"denied/#"};
  o.max_output_backlog = (b & 64) ? 256 : std::size_t{1} << 20;
  o.sys_interval = (b & 128) ? 10s : 0s;
  // Capped: at the end every session expires, and the store must be empty.
  o.max_session_expiry_interval = (c & 1) ? 0xFFFF'FFFF : capped_expiry;
  o.store_sync_interval = (c & 2) ? 1000ms : 0ms;
  if (c & 4) o.max_topic_levels = 2;  // "t/a/b" is one too deep
  // A full clean subscriber holds its publishers' acknowledgements instead of storing.
  if (c & 8) o.queue_full = tern::engine::queue_full_policy::hold_acks;
  return o;
}

// One network connection: the endpoint, the client's stream as the broker
// should read it, and what the broker sent it so far.
struct conn {
  std::unique_ptr<fuzz_endpoint> ep;

  // ---- client to broker ----
  decoder in;
  bool in_broken = false;
  bool hello = false;  // its CONNECT was read; then:
  protocol_version version = protocol_version::unknown;
  bool clean_start = false;
  std::uint32_t receive_maximum = 65'535;
  std::uint32_t maximum_packet_size = 268'435'460;
  std::uint32_t topic_alias_maximum = 0;
  std::unordered_map<std::uint16_t, std::uint32_t> qos1_in, qos2_in, pubrel_in;
  std::uint32_t pingreq_in = 0;
  struct request {
    packet_type answer;  // suback or unsuback
    std::uint16_t id;
    std::size_t codes;
  };
  std::deque<request> requests;  // SUBSCRIBE/UNSUBSCRIBE not answered yet

  // ---- broker to client ----
  decoder out;
  bool out_versioned = false;
  bool connack = false, refused = false, disconnected = false;
  std::set<std::uint16_t> inflight;  // QoS 1/2 PUBLISH ids the client has not acknowledged
  // Ids the client acknowledged during this step: the broker may have read
  // the acknowledgement before or after it sent a PUBLISH with the same id in
  // the same step, so such an id neither counts nor is a reuse until the
  // step ends (when it is taken out of `inflight`: it may still be in
  // flight, but leaving it out never raises a false alarm).
  std::set<std::uint16_t> acked_now;
  std::set<std::uint32_t> aliases;   // topic aliases set on this connection
  std::unordered_map<std::uint16_t, std::uint32_t> puback_out, pubrec_out, pubcomp_out;
  std::uint32_t pingresp_out = 0;
  bool drained = false;  // closing, and its output taken: nothing more may come

  protocol_version send_version() const { return hello ? version : protocol_version::v5; }
};

class harness {
 public:
  explicit harness(const options& o) : options_(o) { start(); }
  ~harness() {
    conns_.clear();  // endpoints before their engine
  }

  void run(input& in) {
    for (std::size_t n = 0; n < max_commands && !in.empty(); ++n) {
      const std::uint8_t b = in.byte();
      const std::size_t slot = b & 3;
      const std::uint8_t param = b >> 5;
      switch ((b >> 2) & 7) {
        case 0: send(slot, in.take(in.byte()), false); break;
        case 1: send_connect(slot, param, in); break;
        case 2: send_subscribe(slot, param, in); break;
        case 3: send_publish(slot, param, in); break;
        case 4: send_ack(slot, param, in); break;
        case 5: control(slot, param, in); break;
        case 6: advance(in.byte()); break;
        case 7: send(slot, in.take(in.byte()), true); break;
      }
      settle();
    }
    finish();
  }

 private:
  // ---- the engine ----

  void start() {
    eng_ = std::make_unique<tern::engine::engine>(options_, hooks_, *store_, workers, now_);
    auto r = eng_->recover(now_);
    check(static_cast<bool>(r));
    auto& st = eng_->stats();
    check(st.clients_connected.load() == 0);
    check(st.clients_total.load() == r->sessions);
    check_stats();
  }

  // The broker stops and starts again on the same store: cleanly (shutdown:
  // its clients are disconnected, every connection closes and the effects are
  // committed), or as after a crash (nothing more is committed; the endpoints
  // go with their engine).
  void restart(bool crash) {
    if (!crash) {
      for (std::size_t w = 0; w < eng_->workers(); ++w) eng_->worker_at(w).shutdown(now_);
      close_all();
    }
    conns_.clear();
    for (auto& s : slot_) s = nullptr;
    eng_.reset();
    start();
  }

  void close_all() {
    for (auto& c : conns_)
      if (!c.ep->closing()) c.ep->transport_closed(error{reason::unspecified_error, "closed by the fuzzer"}, now_);
    settle();  // takes the last outputs
    settle();  // destroys the endpoints
    check(conns_.empty());
    // Every subscriber is gone: no acknowledgement is held any more.
    for (std::size_t w = 0; w < eng_->workers(); ++w) check(eng_->worker_at(w).held_acknowledgements() == 0);
  }

  // Admits, commits and hands batches over until nothing moves, as the
  // network layer does at the end of a loop turn.
  void pump() {
    for (int round = 0; round < 16; ++round) {
      for (auto& c : conns_)
        if (c.ep->connect_pending()) eng_->worker_at(eng_->owner_of(*c.ep)).admit(*c.ep, now_);
      for (std::size_t w = 0; w < eng_->workers(); ++w) check(static_cast<bool>(eng_->worker_at(w).commit()));
      if (!eng_->deliver_outboxes(now_)) return;
    }
    for (std::size_t w = 0; w < eng_->workers(); ++w) check(static_cast<bool>(eng_->worker_at(w).commit()));
  }

  // The end of a step: connections closed and flushed before go (their
  // output must have stayed empty), the engine settles, outputs are taken.
  void settle() {
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (!it->drained) {
        ++it;
        continue;
      }
      check(it->ep->output().empty());
      for (auto& s : slot_)
        if (s == &*it) s = nullptr;
      it = conns_.erase(it);  // ~endpoint: may end a session, publish a will
    }
    pump();
    for (auto& c : conns_) {
      take_output(c);
      for (auto id : c.acked_now) c.inflight.erase(id);
      c.acked_now.clear();
    }
    check_stats();
  }

  void check_stats() {
    auto& st = eng_->stats();
    constexpr std::uint64_t huge = std::uint64_t{1} << 62;  // an underflow wraps past it
    for (const auto* v : {&st.clients_connected, &st.clients_total, &st.messages_received, &st.messages_sent,
                          &st.bytes_received, &st.bytes_sent, &st.messages_dropped, &st.stored_dropped,
                          &st.acknowledgements_held, &st.subscriptions})
      check(v->load() < huge);
    check(st.clients_connected.load() <= conns_.size());
    std::size_t sessions = 0;
    for (std::size_t w = 0; w < eng_->workers(); ++w) sessions += eng_->worker_at(w).sessions();
    check(st.clients_total.load() == sessions);
  }

  void advance(std::uint8_t x) {
    static constexpr std::chrono::milliseconds units[] = {10ms, 1000ms, 30'000ms, 600'000ms};
    now_ += units[static_cast<std::size_t>(x >> 6)] * ((x & 63) + 1);
    for (auto& c : conns_)
      if (auto t = c.ep->next_timeout(); t && *t <= now_) c.ep->on_timeout(now_);
    for (std::size_t w = 0; w < eng_->workers(); ++w)
      if (auto t = eng_->worker_at(w).next_tick(); t && *t <= now_) eng_->worker_at(w).tick(now_);
  }

  void finish() {
    close_all();
    auto& st = eng_->stats();
    check(st.clients_connected.load() == 0);
    if (options_.max_session_expiry_interval != capped_expiry) return;
    // Every session and delayed will runs out within the cap.
    now_ += std::chrono::seconds(capped_expiry + 1);
    for (std::size_t w = 0; w < eng_->workers(); ++w) eng_->worker_at(w).tick(now_);
    settle();
    for (std::size_t w = 0; w < eng_->workers(); ++w) check(eng_->worker_at(w).sessions() == 0);
    check(st.clients_total.load() == 0);
    check(st.subscriptions.load() == 0);
    bool left = false;
    store_->sessions().for_each([&](const storage::session_record&) { left = true; });
    store_->wills().for_each([&](const storage::will_record&) { left = true; });
    for (const auto& id : ids_) store_->messages().for_each(id, [&](const storage::message_record&) { left = true; });
    check(!left);
  }

  // ---- connections ----

  // The slot's connection; a new one when it has none, it is closing, or `fresh`.
  conn& connection(std::size_t slot, bool fresh) {
    conn*& c = slot_[slot];
    if (c && !c->ep->closing() && !fresh) return *c;
    if (c && !c->ep->closing()) c->ep->transport_closed(error{reason::unspecified_error, "reconnecting"}, now_);
    auto& n = conns_.emplace_back();
    n.ep = std::make_unique<fuzz_endpoint>(eng_->worker_at(opened_++ % workers), now_);
    c = &n;
    return n;
  }

  void send(std::size_t slot, bytes_view bytes, bool fresh) { feed(connection(slot, fresh), bytes); }

  void send(std::size_t slot, const packet& p) {
    auto& c = connection(slot, false);
    feed(c, encode(p, c.send_version()));
  }

  // The broker reads `bytes`, in one read.
  void feed(conn& c, bytes_view bytes) {
    read_client(c, bytes);
    c.ep->receive(bytes, now_);
  }

  void send_connect(std::size_t slot, std::uint8_t param, input& in) {
    static constexpr std::string_view ids[] = {"a", "b", "c", "d", "", "refused", "c-0123456789-0123456789", "e"};
    static constexpr protocol_version versions[] = {protocol_version::v3_1, protocol_version::v3_1_1,
                                                    protocol_version::v5, protocol_version::v5};
    static constexpr std::uint32_t expiries[] = {0, 5, 60, 0xFFFF'FFFF};
    static constexpr std::uint32_t receive_maxima[] = {0, 1, 2, 65'535};  // 0: none
    static constexpr std::uint32_t will_delays[] = {0, 0, 3, 100};
    const std::uint8_t x = in.byte(), y = in.byte(), z = in.byte();
    connect_packet c;
    c.client_id = std::string(ids[x & 7]);
    c.version = versions[(x >> 3) & 3];
    c.clean_start = (x & 0x20) != 0;
    c.keep_alive = y & 0x0F;
    if (x & 0x80) c.username = (param & 1) ? "bad" : "user";
    if (c.username && (param & 2)) c.password = "secret";
    const bool v5 = c.version == protocol_version::v5;
    if (x & 0x40) {
      will_message w;
      w.topic = (z & 8) ? "t/a" : "t/will";
      w.payload = shared_bytes::copy(std::string_view("will"));
      w.qos = static_cast<qos>(std::min((y >> 6) & 3, 2));
      w.retain = (z & 1) != 0;
      if (v5 && will_delays[(z >> 1) & 3])
        w.props = properties::builder{}.add<property_id::will_delay_interval>(will_delays[(z >> 1) & 3]).build();
      c.will = std::move(w);
    }
    if (v5) {
      properties::builder b;
      if (const auto e = expiries[(y >> 4) & 3]) b.add<property_id::session_expiry_interval>(e);
      if (const auto r = receive_maxima[(z >> 5) & 3]) b.add<property_id::receive_maximum>(r);
      if (z & 0x80) b.add<property_id::maximum_packet_size>(48);
      if (param & 4) b.add<property_id::topic_alias_maximum>(2);
      if (!b.empty()) c.props = b.build();
    }
    feed(connection(slot, true), encode(packet{c}, c.version));
  }

  static constexpr std::string_view filters[] = {
      "t/#", "t/+", "t/a", "#", "+/a", "$share/g/t/#", "$share/g/t/a", "$share/h/#",
      "forbidden", "denied/x", "$SYS/#", "cap/#", "t/redirected", "+/+", "t/a/b", "$share/g/#"};

  void send_subscribe(std::size_t slot, std::uint8_t param, input& in) {
    static constexpr std::uint32_t identifiers[] = {0, 1, 2, 268'435'455};
    const std::uint8_t x = in.byte(), y = in.byte();
    const auto id = static_cast<std::uint16_t>((y >> 4) + 1);
    if (param & 1) {
      unsubscribe_packet u;
      u.packet_id = id;
      u.filters.emplace_back(filters[x & 15]);
      if (param & 2) u.filters.emplace_back(filters[(x + 1) & 15]);
      return send(slot, packet{std::move(u)});
    }
    subscribe_packet s;
    s.packet_id = id;
    subscribe_options o;
    o.max_qos = static_cast<qos>(std::min((x >> 4) & 3, 2));
    o.no_local = (x & 0x40) != 0;
    o.retain_as_published = (x & 0x80) != 0;
    o.retain_handling = static_cast<retain_handling>(std::min(y & 3, 2));
    s.entries.push_back({std::string(filters[x & 15]), o});
    if (param & 2) s.entries.push_back({std::string(filters[(x + 1) & 15]), o});
    if (const auto i = identifiers[(y >> 2) & 3])
      s.props = properties::builder{}.add<property_id::subscription_identifier>(i).build();
    send(slot, packet{std::move(s)});
  }

  void send_publish(std::size_t slot, std::uint8_t param, input& in) {
    static constexpr std::string_view topics[] = {"t/a", "t/b", "t/a/b", "discard",
                                                  "refuse", "redirect", "cap/x", "denied/x"};
    const std::uint8_t x = in.byte(), y = in.byte(), z = in.byte();
    const auto q = static_cast<qos>(std::min((x >> 3) & 3, 2));
    properties::builder b;
    if (z & 0x20) b.add<property_id::message_expiry_interval>(1);
    const auto alias = static_cast<std::uint8_t>(param & 3);  // 0: none; 1: set 1; 2: use 1 (no topic); 3: set 2
    if (alias) b.add<property_id::topic_alias>(alias == 3 ? 2 : 1);
    const std::string payload(static_cast<std::size_t>(z & 31), 'p');
    publish_packet p(alias == 2 ? std::string_view() : topics[x & 7], shared_bytes::copy(std::string_view(payload)),
                     q, (x & 0x20) != 0, b.empty() ? properties{} : b.build());
    if (q != qos::at_most_once) {
      p.packet_id = static_cast<std::uint16_t>(y + 1);
      p.dup = (x & 0x40) != 0;
    }
    send(slot, packet{std::move(p)});
  }

  void send_ack(std::size_t slot, std::uint8_t param, input& in) {
    const std::uint8_t x = in.byte(), y = in.byte();
    auto id = static_cast<std::uint16_t>(y == 0 ? 1 : y);
    // The oldest message in flight to this client, as a real client acknowledges.
    if (auto* c = slot_[slot]; (param & 1) && c && !c->inflight.empty()) id = *c->inflight.begin();
    const bool refuse = (x & 4) != 0;
    switch (x & 3) {
      case 0: return send(slot, packet{puback_packet{id, refuse ? reason::unspecified_error : reason::success, {}, {}}});
      case 1: return send(slot, packet{pubrec_packet{id, refuse ? reason::unspecified_error : reason::success, {}, {}}});
      case 2:
        return send(slot,
                    packet{pubrel_packet{id, refuse ? reason::packet_identifier_not_found : reason::success, {}, {}}});
      default:
        return send(slot,
                    packet{pubcomp_packet{id, refuse ? reason::packet_identifier_not_found : reason::success, {}, {}}});
    }
  }

  void control(std::size_t slot, std::uint8_t param, input& in) {
    static constexpr std::uint32_t expiries[] = {0, 0, 10, 0xFFFF'FFFF};
    switch (param) {
      case 0:
      case 1: {
        const std::uint8_t x = in.byte();
        disconnect_packet d;
        d.reason_code = (x & 1) ? reason::disconnect_with_will_message : reason::normal_disconnection;
        if (x & 2) d.props = properties::builder{}.add<property_id::session_expiry_interval>(expiries[(x >> 2) & 3]).build();
        return send(slot, packet{std::move(d)});
      }
      case 2: return send(slot, packet{pingreq_packet{}});
      case 3:
      case 6:
        if (auto* c = slot_[slot]; c && !c->ep->closing())
          c->ep->transport_closed(error{reason::unspecified_error, "the peer went away"}, now_);
        return;
      case 4: return restart(false);
      case 5: return restart(true);
      default: return send(slot, in.take(in.byte()), false);
    }
  }

  // ---- what the client sent ----

  // Reads what the client sent.
  void read_client(conn& c, bytes_view bytes) {
    while (!bytes.empty() && !c.in_broken) {
      auto r = c.in.next(bytes);
      if (!r) {
        c.in_broken = true;
        return;
      }
      if (!*r) return;
      auto& p = **r;
      if (auto* h = std::get_if<connect_packet>(&p)) {
        if (c.hello) continue;  // a second CONNECT: the broker ends the connection
        c.hello = true;
        c.version = h->version;
        c.in.set_version(h->version);
        c.clean_start = h->clean_start;
        if (h->version == protocol_version::v5) {
          c.receive_maximum = h->props.get<property_id::receive_maximum>().value_or(65'535);
          c.maximum_packet_size = h->props.get<property_id::maximum_packet_size>().value_or(268'435'460);
          c.topic_alias_maximum = h->props.get<property_id::topic_alias_maximum>().value_or(0);
        }
        remember(h->client_id);
      } else if (auto* m = std::get_if<publish_packet>(&p)) {
        if (m->qos == qos::at_least_once) ++c.qos1_in[m->packet_id];
        if (m->qos == qos::exactly_once) ++c.qos2_in[m->packet_id];
      } else if (auto* s = std::get_if<subscribe_packet>(&p)) {
        c.requests.push_back({packet_type::suback, s->packet_id, s->entries.size()});
      } else if (auto* u = std::get_if<unsubscribe_packet>(&p)) {
        c.requests.push_back(
            {packet_type::unsuback, u->packet_id, c.version == protocol_version::v5 ? u->filters.size() : 0});
      } else if (auto* a = std::get_if<puback_packet>(&p)) {
        c.acked_now.insert(a->packet_id);
      } else if (auto* a = std::get_if<pubrec_packet>(&p)) {
        c.acked_now.insert(a->packet_id);  // (its PUBCOMP ends it; taken out early: never a false alarm)
      } else if (auto* a = std::get_if<pubcomp_packet>(&p)) {
        c.acked_now.insert(a->packet_id);
      } else if (auto* a = std::get_if<pubrel_packet>(&p)) {
        ++c.pubrel_in[a->packet_id];
      } else if (std::holds_alternative<pingreq_packet>(p)) {
        ++c.pingreq_in;
      }
    }
  }

  void remember(std::string_view id) {
    if (!id.empty() && ids_.size() < max_ids) ids_.emplace(id);
  }

  // ---- what the broker sent ----

  void take_output(conn& c) {
    auto& out = c.ep->output();
    if (out.empty()) {
      if (c.ep->closing()) c.drained = true;
      return;
    }
    check(!c.drained);
    std::vector<std::byte> bytes;
    for (auto b : out.buffers()) bytes.insert(bytes.end(), b.begin(), b.end());
    out.clear();
    if (c.ep->closing()) c.drained = true;
    if (!c.out_versioned) {
      const auto v = c.ep->connection().version();
      if (v == protocol_version::unknown) return unversioned_output(c, bytes);
      check(c.hello && c.version == v);
      c.out.set_version(v);
      c.out_versioned = true;
    }
    bytes_view rest(bytes.data(), bytes.size());
    while (!rest.empty()) {
      const auto before = rest.size();
      auto r = c.out.next(rest);
      check(static_cast<bool>(r));
      if (!*r) break;
      check_packet(c, **r, before - rest.size());
    }
    check(c.out.buffered() == 0);  // whole packets only
  }

  // Output before the broker knew the version: the refusal of a CONNECT it
  // could not read, in the form its first bytes asked for.
  void unversioned_output(conn& c, const std::vector<std::byte>& bytes) {
    check(c.ep->closing() && !c.connack);
    bool ok = false;
    for (auto v : {protocol_version::v5, protocol_version::v3_1_1}) {
      auto r = decode(bytes, v);
      if (!r) continue;
      const auto* a = std::get_if<connack_packet>(&*r);
      ok = ok || (a && is_failure(a->reason_code) && !a->session_present);
    }
    check(ok);
    c.connack = c.refused = true;
  }

  static bool counted(std::unordered_map<std::uint16_t, std::uint32_t>& out,
                      std::unordered_map<std::uint16_t, std::uint32_t>& in, std::uint16_t id) {
    return ++out[id] <= in[id];
  }

  void check_packet(conn& c, const packet& p, std::size_t size) {
    const auto t = type_of(p);
    const bool v5 = c.version == protocol_version::v5;
    check(t != packet_type::connect && t != packet_type::subscribe && t != packet_type::unsubscribe &&
          t != packet_type::pingreq);
    check(c.connack || t == packet_type::connack);  // CONNACK first
    check(!c.refused && !c.disconnected);           // nothing after a refusal or a DISCONNECT
    switch (t) {
      case packet_type::connack: {
        const auto& a = std::get<connack_packet>(p);
        check(!c.connack);
        c.connack = true;
        c.refused = is_failure(a.reason_code);
        if (c.refused || c.clean_start) check(!a.session_present);
        if (auto id = a.props.get<property_id::assigned_client_identifier>()) remember(*id);
        return;
      }
      case packet_type::publish: {
        const auto& m = std::get<publish_packet>(p);
        check(m.qos <= options_.connection.maximum_qos);
        if (m.qos != qos::at_most_once) {
          const auto id = m.packet_id;
          check(id != 0);
          check(m.dup || c.acked_now.contains(id) || !c.inflight.contains(id));
          c.inflight.insert(id);
          const auto window = std::min<std::uint32_t>(c.receive_maximum, std::max<std::uint16_t>(options_.max_inflight, 1));
          check(static_cast<std::size_t>(std::count_if(c.inflight.begin(), c.inflight.end(), [&](std::uint16_t i) {
                  return !c.acked_now.contains(i);
                })) <= window);
        }
        if (v5) {
          check(size <= c.maximum_packet_size);
          if (auto alias = m.props().get<property_id::topic_alias>()) {
            check(*alias >= 1 && *alias <= c.topic_alias_maximum);
            if (m.topic().empty()) check(c.aliases.contains(*alias));
            else c.aliases.insert(*alias);
          } else {
            check(!m.topic().empty());
          }
        } else {
          check(!m.topic().empty());
        }
        return;
      }
      case packet_type::puback: return check(counted(c.puback_out, c.qos1_in, std::get<puback_packet>(p).packet_id));
      case packet_type::pubrec: return check(counted(c.pubrec_out, c.qos2_in, std::get<pubrec_packet>(p).packet_id));
      case packet_type::pubcomp:
        return check(counted(c.pubcomp_out, c.pubrel_in, std::get<pubcomp_packet>(p).packet_id));
      case packet_type::suback:
      case packet_type::unsuback: {
        check(!c.requests.empty());
        const auto r = c.requests.front();
        c.requests.pop_front();
        check(r.answer == t);
        if (t == packet_type::suback) {
          const auto& a = std::get<suback_packet>(p);
          check(a.packet_id == r.id && a.reason_codes.size() == r.codes);
        } else {
          const auto& a = std::get<unsuback_packet>(p);
          check(a.packet_id == r.id && a.reason_codes.size() == r.codes);
        }
        return;
      }
      case packet_type::pingresp: return check(++c.pingresp_out <= c.pingreq_in);
      case packet_type::disconnect:
        check(v5);
        c.disconnected = true;
        return;
      default: return;  // PUBREL, AUTH
    }
  }

  options options_;
  fuzz_hooks hooks_;
  std::unique_ptr<storage::store> store_ = storage::make_memory_store();
  time_point now_{std::chrono::hours(1)};
  std::unique_ptr<tern::engine::engine> eng_;
  std::list<conn> conns_;  // alive; a slot's current one is in slot_
  std::array<conn*, slots> slot_{};
  std::size_t opened_ = 0;
  std::set<std::string> ids_{"a", "b", "c", "d", "e"};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const auto o = make_options(data[0], data[1], data[2]);
  input in{data + 3, size - 3};
  harness h(o);
  h.run(in);
  return 0;
}
