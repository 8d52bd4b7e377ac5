// Client persistence without kills (tern_client_persist_test):
// - persistent_session over a RocksDB store reopened: what each change
//   leaves, delivery numbers that keep increasing, the processed checkpoint.
// - AsyncClient objects destroyed and made again on the same store
//   directory, against a scripted broker (a socket the test thread plays,
//   checking the exact packets: DUP resends, PUBREL, no second delivery of a
//   QoS 2 message) and against mosquitto (publishes queued while the broker
//   is down reach a subscriber after the client was made again).
#include "tern/client/persistence.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "support/mosquitto.hpp"
#include "support/test_client.hpp"
#include "support/threaded_client.hpp"
#include "tern/storage/test_dir.hpp"

namespace tern {
namespace {

using namespace std::chrono_literals;
using error_code = boost::system::error_code;
using client_detail::persistent_session;
using storage::testing::temp_dir;
using tern::testing::test_client;
using tern::testing::threaded_client;

constexpr auto v5 = protocol_version::v5;

publish_packet msg(std::string_view topic, std::string_view payload, qos q = qos::at_least_once) {
  return publish_packet(topic, shared_bytes::copy(payload), q);
}
std::string text(const publish_packet& m) { return std::string(m.payload().view()); }

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<persistent_session> open(const temp_dir& d) {
  persistence_options o;
  o.dir = d.data();
  auto s = persistent_session::open(o, {}, session::clock::now(), unix_ms());
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

// ============================================================================ persistent_session

TEST(PersistentSession, KeepsInFlightQueuedAndIncomingAcrossReopen) {
  temp_dir d;
  const auto now = session::clock::now();
  std::uint64_t a = 0, b = 0, c = 0, n = 0;
  {
    auto s = open(d);
    ASSERT_TRUE(s);
    auto r = s->load("c1", 0);
    EXPECT_TRUE(r.inflight.empty() && r.queued.empty() && r.incoming_qos2.empty() && r.inbox.empty());
    session::state st;
    st.set_journal(s.get());
    a = s->next_seq();
    s->queue(a, msg("t/a", "a", qos::at_least_once), now);
    b = s->next_seq();
    s->queue(b, msg("t/b", "b", qos::exactly_once), now);
    c = s->next_seq();
    s->queue(c, msg("t/c", "c", qos::exactly_once), now);
    auto ma = msg("t/a", "a", qos::at_least_once);
    ma.packet_id = 1;
    st.add_outgoing(ma, 0, a, true);
    auto mb = msg("t/b", "b", qos::exactly_once);
    mb.packet_id = 2;
    st.add_outgoing(mb, 0, b, true);
    st.set_released(*st.find_outgoing(2));
    st.add_incoming_qos2(9);
    n = s->received(msg("in/x", "x", qos::exactly_once), now);
    EXPECT_EQ(n, 1u);
    EXPECT_TRUE(s->dirty());
    ASSERT_TRUE(s->commit());
    EXPECT_FALSE(s->dirty());
  }
  {
    auto s = open(d);
    ASSERT_TRUE(s);
    auto r = s->load("c1", 0);
    ASSERT_EQ(r.inflight.size(), 2u);
    EXPECT_EQ(r.inflight[0].message.packet_id, 1);
    EXPECT_EQ(r.inflight[0].seq, a);
    EXPECT_EQ(r.inflight[0].phase, session::outgoing::phase::awaiting_ack);
    EXPECT_EQ(text(r.inflight[0].message), "a");
    EXPECT_EQ(r.inflight[1].message.packet_id, 2);
    EXPECT_EQ(r.inflight[1].phase, session::outgoing::phase::awaiting_comp);
    EXPECT_EQ(r.inflight[1].message.qos, qos::exactly_once);  // restored for PUBCOMP matching
    ASSERT_EQ(r.queued.size(), 1u);
    EXPECT_EQ(r.queued[0].tag, c);
    EXPECT_EQ(text(r.queued[0].message), "c");
    EXPECT_EQ(r.incoming_qos2, std::vector<std::uint16_t>{9});
    ASSERT_EQ(r.inbox.size(), 1u);
    EXPECT_EQ(r.inbox[0].number, n);
    EXPECT_TRUE(r.inbox[0].redelivered);
    EXPECT_EQ(text(r.inbox[0].message), "x");
    EXPECT_GT(s->next_seq(), c);  // numbering goes on
    ASSERT_TRUE(s->delivered(n));
    ASSERT_TRUE(s->commit());
    EXPECT_TRUE(s->load("other", 0).inflight.empty());  // keyed by client id
  }
  {
    auto s = open(d);
    ASSERT_TRUE(s);
    auto r = s->load("c1", 0);
    EXPECT_TRUE(r.inbox.empty());
    // The inbox is empty, yet numbers go on from the last one given.
    EXPECT_EQ(s->received(msg("in/y", "y"), now), n + 1);
    EXPECT_EQ(s->received(msg("in/z", "z"), now), n + 2);
    ASSERT_TRUE(s->commit());
  }
  {
    auto s = open(d);
    ASSERT_TRUE(s);
    auto r = s->load("c1", n + 1);  // the application processed up to n + 1 itself
    EXPECT_EQ(r.skipped, 1u);
    ASSERT_EQ(r.inbox.size(), 1u);
    EXPECT_EQ(text(r.inbox[0].message), "z");
    ASSERT_TRUE(s->commit());
  }
  {
    auto s = open(d);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->load("c1", 0).inbox.size(), 1u);  // the skipped one was erased
    // A checkpoint ahead of the store (a store moved aside) is never numbered again.
    (void)s->load("c1", 100);
    EXPECT_EQ(s->received(msg("in/w", "w"), now), 101u);
  }
}

TEST(PersistentSession, CleanStartForgetsInFlightAndIncoming) {
  temp_dir d;
  const auto now = session::clock::now();
  {
    auto s = open(d);
    ASSERT_TRUE(s);
    (void)s->load("c1", 0);
    session::state st;
    st.set_journal(s.get());
    auto m = msg("t/a", "a");
    m.packet_id = 4;
    const auto seq = s->next_seq();
    s->queue(seq, m, now);
    st.add_outgoing(m, 0, seq, true);
    st.add_incoming_qos2(5);
    ASSERT_TRUE(s->commit());
    s->forget_session(st);
    s->queue(seq, msg("t/a", "a"), now);  // back to the queue, as AsyncClient does
    ASSERT_TRUE(s->commit());
  }
  auto s = open(d);
  ASSERT_TRUE(s);
  auto r = s->load("c1", 0);
  EXPECT_TRUE(r.inflight.empty());
  EXPECT_TRUE(r.incoming_qos2.empty());
  ASSERT_EQ(r.queued.size(), 1u);
  EXPECT_EQ(text(r.queued[0].message), "a");
}

// ============================================================================ scripted broker

// A listening socket on 127.0.0.1 whose connections the test thread answers
// with test_client (the broker's side of the wire).
class scripted_broker {
 public:
  scripted_broker() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~scripted_broker() { ::close(fd_); }
  std::string uri() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }

  // The next connection (within 5 s), its CONNECT read into `connect`.
  std::unique_ptr<test_client> accept(connect_packet* connect = nullptr) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      ADD_FAILURE() << "no connection came";
      return nullptr;
    }
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    auto peer = std::make_unique<test_client>(c, v5);
    auto got = peer->expect<connect_packet>();
    if (connect) *connect = got;
    return peer;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

connack_packet connack(bool session_present, std::uint16_t receive_maximum = 0) {
  connack_packet a;
  a.session_present = session_present;
  if (receive_maximum) {
    properties::builder b;
    b.add<property_id::receive_maximum>(receive_maximum);
    a.props = b.build();
  }
  return a;
}

client_options store_options(const temp_dir& d) {
  client_options o;
  o.reconnect = {.min_delay = 20ms, .max_delay = 100ms, .jitter = 0.5, .seed = 5};
  o.session.connect_timeout = 3000ms;
  o.persistence.dir = d.data();
  return o;
}

const connect_options resume{.client_id = "p1", .clean_start = false, .session_expiry = 3600};

// Connects `t` through `b`: the broker's side answers the CONNECT with `a`.
std::unique_ptr<test_client> connect(threaded_client& t, scripted_broker& b, const connack_packet& a,
                                     connect_options co = resume, connect_packet* seen = nullptr) {
  auto done = std::async(std::launch::async, [&] { return t.connect(b.uri(), co); });
  auto peer = b.accept(seen);
  if (!peer) return nullptr;
  peer->send(a);
  EXPECT_FALSE(done.get());
  return peer;
}

// True once `t` has nothing in flight or queued (within 5 s).
bool idle(threaded_client& t) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    std::size_t n = 0;
    t.run([&](AsyncClient& c) { n = c.inflight() + c.queued(); });
    if (n == 0) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
}

template <class T>
bool ready(std::future<T>& f, std::chrono::milliseconds limit = 5s) {
  return f.wait_for(limit) == std::future_status::ready;
}

TEST(ClientPersistence, OutgoingInFlightAndQueuedAreResentByTheNextClient) {
  temp_dir d;
  scripted_broker b;
  threaded_client t(store_options(d));
  connect_packet seen;
  auto peer = connect(t, b, connack(false, 2), resume, &seen);
  ASSERT_TRUE(peer);
  EXPECT_FALSE(seen.clean_start);

  auto fa = t.publish(msg("t/a", "a", qos::at_least_once));
  auto fb = t.publish(msg("t/b", "b", qos::exactly_once));
  auto fc = t.publish(msg("t/c", "c", qos::exactly_once));  // waits: Receive Maximum 2
  auto pa = peer->expect<publish_packet>();
  auto pb = peer->expect<publish_packet>();
  EXPECT_EQ(text(pa), "a");
  EXPECT_EQ(text(pb), "b");
  peer->send(pubrec_packet{pb.packet_id, reason::success, {}, {}});
  EXPECT_EQ(peer->expect<pubrel_packet>().packet_id, pb.packet_id);
  EXPECT_TRUE(peer->nothing_within(100ms));

  // The process "ends": the object goes (no DISCONNECT); its publishes stay stored.
  t.destroy();
  for (auto* f : {&fa, &fb, &fc}) {
    ASSERT_TRUE(ready(*f));
    EXPECT_EQ(f->get().first, client_error::kept_in_store);
  }
  EXPECT_FALSE(peer->receive(2s));
  EXPECT_EQ(peer->last(), test_client::status::eof);

  t.make(store_options(d));
  peer = connect(t, b, connack(true, 10));
  ASSERT_TRUE(peer);
  auto ra = peer->expect<publish_packet>();
  EXPECT_EQ(text(ra), "a");
  EXPECT_EQ(ra.packet_id, pa.packet_id);
  EXPECT_TRUE(ra.dup);
  EXPECT_EQ(peer->expect<pubrel_packet>().packet_id, pb.packet_id);
  auto rc = peer->expect<publish_packet>();
  EXPECT_EQ(text(rc), "c");
  EXPECT_FALSE(rc.dup);
  EXPECT_EQ(rc.qos, qos::exactly_once);
  peer->send(puback_packet{ra.packet_id, reason::success, {}, {}});
  peer->send(pubcomp_packet{pb.packet_id, reason::success, {}, {}});
  peer->send(pubrec_packet{rc.packet_id, reason::success, {}, {}});
  EXPECT_EQ(peer->expect<pubrel_packet>().packet_id, rc.packet_id);
  peer->send(pubcomp_packet{rc.packet_id, reason::success, {}, {}});
  EXPECT_TRUE(idle(t));
  EXPECT_FALSE(t.persist());

  // Completed: a third client has nothing to resend.
  t.destroy();
  t.make(store_options(d));
  peer = connect(t, b, connack(true));
  ASSERT_TRUE(peer);
  EXPECT_TRUE(peer->nothing_within(300ms));
}

TEST(ClientPersistence, CleanStartSendsStoredInFlightMessagesAsNew) {
  temp_dir d;
  scripted_broker b;
  threaded_client t(store_options(d));
  auto peer = connect(t, b, connack(false));
  ASSERT_TRUE(peer);
  auto f = t.publish(msg("t/a", "a", qos::exactly_once));
  auto pa = peer->expect<publish_packet>();
  t.destroy();

  t.make(store_options(d));
  auto co = resume;
  co.clean_start = true;
  connect_packet seen;
  peer = connect(t, b, connack(false), co, &seen);
  ASSERT_TRUE(peer);
  EXPECT_TRUE(seen.clean_start);
  auto again = peer->expect<publish_packet>();
  EXPECT_EQ(text(again), "a");
  EXPECT_FALSE(again.dup);
  peer->send(pubrec_packet{again.packet_id, reason::success, {}, {}});
  EXPECT_EQ(peer->expect<pubrel_packet>().packet_id, again.packet_id);
  peer->send(pubcomp_packet{again.packet_id, reason::success, {}, {}});
  EXPECT_TRUE(idle(t));
  t.destroy();
  t.make(store_options(d));
  peer = connect(t, b, connack(true));
  ASSERT_TRUE(peer);
  EXPECT_TRUE(peer->nothing_within(300ms));
}

// What a delivery handler saw.
struct deliveries {
  std::mutex m;
  std::vector<std::tuple<std::string, std::uint64_t, bool>> got;
  void install(threaded_client& t, const std::string& filter) {
    t.run([&](AsyncClient& c) {
      c.on_delivery(filter, [this](const publish_packet& p, const delivery& d) {
        std::lock_guard lk(m);
        got.emplace_back(text(p), d.number, d.redelivered);
      });
    });
  }
  std::size_t size() {
    std::lock_guard lk(m);
    return got.size();
  }
  bool wait(std::size_t n, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (size() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
};

publish_packet incoming(std::string_view topic, std::string_view payload, qos q, std::uint16_t id, bool dup = false) {
  auto m = msg(topic, payload, q);
  m.packet_id = id;
  m.dup = dup;
  return m;
}

TEST(ClientPersistence, IncomingQoS2IsNotHandedOverAgainAfterARestart) {
  temp_dir d;
  scripted_broker b;
  threaded_client t(store_options(d));
  deliveries seen;
  seen.install(t, "in/#");
  auto peer = connect(t, b, connack(false));
  ASSERT_TRUE(peer);
  peer->send(incoming("in/x", "x", qos::exactly_once, 7));
  EXPECT_EQ(peer->expect<pubrec_packet>().packet_id, 7);
  ASSERT_TRUE(seen.wait(1));
  t.destroy();

  t.make(store_options(d));
  seen.install(t, "in/#");
  peer = connect(t, b, connack(true));
  ASSERT_TRUE(peer);
  // The broker did not get the PUBREC, say: it resends with DUP.
  peer->send(incoming("in/x", "x", qos::exactly_once, 7, true));
  EXPECT_EQ(peer->expect<pubrec_packet>().packet_id, 7);
  peer->send(pubrel_packet{7, reason::success, {}, {}});
  EXPECT_EQ(peer->expect<pubcomp_packet>().packet_id, 7);
  peer->send(incoming("in/y", "y", qos::exactly_once, 8));
  EXPECT_EQ(peer->expect<pubrec_packet>().packet_id, 8);
  peer->send(incoming("in/z", "z", qos::at_least_once, 3));
  EXPECT_EQ(peer->expect<puback_packet>().packet_id, 3);
  ASSERT_TRUE(seen.wait(3));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lk(seen.m);
  ASSERT_EQ(seen.got.size(), 3u);
  EXPECT_EQ(seen.got[0], std::make_tuple(std::string("x"), std::uint64_t{1}, false));
  EXPECT_EQ(seen.got[1], std::make_tuple(std::string("y"), std::uint64_t{2}, false));
  EXPECT_EQ(seen.got[2], std::make_tuple(std::string("z"), std::uint64_t{3}, false));
}

TEST(ClientPersistence, MessagesNotYetTakenAreHandedOverByTheNextClient) {
  temp_dir d;
  scripted_broker b;
  {
    // No handler and no async_receive: the messages wait in the receive queue.
    threaded_client t(store_options(d));
    auto peer = connect(t, b, connack(false));
    ASSERT_TRUE(peer);
    peer->send(incoming("in/q", "q", qos::at_least_once, 1));
    peer->send(incoming("in/r", "r", qos::exactly_once, 2));
    peer->send(incoming("in/s", "s", qos::at_most_once, 0));
    EXPECT_EQ(peer->expect<puback_packet>().packet_id, 1);  // after the commit that stored it
    EXPECT_EQ(peer->expect<pubrec_packet>().packet_id, 2);
  }
  threaded_client t(store_options(d));
  deliveries seen;
  seen.install(t, "in/#");
  auto peer = connect(t, b, connack(true));
  ASSERT_TRUE(peer);
  ASSERT_TRUE(seen.wait(2));
  {
    std::lock_guard lk(seen.m);
    EXPECT_EQ(seen.got[0], std::make_tuple(std::string("q"), std::uint64_t{1}, true));
    EXPECT_EQ(seen.got[1], std::make_tuple(std::string("r"), std::uint64_t{2}, true));
  }
  peer->send(pubrel_packet{2, reason::success, {}, {}});
  EXPECT_EQ(peer->expect<pubcomp_packet>().packet_id, 2);
  // Taken now: a third client gets nothing.
  t.destroy();
  t.make(store_options(d));
  seen.install(t, "in/#");
  peer = connect(t, b, connack(true));
  ASSERT_TRUE(peer);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(seen.size(), 2u);
}

TEST(ClientPersistence, ProcessedCheckpointSkipsWhatTheApplicationDid) {
  temp_dir d;
  scripted_broker b;
  {
    threaded_client t(store_options(d));
    auto peer = connect(t, b, connack(false));
    ASSERT_TRUE(peer);
    for (std::uint16_t i = 1; i <= 3; ++i)
      peer->send(incoming("in/n", std::to_string(i), qos::exactly_once, i));
    for (std::uint16_t i = 1; i <= 3; ++i) EXPECT_EQ(peer->expect<pubrec_packet>().packet_id, i);
  }
  auto o = store_options(d);
  o.persistence.processed = [] { return std::uint64_t{2}; };  // the application's own record
  threaded_client t(o);
  deliveries seen;
  seen.install(t, "in/#");
  auto peer = connect(t, b, connack(true));
  ASSERT_TRUE(peer);
  ASSERT_TRUE(seen.wait(1));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lk(seen.m);
  ASSERT_EQ(seen.got.size(), 1u);
  EXPECT_EQ(seen.got[0], std::make_tuple(std::string("3"), std::uint64_t{3}, true));
}

TEST(ClientPersistence, AsyncReceiveTakesStoredMessages) {
  temp_dir d;
  scripted_broker b;
  {
    threaded_client t(store_options(d));
    auto peer = connect(t, b, connack(false));
    ASSERT_TRUE(peer);
    peer->send(incoming("in/q", "q", qos::exactly_once, 1));
    EXPECT_EQ(peer->expect<pubrec_packet>().packet_id, 1);
    // Taken by async_receive: erased once its handler returned.
    std::promise<std::string> got;
    t.run([&](AsyncClient& c) {
      c.async_receive(2s, [&](error_code ec, publish_packet m) { got.set_value(ec ? ec.message() : text(m)); });
    });
    EXPECT_EQ(got.get_future().get(), "q");
    EXPECT_FALSE(t.persist());
  }
  threaded_client t(store_options(d));
  deliveries seen;
  seen.install(t, "in/#");
  auto peer = connect(t, b, connack(true));
  ASSERT_TRUE(peer);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(seen.size(), 0u);
}

TEST(ClientPersistence, RefusesWhatItCannotKeep) {
  temp_dir d;
  scripted_broker b;
  {
    threaded_client t(store_options(d));
    EXPECT_EQ(t.persist(), client_error::not_connected);  // no store open before async_connect
    EXPECT_EQ(t.connect(b.uri(), {.client_id = ""}), client_error::no_client_id);
  }
  {
    client_options plain;
    threaded_client t(plain);
    EXPECT_FALSE(t.persist());  // nothing to store: at once
  }
  // One process at a time per directory.
  threaded_client first(store_options(d));
  auto peer = connect(first, b, connack(false));
  ASSERT_TRUE(peer);
  threaded_client second(store_options(d));
  EXPECT_EQ(second.connect(b.uri(), resume), storage::errc::locked);
}

// ============================================================================ against mosquitto

TEST(ClientPersistence, PublishesQueuedWhileTheBrokerIsDownSurviveTheClient) {
  tern::testing::mosquitto broker;
  ASSERT_TRUE(broker.start()) << "cannot start /usr/sbin/mosquitto";
  temp_dir d;
  {
    threaded_client t(store_options(d));
    ASSERT_FALSE(t.connect(broker.uri(), resume));
    broker.kill();
    std::vector<std::future<std::pair<error_code, reason>>> done;
    for (int i = 1; i <= 5; ++i)
      done.push_back(t.publish(msg("queued/t", std::to_string(i), i % 2 ? qos::exactly_once : qos::at_least_once)));
    done.push_back(t.publish(msg("queued/t", "qos0", qos::at_most_once)));  // never stored
    EXPECT_FALSE(t.persist());
    t.destroy();
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(done[i].get().first, client_error::kept_in_store);
  }
  ASSERT_TRUE(broker.start());
  threaded_client sub;
  std::mutex m;
  std::vector<std::string> got;
  sub.run([&](AsyncClient& c) {
    c.on_message("queued/#", [&](const publish_packet& p) {
      std::lock_guard lk(m);
      got.push_back(text(p));
    });
  });
  ASSERT_FALSE(sub.connect(broker.uri(), {.client_id = "queued-sub"}));
  ASSERT_FALSE(sub.subscribe({{"queued/#", {.max_qos = qos::exactly_once}}}));

  threaded_client t(store_options(d));
  ASSERT_FALSE(t.connect(broker.uri(), resume));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    {
      std::lock_guard lk(m);
      if (got.size() >= 5 || std::chrono::steady_clock::now() > deadline) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(100ms);
  std::lock_guard lk(m);
  // mosquitto passes QoS 1 on at once and QoS 2 at PUBREL: compare as sets.
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

}  // namespace
}  // namespace tern
