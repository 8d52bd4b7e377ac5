// client_session tests: the client's side of MQTT with no socket and no
// sleep. The test plays the link (opens, writes, fires the timer at the
// session's deadline on a manual clock) and the broker (exact packets in),
// and asserts the exact packets out and the events, in order.
#include "tern/client/client_session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "tern/storage/storage.hpp"

// The session is sans-I/O: nothing above may bring Asio in.
#ifdef BOOST_ASIO_VERSION
#error "client_session.hpp includes Asio"
#endif

namespace tern::client_detail {
namespace {

using namespace std::chrono_literals;

template <class Ack>
Ack ack(std::uint16_t id) {
  Ack a;
  a.packet_id = id;
  return a;
}

// A memory store whose commits fail while `failing`.
struct flaky_store final : storage::store {
  std::unique_ptr<storage::store> inner = storage::make_memory_store();
  bool failing = false;
  storage::retain_store& retained() override { return inner->retained(); }
  storage::session_store& sessions() override { return inner->sessions(); }
  storage::message_store& messages() override { return inner->messages(); }
  storage::will_store& wills() override { return inner->wills(); }
  storage::storage_result<void> commit(const storage::write_batch& b, storage::wait_for w) override {
    if (failing) return storage::storage_error{make_error_code(storage::errc::io_error), "disk full (test)"};
    return inner->commit(b, w);
  }
  storage::storage_result<void> sync() override { return inner->sync(); }
  storage::store_stats stats() const override { return inner->stats(); }
};

// The link and the application, as the session sees them.
struct recorder final : client_session::events {
  std::vector<std::string> log;  // events, in order ("write" per write)
  std::deque<packet> sent;       // packets written, decoded, not yet looked at
  decoder dec;
  bool writing = false;
  error_code open_result;
  persistent_session* store = nullptr;
  bool dirty_at_write = false;    // a write began with uncommitted records
  bool dirty_at_message = false;  // a message was handed over uncommitted

  static std::string ec_text(error_code ec) { return ec ? ec.message() : "ok"; }

  error_code open_transport() override {
    log.push_back("open");
    dec = decoder{};
    return open_result;
  }
  void close_transport() override { log.push_back("close"); }
  void write(write_buffer& out) override {
    if (store && store->dirty()) dirty_at_write = true;
    EXPECT_FALSE(writing) << "two writes at once";
    writing = true;
    for (auto b : out.buffers()) {
      bytes_view in = b;
      while (!in.empty()) {
        auto r = dec.next(in);
        ASSERT_TRUE(r) << r.error().message();
        if (*r) sent.push_back(std::move(**r));
      }
    }
    out.clear();
    log.push_back("write");
  }
  void connect_done(error_code ec, const connack_packet&) override { log.push_back("connect_done " + ec_text(ec)); }
  void publish_done(std::uint64_t tag, error_code ec, reason rc) override {
    log.push_back("publish_done " + std::to_string(tag) + " " + ec_text(ec) + " " + std::string(name(rc)));
  }
  void request_done(std::uint64_t id, error_code ec, std::vector<reason> codes) override {
    log.push_back("request_done " + std::to_string(id) + " " + ec_text(ec) + " " + std::to_string(codes.size()));
  }
  void ping_done(error_code ec) override { log.push_back("ping_done " + ec_text(ec)); }
  void message(publish_packet m, delivery d) override {
    if (store && store->dirty()) dirty_at_message = true;
    log.push_back("message " + std::string(m.topic()) + " #" + std::to_string(d.number));
  }
  void connected(const connack_packet& a) override {
    log.push_back(std::string("connected ") + (a.session_present ? "present" : "new"));
  }
  void disconnected(error_code why) override { log.push_back("disconnected " + ec_text(why)); }
  void stopped(error_code ec) override { log.push_back("stopped " + ec_text(ec)); }
};

class ClientSession : public ::testing::Test {
 protected:
  ClientSession() {
    opts.reconnect.jitter = 0;
    opts.reconnect.min_delay = 100ms;
    opts.reconnect.max_delay = 400ms;
    copts.client_id = "c1";
    copts.keep_alive = 10;
  }

  void make() { s = std::make_unique<client_session>(opts, log::logger{}, ev); }
  // connect() and begin(): the link is asked to open.
  void start() {
    if (!s) make();
    ASSERT_FALSE(s->connect("mqtt://broker.test", copts, now, 0));
    s->begin(now);
  }
  // The transport opened: CONNECT goes out.
  void open() {
    s->opened({}, now);
    s->turn(now);
    auto c = expect<connect_packet>();
    EXPECT_EQ(c.client_id, copts.client_id);
    finish_writes();
  }
  // The broker accepts.
  void accept(bool present = false, properties props = {}) {
    feed(connack_packet{present, reason::success, std::move(props)});
  }
  // Every write in flight finishes (each may start the next).
  void finish_writes() {
    while (ev.writing) {
      ev.writing = false;
      s->written({}, now);
    }
  }
  void feed(const packet& p) {
    const auto b = encode(p, copts.version);
    s->received(bytes_view(b.data(), b.size()), now);
    finish_writes();
  }
  // A session over `backing` (Clean Start 0), connected; its events forgotten.
  void connect_with_store(std::unique_ptr<storage::store> backing) {
    make();
    auto store = std::make_unique<persistent_session>(std::move(backing));
    ev.store = store.get();
    s->attach_store(std::move(store));
    copts.clean_start = false;
    start();
    open();
    accept();
    events();
  }
  // The transport broke: the session closes it and, once written out, ends.
  void drop() {
    s->transport_error(error_code(ECONNRESET, boost::system::system_category()), now);
    finish_writes();
  }
  // The clock reaches the session's deadline and the timer fires.
  void fire() {
    auto t = s->next_deadline();
    ASSERT_TRUE(t);
    now = *t;
    s->on_timer(now);
    finish_writes();
  }
  std::uint64_t publish(std::string topic, qos q) {
    auto r = s->publish(publish_packet(topic, shared_bytes::copy("x"), q), now);
    EXPECT_FALSE(r.ec) << r.ec.message();
    s->turn(now);
    finish_writes();
    return r.tag;
  }
  template <class P>
  P expect() {
    if (ev.sent.empty()) {
      ADD_FAILURE() << "no packet; expected " << name(P::type);
      return P{};
    }
    auto p = std::move(ev.sent.front());
    ev.sent.pop_front();
    if (!std::holds_alternative<P>(p)) {
      ADD_FAILURE() << "got " << name(type_of(p)) << ", expected " << name(P::type);
      return P{};
    }
    return std::get<P>(std::move(p));
  }
  std::vector<std::string> events() { return std::exchange(ev.log, {}); }

  time_point now{std::chrono::hours(1)};
  client_options opts;
  connect_options copts;
  recorder ev;
  std::unique_ptr<client_session> s;
};

TEST_F(ClientSession, ConnectsAndArmsTheKeepAlive) {
  opts.session.connect_timeout = 5s;
  start();
  EXPECT_EQ(events(), (std::vector<std::string>{"open"}));
  EXPECT_EQ(s->next_deadline(), now + 5s);  // the connect timeout while opening
  now += 1s;
  open();
  accept();
  EXPECT_EQ(events(), (std::vector<std::string>{"write", "connect_done ok", "connected new"}));
  EXPECT_TRUE(s->connected());
  EXPECT_EQ(s->next_deadline(), now + 10s);  // keep alive from the CONNECT
  fire();                                    // PINGREQ when nothing was sent for 10 s
  (void)expect<pingreq_packet>();
  EXPECT_TRUE(ev.sent.empty());
}

TEST_F(ClientSession, TimeoutsOfMillisecondsMaxMeanNever) {
  // "For ever" written as milliseconds::max(): deadlines at the clock's end,
  // not an overflow (UBSan) or a deadline in the past.
  opts.session.connect_timeout = std::chrono::milliseconds::max();
  opts.close_timeout = std::chrono::milliseconds::max();
  start();
  EXPECT_EQ(s->next_deadline(), time_point::max());
  open();
  accept();
  events();
  s->disconnect(reason::success, {}, now);
  ASSERT_TRUE(s->next_deadline());  // the DISCONNECT is being written: the close timeout runs
  EXPECT_EQ(*s->next_deadline(), time_point::max());
}

TEST_F(ClientSession, FirstAttemptTimingOutStopsTheClient) {
  opts.session.connect_timeout = 5s;
  start();
  const auto pub = s->publish(publish_packet("t", shared_bytes::copy("x"), qos::at_least_once), now);
  fire();
  EXPECT_EQ(events(), (std::vector<std::string>{"open", "close", "connect_done Connection timed out",
                                                "publish_done " + std::to_string(pub.tag) +
                                                    " Connection timed out Unspecified error",
                                                "stopped Connection timed out"}));
  EXPECT_TRUE(s->idle());
  EXPECT_FALSE(s->next_deadline());
}

TEST_F(ClientSession, ReconnectBackoffDeadlinesDoubleToTheMaximumAndResetOnConnack) {
  start();
  open();
  accept();
  events();
  drop();
  EXPECT_EQ(events(), (std::vector<std::string>{"close", "disconnected Connection reset by peer"}));
  for (auto d : {100ms, 200ms, 400ms, 400ms}) {
    EXPECT_EQ(s->next_deadline(), now + d);
    fire();
    EXPECT_EQ(events(), (std::vector<std::string>{"open"}));
    s->opened(error_code(ECONNREFUSED, boost::system::system_category()), now);  // unreachable: retried
  }
  EXPECT_EQ(s->next_deadline(), now + 400ms);
  fire();
  open();
  accept(true);
  EXPECT_EQ(events(), (std::vector<std::string>{"open", "write", "connect_done ok", "connected present"}));
  drop();
  EXPECT_EQ(s->next_deadline(), now + 100ms);  // the CONNACK reset the backoff
  EXPECT_EQ(s->connects(), 2u);
}

// After a reconnect whose CONNACK says the broker kept nothing: the message
// in flight first, then the subscriptions held, then the request made while
// disconnected, then the offline queue.
TEST_F(ClientSession, ReconnectSendsInFlightThenResubscribesThenRequestsThenTheQueue) {
  start();
  open();
  accept();
  auto sub = s->subscribe({{"a/#", {.max_qos = qos::at_least_once}}}, {});
  ASSERT_FALSE(sub.ec);
  s->turn(now);
  finish_writes();
  auto sp = expect<subscribe_packet>();
  feed(suback_packet{sp.packet_id, {reason::granted_qos_1}, {}});
  const auto inflight = publish("t/1", qos::at_least_once);
  const auto first = expect<publish_packet>();
  EXPECT_EQ(first.topic(), "t/1");
  drop();
  events();

  const auto queued = publish("t/2", qos::at_least_once);  // while disconnected: queued
  auto unsub = s->unsubscribe({"b"}, {});
  ASSERT_FALSE(unsub.ec);
  EXPECT_EQ(s->queued(), 1u);
  EXPECT_TRUE(ev.sent.empty());

  fire();
  open();
  accept(false);
  auto again = expect<publish_packet>();
  EXPECT_EQ(again.topic(), "t/1");
  EXPECT_EQ(again.packet_id, first.packet_id);
  auto restore = expect<subscribe_packet>();
  ASSERT_EQ(restore.entries.size(), 1u);
  EXPECT_EQ(restore.entries[0].filter, "a/#");
  auto u = expect<unsubscribe_packet>();
  EXPECT_EQ(u.filters, std::vector<std::string>{"b"});
  auto next = expect<publish_packet>();
  EXPECT_EQ(next.topic(), "t/2");
  EXPECT_TRUE(ev.sent.empty());

  // The restoring SUBSCRIBE completes nobody's request; the others do.
  feed(suback_packet{restore.packet_id, {reason::granted_qos_1}, {}});
  feed(unsuback_packet{u.packet_id, {reason::success}, {}});
  feed(ack<puback_packet>(again.packet_id));
  feed(ack<puback_packet>(next.packet_id));
  EXPECT_EQ(events(), (std::vector<std::string>{"open", "write", "connect_done ok", "connected new", "write",
                                                "request_done " + std::to_string(unsub.id) + " ok 1",
                                                "publish_done " + std::to_string(inflight) + " ok Success",
                                                "publish_done " + std::to_string(queued) + " ok Success"}));
}

TEST_F(ClientSession, ResumedSessionResendsWithDupAndDoesNotResubscribe) {
  start();
  open();
  accept();
  (void)s->subscribe({{"a/#", {}}}, {});
  s->turn(now);
  finish_writes();
  auto sp = expect<subscribe_packet>();
  feed(suback_packet{sp.packet_id, {reason::granted_qos_0}, {}});
  (void)publish("t/1", qos::at_least_once);
  const auto first = expect<publish_packet>();
  drop();
  fire();
  open();
  accept(true);
  auto again = expect<publish_packet>();
  EXPECT_TRUE(again.dup);
  EXPECT_EQ(again.packet_id, first.packet_id);
  EXPECT_TRUE(ev.sent.empty());  // no SUBSCRIBE: the broker kept them
}

// The offline queue waits for the CONNACK, then goes out within the
// broker's Receive Maximum, one more per PUBACK.
TEST_F(ClientSession, OfflineQueueFlushesInOrderWithinTheReceiveMaximum) {
  start();
  const auto a = s->publish(publish_packet("q/a", shared_bytes::copy("1"), qos::at_least_once), now).tag;
  const auto b = s->publish(publish_packet("q/b", shared_bytes::copy("2"), qos::at_least_once), now).tag;
  const auto c = s->publish(publish_packet("q/c", shared_bytes::copy("3"), qos::at_most_once), now).tag;
  s->turn(now);
  EXPECT_EQ(s->queued(), 3u);
  open();
  EXPECT_TRUE(ev.sent.empty());  // nothing before the CONNACK
  accept(false, properties::builder{}.add<property_id::receive_maximum>(1).build());
  auto pa = expect<publish_packet>();
  EXPECT_EQ(pa.topic(), "q/a");
  EXPECT_TRUE(ev.sent.empty());  // q/b waits for room; q/c waits behind it
  EXPECT_EQ(s->queued(), 2u);
  events();
  feed(ack<puback_packet>(pa.packet_id));
  auto pb = expect<publish_packet>();
  EXPECT_EQ(pb.topic(), "q/b");
  auto pc = expect<publish_packet>();
  EXPECT_EQ(pc.topic(), "q/c");
  EXPECT_EQ(events(), (std::vector<std::string>{"publish_done " + std::to_string(a) + " ok Success", "write",
                                                "publish_done " + std::to_string(c) + " ok Success"}));
  feed(ack<puback_packet>(pb.packet_id));
  EXPECT_EQ(events(), (std::vector<std::string>{"publish_done " + std::to_string(b) + " ok Success"}));
}

// client_options::max_inflight (paho's max_inflight_messages) bounds what is
// in flight below a larger Receive Maximum; QoS 0 is not counted.
TEST_F(ClientSession, MaxInflightBoundsWhatIsInFlight) {
  opts.max_inflight = 1;
  start();
  open();
  accept();  // Receive Maximum 65,535
  const auto a = publish("m/a", qos::at_least_once);
  const auto b = publish("m/b", qos::exactly_once);
  auto pa = expect<publish_packet>();
  EXPECT_EQ(pa.topic(), "m/a");
  EXPECT_TRUE(ev.sent.empty());  // m/b waits for room
  EXPECT_EQ(s->queued(), 1u);
  events();
  feed(ack<puback_packet>(pa.packet_id));
  EXPECT_EQ(expect<publish_packet>().topic(), "m/b");
  EXPECT_EQ(events(), (std::vector<std::string>{"publish_done " + std::to_string(a) + " ok Success", "write"}));
  (void)b;
}

// QoS 2 both ways across a reconnect to a broker that kept the session:
// the released message goes on as PUBREL, not PUBLISH; the message received
// and resent by the broker reaches the application once.
TEST_F(ClientSession, Qos2IsNotDuplicatedAfterAReconnect) {
  start();
  open();
  accept();
  const auto tag = publish("out", qos::exactly_once);
  auto p = expect<publish_packet>();
  feed(ack<pubrec_packet>(p.packet_id));
  EXPECT_EQ(expect<pubrel_packet>().packet_id, p.packet_id);
  publish_packet in("in", shared_bytes::copy("m"), qos::exactly_once);
  in.packet_id = 7;
  feed(in);
  EXPECT_EQ(expect<pubrec_packet>().packet_id, 7);
  drop();
  auto before = events();
  EXPECT_EQ(std::count(before.begin(), before.end(), "message in #0"), 1);

  fire();
  open();
  accept(true);
  EXPECT_EQ(expect<pubrel_packet>().packet_id, p.packet_id);  // not the PUBLISH again
  EXPECT_TRUE(ev.sent.empty());
  in.dup = true;
  feed(in);  // the broker did not see our PUBREC
  EXPECT_EQ(expect<pubrec_packet>().packet_id, 7);
  feed(ack<pubrel_packet>(7));
  EXPECT_EQ(expect<pubcomp_packet>().packet_id, 7);
  feed(ack<pubcomp_packet>(p.packet_id));
  auto log = events();
  EXPECT_EQ(std::count(log.begin(), log.end(), "message in #0"), 0);  // not again
  EXPECT_EQ(std::count(log.begin(), log.end(), "publish_done " + std::to_string(tag) + " ok Success"), 1);
}

// 3.1.1 with Clean Session: the broker forgets the session, so the message
// in flight goes back to the front of the queue and out again as new; the
// QoS 2 message already released (PUBREL) reached the broker: it completes.
TEST_F(ClientSession, CleanSessionReconnectRequeuesInFlightAndCompletesReleasedQos2) {
  copts.version = protocol_version::v3_1_1;
  start();
  open();
  accept();
  const auto a = publish("a", qos::at_least_once);
  EXPECT_EQ(expect<publish_packet>().topic(), "a");
  const auto b = publish("b", qos::exactly_once);
  const auto pb = expect<publish_packet>();
  feed(ack<pubrec_packet>(pb.packet_id));
  (void)expect<pubrel_packet>();
  drop();
  events();
  fire();
  s->opened({}, now);
  EXPECT_EQ(events(), (std::vector<std::string>{"open", "publish_done " + std::to_string(b) + " ok Success"}));
  EXPECT_EQ(s->queued(), 1u);
  s->turn(now);
  EXPECT_TRUE(expect<connect_packet>().clean_start);
  finish_writes();
  accept();
  auto again = expect<publish_packet>();
  EXPECT_EQ(again.topic(), "a");
  EXPECT_FALSE(again.dup);
  EXPECT_TRUE(ev.sent.empty());  // no PUBREL for b
  feed(ack<puback_packet>(again.packet_id));
  auto log = events();
  EXPECT_EQ(log.back(), "publish_done " + std::to_string(a) + " ok Success");
}

// 5.0 Message Expiry: a queued message goes out with the time it has left,
// or not at all once it ran out.
TEST_F(ClientSession, QueuedMessagesExpireAndGoOutWithTheTimeLeft) {
  start();
  auto with_expiry = [&](std::string topic, std::uint32_t seconds) {
    return s->publish(publish_packet(topic, shared_bytes::copy("x"), qos::at_least_once, false,
                                     properties::builder{}.add<property_id::message_expiry_interval>(seconds).build()),
                      now)
        .tag;
  };
  const auto short_lived = with_expiry("short", 3);
  (void)with_expiry("long", 10);
  now += 4s;
  open();
  accept();
  auto p = expect<publish_packet>();
  EXPECT_EQ(p.topic(), "long");
  EXPECT_EQ(p.props().get<property_id::message_expiry_interval>(), 6u);
  EXPECT_TRUE(ev.sent.empty());
  auto log = events();
  EXPECT_NE(std::find(log.begin(), log.end(),
                      "publish_done " + std::to_string(short_lived) + " " +
                          make_error_code(client_error::message_expired).message() + " Unspecified error"),
            log.end());
}

// With a store: every record is committed before the bytes it stands for
// are handed to write(), and a received message reaches the application
// only once its record is committed, before its PUBACK leaves.
TEST_F(ClientSession, StoreCommitsBeforeWritingAndBeforeHandingOver) {
  connect_with_store(storage::make_memory_store());
  const auto tag = s->publish(publish_packet("t", shared_bytes::copy("x"), qos::at_least_once), now).tag;
  EXPECT_TRUE(ev.store->dirty());  // recorded as queued
  s->turn(now);                    // commit, then write
  auto p = expect<publish_packet>();
  finish_writes();
  publish_packet in("in", shared_bytes::copy("m"), qos::at_least_once);
  in.packet_id = 3;
  feed(in);
  EXPECT_EQ(expect<puback_packet>().packet_id, 3);
  feed(ack<puback_packet>(p.packet_id));
  EXPECT_FALSE(ev.dirty_at_write);
  EXPECT_FALSE(ev.dirty_at_message);
  EXPECT_EQ(events(), (std::vector<std::string>{"write", "message in #1", "write",
                                                "publish_done " + std::to_string(tag) + " ok Success"}));
  s->delivered(1);
  EXPECT_TRUE(ev.store->dirty());  // the erase waits for the next commit's sync
}

// A commit that fails ends the connection without writing what it covered;
// the reconnect commits again, and only then do the bytes leave.
TEST_F(ClientSession, FailedCommitEndsTheConnectionWithoutWritingAndTheReconnectCommitsAgain) {
  auto backing = std::make_unique<flaky_store>();
  auto* flaky = backing.get();
  connect_with_store(std::move(backing));
  flaky->failing = true;
  const auto tag = s->publish(publish_packet("t", shared_bytes::copy("x"), qos::at_least_once), now).tag;
  s->turn(now);
  finish_writes();
  EXPECT_TRUE(ev.sent.empty());
  const auto io_error = "disconnected " + make_error_code(storage::errc::io_error).message();
  EXPECT_EQ(events(), (std::vector<std::string>{"close", io_error}));
  EXPECT_EQ(s->store_error(), make_error_code(storage::errc::io_error));

  fire();  // still failing: not even the CONNECT leaves
  s->opened({}, now);
  s->turn(now);
  finish_writes();
  EXPECT_TRUE(ev.sent.empty());
  EXPECT_EQ(events(), (std::vector<std::string>{"open", "close"}));

  flaky->failing = false;
  fire();
  open();
  accept(true);
  auto p = expect<publish_packet>();
  EXPECT_EQ(p.topic(), "t");
  EXPECT_FALSE(ev.dirty_at_write);
  feed(ack<puback_packet>(p.packet_id));
  EXPECT_EQ(events(), (std::vector<std::string>{"open", "write", "connect_done ok", "connected present", "write",
                                                "publish_done " + std::to_string(tag) + " ok Success"}));
}

TEST_F(ClientSession, PingCompletesOnPingrespAndFailsWithTheConnection) {
  start();
  open();
  accept();
  events();
  EXPECT_FALSE(s->ping());
  s->turn(now);
  finish_writes();
  (void)expect<pingreq_packet>();
  feed(pingresp_packet{});
  EXPECT_FALSE(s->ping());
  s->turn(now);
  finish_writes();
  drop();
  EXPECT_EQ(events(), (std::vector<std::string>{"write", "ping_done ok", "write", "close",
                                                "ping_done Connection reset by peer",
                                                "disconnected Connection reset by peer"}));
}

TEST_F(ClientSession, DisconnectWritesDisconnectThenStops) {
  start();
  open();
  accept();
  events();
  s->disconnect(reason::normal_disconnection, {}, now);
  EXPECT_TRUE(s->stopping());
  (void)expect<disconnect_packet>();
  finish_writes();
  auto log = events();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back(), "stopped Operation canceled");
  EXPECT_TRUE(s->idle());
  EXPECT_FALSE(s->next_deadline());
}

}  // namespace
}  // namespace tern::client_detail
