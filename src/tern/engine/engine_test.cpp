// Engine tests: raw packets in, decoded packets out, on a manual clock, with
// one and two workers. No sockets: the network layer has its own tests.
#include "tern/engine/engine.hpp"

#include "tern/log/capture_sink.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <thread>

namespace tern::engine {
namespace {

using namespace std::chrono_literals;
constexpr auto v311 = protocol_version::v3_1_1;
constexpr auto v5 = protocol_version::v5;

// The network side of a test connection.
struct test_endpoint final : endpoint {
  using endpoint::endpoint;
  int wakes = 0;
  void wake() override { ++wakes; }
  std::string peer_address() const override { return "127.0.0.1:50000"; }
};

struct test_hooks : hooks {
  reason connect_answer = reason::success;
  std::string redirect_from, redirect_to;
  std::string discard_topic;
  qos subscribe_cap = qos::exactly_once;
  std::vector<std::string> disconnected;
  // Who published, as on_publish saw it: "client id|user name or -|peer".
  std::vector<std::string> publishers;
  reason on_connect(const connect_request& r) override {
    if (r.username && *r.username == "bad") return reason::bad_user_name_or_password;
    return connect_answer;
  }
  publish_verdict on_publish(const client_info& c, publish_packet& m) override {
    publishers.push_back(std::string(c.client_id) + "|" + std::string(c.username.value_or("-")) + "|" + c.peer());
    if (!redirect_from.empty() && m.topic() == redirect_from) m.set_topic(redirect_to);
    if (!discard_topic.empty() && m.topic() == discard_topic) return {publish_action::discard};
    return {};
  }
  reason on_subscribe(const client_info&, subscription& s) override {
    if (s.filter == "forbidden") return reason::not_authorized;
    s.options.max_qos = std::min(s.options.max_qos, subscribe_cap);
    return reason::success;
  }
  void on_disconnect(const client_info& c, const error&) override { disconnected.emplace_back(c.client_id); }
};

class Engine : public ::testing::Test {
 protected:
  struct client {
    Engine* t;
    protocol_version v;
    std::unique_ptr<endpoint> ep;
    std::deque<packet> in;  // packets the broker sent, not yet looked at
    decoder dec;

    void send(const packet& p) {
      auto b = encode(p, v);
      ep->receive(b, t->now);
      t->pump();
    }
    // Packets the broker wrote so far.
    void collect() {
      for (auto b : ep->output().buffers()) {
        bytes_view in_bytes = b;
        while (!in_bytes.empty()) {
          auto r = dec.next(in_bytes);
          ASSERT_TRUE(r) << r.error().message();
          if (*r) in.push_back(std::move(**r));
        }
      }
      ep->output().clear();
    }
    template <class P>
    P expect() {
      collect();
      if (in.empty()) {
        ADD_FAILURE() << "no packet; expected " << name(P::type);
        return P{};
      }
      auto p = std::move(in.front());
      in.pop_front();
      if (!std::holds_alternative<P>(p)) {
        ADD_FAILURE() << "got " << name(type_of(p)) << ", expected " << name(P::type);
        return P{};
      }
      return std::get<P>(std::move(p));
    }
    bool quiet() {
      collect();
      return in.empty();
    }
    void subscribe(std::string filter, qos q = qos::at_most_once, std::uint32_t id = 0, subscribe_options o = {}) {
      subscribe_packet s;
      s.packet_id = 1;
      o.max_qos = q;
      s.entries.push_back({std::move(filter), o});
      if (id) s.props = properties::builder{}.add<property_id::subscription_identifier>(id).build();
      send(s);
      (void)expect<suback_packet>();
    }
    void publish(std::string topic, std::string payload, qos q = qos::at_most_once, bool retain = false,
                 std::uint16_t id = 1) {
      publish_packet p(topic, shared_bytes::copy(payload), q, retain);
      if (q != qos::at_most_once) p.packet_id = id;
      send(p);
    }
    void close() {
      ep->transport_closed(error{reason::unspecified_error, "test closed"}, t->now);
      t->pump();
    }
  };

  void make(std::size_t workers = 1, options o = {}) {
    o.sys_interval = std::chrono::seconds(0);
    eng = std::make_unique<engine>(o, hooks_, *store, workers, now);
  }

  // Connects a client; returns it with the CONNACK still unread.
  std::unique_ptr<client> open(connect_packet c, std::size_t on_worker = 0) {
    auto cl = std::make_unique<client>(client{this, c.version, nullptr, {}, decoder({c.version})});
    cl->ep = std::make_unique<test_endpoint>(eng->worker_at(on_worker), now);
    clients.push_back(cl.get());
    cl->send(c);
    return cl;
  }
  std::unique_ptr<client> connect(std::string id, protocol_version v = v5, bool clean = true,
                                  std::uint32_t expiry = 0) {
    connect_packet c;
    c.version = v;
    c.client_id = std::move(id);
    c.clean_start = clean;
    if (expiry && v == v5) c.props = properties::builder{}.add<property_id::session_expiry_interval>(expiry).build();
    auto cl = open(std::move(c));
    auto ack = cl->expect<connack_packet>();
    EXPECT_EQ(ack.reason_code, reason::success);
    return cl;
  }

  // Admits pending connects on their owners and carries batches between
  // workers, as the network layer does, until nothing moves.
  void pump() {
    for (int round = 0; round < 10; ++round) {
      bool moved = false;
      for (auto* c : clients) {
        if (c->ep && c->ep->connect_pending()) {
          eng->worker_at(eng->owner_of(*c->ep)).admit(*c->ep, now);
          moved = true;
        }
      }
      if (eng->deliver_outboxes(now)) moved = true;
      if (!moved) break;
    }
    // The end of a loop turn, as the network layer does it.
    for (std::size_t w = 0; w < eng->workers(); ++w) EXPECT_TRUE(eng->worker_at(w).commit());
  }

  // The broker dies: the engine is abandoned as it is (it commits nothing
  // more; its clients are dead) and a new one recovers from the store.
  void crash_and_restart(std::size_t workers = 1, options o = {}) {
    pump();
    graveyard.push_back(std::move(eng));
    clients.clear();
    make(workers, o);
    auto r = eng->recover(now);
    ASSERT_TRUE(r) << r.error().message;
    recovered = *r;
  }

  void advance(std::chrono::seconds d) {
    now += d;
    for (std::size_t w = 0; w < eng->workers(); ++w) eng->worker_at(w).tick(now);
    pump();
  }

  time_point now{std::chrono::hours(1)};
  test_hooks hooks_;
  std::unique_ptr<storage::store> store = storage::make_memory_store();
  std::unique_ptr<engine> eng;
  std::vector<client*> clients;
  std::vector<std::unique_ptr<engine>> graveyard;  // crashed engines (their endpoints still point at them)
  recovery recovered;
};

TEST_F(Engine, ConnectAcceptsBothVersions) {
  make();
  auto a = connect("a", v311);
  auto b = connect("b", v5);
  EXPECT_EQ(eng->stats().clients_connected.load(), 2u);
}

TEST_F(Engine, RoutesEveryQosBetweenVersions) {
  make();
  auto sub = connect("sub", v311);
  sub->subscribe("s/#", qos::exactly_once);
  auto pub = connect("pub", v5);
  pub->publish("s/0", "zero");
  pub->publish("s/1", "one", qos::at_least_once, false, 7);
  EXPECT_EQ(pub->expect<puback_packet>().packet_id, 7);
  pub->publish("s/2", "two", qos::exactly_once, false, 8);
  EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, 8);
  pubrel_packet rel;
  rel.packet_id = 8;
  pub->send(rel);
  EXPECT_EQ(pub->expect<pubcomp_packet>().packet_id, 8);

  auto m0 = sub->expect<publish_packet>();
  EXPECT_EQ(m0.payload().view(), "zero");
  EXPECT_EQ(m0.qos, qos::at_most_once);
  auto m1 = sub->expect<publish_packet>();
  EXPECT_EQ(m1.qos, qos::at_least_once);
  auto m2 = sub->expect<publish_packet>();
  EXPECT_EQ(m2.topic(), "s/2");
  EXPECT_EQ(m2.qos, qos::exactly_once);
}

TEST_F(Engine, PubackSaysNoMatchingSubscribersOn5) {
  make();
  auto pub = connect("pub", v5);
  pub->publish("nobody/listens", "x", qos::at_least_once);
  EXPECT_EQ(pub->expect<puback_packet>().reason_code, reason::no_matching_subscribers);
}

TEST_F(Engine, GrantedQosIsTheMinimum) {
  make();
  auto sub = connect("sub", v5);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect("pub", v5);
  pub->publish("t", "x", qos::exactly_once);
  (void)pub->expect<pubrec_packet>();
  EXPECT_EQ(sub->expect<publish_packet>().qos, qos::at_least_once);
}

TEST_F(Engine, RetainedMessagesAreStoredSentOnSubscribeAndCleared) {
  make();
  auto pub = connect("pub", v311);
  pub->publish("r/1", "kept", qos::at_most_once, true);
  auto sub = connect("sub", v5);
  sub->subscribe("r/#");
  auto m = sub->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "kept");
  EXPECT_TRUE(m.retain);
  pub->publish("r/1", "", qos::at_most_once, true);  // clears it
  auto cleared = sub->expect<publish_packet>();       // forwarded live, retain off
  EXPECT_FALSE(cleared.retain);
  auto sub2 = connect("sub2", v5);
  sub2->subscribe("r/#");
  EXPECT_TRUE(sub2->quiet());
}

TEST_F(Engine, RetainHandlingAndRetainAsPublished) {
  make();
  auto pub = connect("pub");
  pub->publish("h", "x", qos::at_most_once, true);
  auto sub = connect("sub");
  subscribe_options never;
  never.retain_handling = retain_handling::dont_send;
  sub->subscribe("h", qos::at_most_once, 0, never);
  EXPECT_TRUE(sub->quiet());
  subscribe_options if_new;
  if_new.retain_handling = retain_handling::send_if_new;
  if_new.retain_as_published = true;
  sub->subscribe("h/#", qos::at_most_once, 0, if_new);
  EXPECT_TRUE(sub->expect<publish_packet>().retain);  // "h/#" matches "h"
  sub->subscribe("h/#", qos::at_most_once, 0, if_new);  // not new: nothing
  EXPECT_TRUE(sub->quiet());
  pub->publish("h", "live", qos::at_most_once, true);
  // Two subscriptions match: one message, retain kept by the RAP subscription.
  auto m = sub->expect<publish_packet>();
  EXPECT_TRUE(m.retain);
  EXPECT_TRUE(sub->quiet());
}

TEST_F(Engine, NoLocalSkipsTheClientsOwnMessages) {
  make();
  auto c = connect("c");
  subscribe_options nl;
  nl.no_local = true;
  c->subscribe("loop", qos::at_most_once, 0, nl);
  c->publish("loop", "mine");
  EXPECT_TRUE(c->quiet());
}

TEST_F(Engine, SubscriptionIdentifiersAreForwarded) {
  make();
  auto sub = connect("sub");
  sub->subscribe("a/+", qos::at_most_once, 11);
  sub->subscribe("a/#", qos::at_most_once, 22);
  auto pub = connect("pub");
  pub->publish("a/b", "x");
  auto m = sub->expect<publish_packet>();
  auto ids = m.props().subscription_identifiers();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{11, 22}));
  EXPECT_TRUE(sub->quiet());
}

TEST_F(Engine, WillIsPublishedOnAbnormalCloseOnly) {
  make();
  auto watcher = connect("w");
  watcher->subscribe("wills/#");
  connect_packet c;
  c.client_id = "dies";
  c.will = will_message{"wills/dies", shared_bytes::copy("gone"), qos::at_most_once, false, {}};
  auto dying = open(c);
  (void)dying->expect<connack_packet>();
  dying->close();
  EXPECT_EQ(watcher->expect<publish_packet>().payload().view(), "gone");

  c.client_id = "leaves";
  auto leaving = open(c);
  (void)leaving->expect<connack_packet>();
  leaving->send(disconnect_packet{});
  leaving->close();
  EXPECT_TRUE(watcher->quiet());

  c.client_id = "asks";
  auto asking = open(c);
  (void)asking->expect<connack_packet>();
  disconnect_packet with_will;
  with_will.reason_code = reason::disconnect_with_will_message;
  asking->send(with_will);
  asking->close();
  EXPECT_EQ(watcher->expect<publish_packet>().topic(), "wills/dies");
}

TEST_F(Engine, WillDelayWaitsAndIsCancelledByAReconnect) {
  make();
  auto watcher = connect("w");
  watcher->subscribe("wills/#");
  connect_packet c;
  c.client_id = "slow";
  c.clean_start = false;
  c.props = properties::builder{}.add<property_id::session_expiry_interval>(60).build();
  c.will = will_message{"wills/slow", shared_bytes::copy("late"), qos::at_most_once, false,
                        properties::builder{}.add<property_id::will_delay_interval>(5).build()};
  auto a = open(c);
  (void)a->expect<connack_packet>();
  a->close();
  advance(3s);
  EXPECT_TRUE(watcher->quiet());
  advance(3s);
  auto m = watcher->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "late");
  EXPECT_FALSE(m.props().find(property_id::will_delay_interval));

  auto b = open(c);  // will again, delayed
  (void)b->expect<connack_packet>();
  b->close();
  advance(2s);
  auto back = open(c);  // reconnects in time: no will
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  advance(10s);
  EXPECT_TRUE(watcher->quiet());
}

TEST_F(Engine, SessionTakeoverDisconnectsTheOldConnection) {
  make();
  auto first = connect("same", v5);
  auto second = connect("same", v5);
  auto d = first->expect<disconnect_packet>();
  EXPECT_EQ(d.reason_code, reason::session_taken_over);
  EXPECT_TRUE(first->ep->closing());
  EXPECT_EQ(eng->stats().clients_connected.load(), 1u);
  // The new connection works.
  second->subscribe("x");
  second->publish("x", "hi");
  EXPECT_EQ(second->expect<publish_packet>().payload().view(), "hi");
}

TEST_F(Engine, PersistentSessionQueuesWhileOfflineAndResumes) {
  make();
  auto sub = connect("keep", v5, false, 300);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  auto pub = connect("pub");
  pub->publish("q", "while away", qos::at_least_once);
  (void)pub->expect<puback_packet>();
  connect_packet again;
  again.client_id = "keep";
  again.clean_start = false;
  again.props = properties::builder{}.add<property_id::session_expiry_interval>(300).build();
  auto back = open(again);
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  auto m = back->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "while away");
  EXPECT_EQ(m.qos, qos::at_least_once);
}

TEST_F(Engine, V311PersistentSessionWithCleanSessionFalse) {
  make();
  auto sub = connect("old", v311, false);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  auto pub = connect("pub", v311);
  pub->publish("q", "m", qos::at_least_once);
  connect_packet again;
  again.version = v311;
  again.client_id = "old";
  again.clean_start = false;
  auto back = open(again);
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "m");
}

TEST_F(Engine, OfflineQueueIsBoundedAndCountsDrops) {
  options o;
  o.queue.max_messages = 2;
  o.max_stored_messages = 2;
  make(1, o);
  auto sub = connect("slow", v5, false, 300);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 3; ++i) {
    pub->publish("q", "m" + std::to_string(i), qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  EXPECT_EQ(eng->stats().messages_dropped.load(), 1u);
  connect_packet again;
  again.client_id = "slow";
  again.clean_start = false;
  again.props = properties::builder{}.add<property_id::session_expiry_interval>(300).build();
  auto back = open(again);
  (void)back->expect<connack_packet>();
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "m1");
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "m2");
  EXPECT_TRUE(back->quiet());
}

TEST_F(Engine, MessageExpiryCountsDownWhileQueued) {
  make();
  auto sub = connect("away", v5, false, 300);
  sub->subscribe("e", qos::at_least_once);
  sub->close();
  auto pub = connect("pub");
  publish_packet p("e", shared_bytes::copy("soon stale"), qos::at_least_once);
  p.packet_id = 1;
  p.set_props(properties::builder{}.add<property_id::message_expiry_interval>(10).build());
  pub->send(p);
  p.packet_id = 2;
  p.set_props(properties::builder{}.add<property_id::message_expiry_interval>(2).build());
  p.set_payload(shared_bytes::copy("stale"));
  pub->send(p);
  advance(4s);
  connect_packet again;
  again.client_id = "away";
  again.clean_start = false;
  again.props = properties::builder{}.add<property_id::session_expiry_interval>(300).build();
  auto back = open(again);
  (void)back->expect<connack_packet>();
  auto m = back->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "soon stale");
  EXPECT_EQ(m.props().get<property_id::message_expiry_interval>(), 6u);
  EXPECT_TRUE(back->quiet());  // the 2 s message expired in the queue
}

TEST_F(Engine, SessionExpires) {
  make();
  auto sub = connect("brief", v5, false, 10);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  EXPECT_EQ(eng->worker_at(0).sessions(), 1u);
  advance(11s);
  EXPECT_EQ(eng->worker_at(0).sessions(), 0u);
  connect_packet again;
  again.client_id = "brief";
  again.clean_start = false;
  auto back = open(again);
  EXPECT_FALSE(back->expect<connack_packet>().session_present);
}

TEST_F(Engine, CleanStartDiscardsTheOldSession) {
  make();
  auto sub = connect("c", v5, false, 300);
  sub->subscribe("q", qos::at_least_once);
  sub->close();
  auto again = connect("c", v5, true);
  auto pub = connect("pub");
  pub->publish("q", "x", qos::at_least_once);
  EXPECT_TRUE(again->quiet());
}

TEST_F(Engine, SharedSubscriptionDeliversToOneMemberInTurn) {
  make();
  auto a = connect("a");
  auto b = connect("b");
  a->subscribe("$share/g/jobs/#", qos::at_least_once);
  b->subscribe("$share/g/jobs/#", qos::at_least_once);
  auto pub = connect("pub");
  for (int i = 0; i < 4; ++i) {
    pub->publish("jobs/" + std::to_string(i), "x", qos::at_least_once, false, static_cast<std::uint16_t>(i + 1));
    (void)pub->expect<puback_packet>();
  }
  int got_a = 0, got_b = 0;
  a->collect();
  b->collect();
  got_a = static_cast<int>(a->in.size());
  got_b = static_cast<int>(b->in.size());
  EXPECT_EQ(got_a, 2);
  EXPECT_EQ(got_b, 2);
}

TEST_F(Engine, SharedMessagesGoToAnotherMemberWhenOneLeaves) {
  make(2);
  auto a = connect("member-a");
  auto b = connect("member-b");
  a->subscribe("$share/g/work", qos::at_least_once);
  b->subscribe("$share/g/work", qos::at_least_once);
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 4; ++i) {
    pub->publish("work", "job " + std::to_string(i), qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  a->collect();
  b->collect();
  ASSERT_EQ(a->in.size(), 2u);
  ASSERT_EQ(b->in.size(), 2u);
  // a acknowledges nothing and its session ends: its two jobs go to b.
  a->close();
  b->collect();
  ASSERT_EQ(b->in.size(), 4u);
  std::set<std::string> jobs;
  for (auto& p : b->in) jobs.insert(std::string(std::get<publish_packet>(p).payload().view()));
  EXPECT_EQ(jobs.size(), 4u);
}

TEST_F(Engine, QosZeroToACongestedSubscriberIsDroppedAndCounted) {
  options o;
  o.max_output_backlog = 1000;
  make(1, o);
  auto slow = connect("slow");
  slow->subscribe("flood", qos::at_least_once);
  auto pub = connect("pub");
  for (int i = 0; i < 20; ++i) pub->publish("flood", std::string(100, 'x'));  // slow never reads
  EXPECT_LE(slow->ep->output().size(), 1000u + 200u);
  EXPECT_GT(eng->stats().messages_dropped.load(), 0u);
}

TEST_F(Engine, DisconnectCannotMakeAnEndingSessionPersist) {
  make();
  auto watcher = connect("w");
  watcher->subscribe("wills/#");
  connect_packet c;
  c.client_id = "sly";
  c.will = will_message{"wills/sly", shared_bytes::copy("gone"), qos::at_most_once, false, {}};
  auto cl = open(c);
  (void)cl->expect<connack_packet>();
  disconnect_packet d;
  d.props = properties::builder{}.add<property_id::session_expiry_interval>(60).build();
  cl->send(d);
  EXPECT_EQ(cl->expect<disconnect_packet>().reason_code, reason::protocol_error);
  EXPECT_EQ(watcher->expect<publish_packet>().topic(), "wills/sly");  // not a valid DISCONNECT
}

TEST_F(Engine, InflightWindowIsTheSmallerOfConfigAndReceiveMaximum) {
  options o;
  o.max_inflight = 2;
  make(1, o);
  auto sub = connect("sub");  // Receive Maximum 65535
  sub->subscribe("w", qos::at_least_once);
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 5; ++i) {
    pub->publish("w", "m", qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  sub->collect();
  EXPECT_EQ(sub->in.size(), 2u);  // the rest wait in the session's queue
  auto first = std::get<publish_packet>(sub->in.front());
  sub->in.clear();
  puback_packet ack;
  ack.packet_id = first.packet_id;
  sub->send(ack);
  sub->collect();
  EXPECT_EQ(sub->in.size(), 1u);  // one acknowledged, one more goes out
}

TEST_F(Engine, HooksRefuseConnect) {
  make();
  connect_packet c;
  c.client_id = "x";
  c.username = "bad";
  auto cl = open(c);
  EXPECT_EQ(cl->expect<connack_packet>().reason_code, reason::bad_user_name_or_password);
  EXPECT_TRUE(cl->ep->closing());
  c.version = v311;
  auto old = open(c);
  // 3.1.1 return code 4, mapped back to 0x86 by the decoder.
  EXPECT_EQ(old->expect<connack_packet>().reason_code, reason::bad_user_name_or_password);
}

TEST_F(Engine, HooksRedirectAndDiscardPublishes) {
  make();
  hooks_.redirect_from = "raw";
  hooks_.redirect_to = "clean";
  hooks_.discard_topic = "spam";
  auto sub = connect("sub");
  sub->subscribe("#");
  auto pub = connect("pub");
  pub->publish("raw", "x");
  EXPECT_EQ(sub->expect<publish_packet>().topic(), "clean");
  pub->publish("spam", "x", qos::at_least_once);
  EXPECT_EQ(pub->expect<puback_packet>().reason_code, reason::success);
  EXPECT_TRUE(sub->quiet());
}

TEST_F(Engine, HooksSeeTheClientsUserNameAndPeer) {
  make();
  auto anonymous = connect("anon");
  anonymous->publish("t", "x");
  connect_packet c;
  c.client_id = "named";
  c.username = "alice";
  c.clean_start = false;
  c.props = properties::builder{}.add<property_id::session_expiry_interval>(60).build();
  c.will = will_message{"wills/named", shared_bytes::copy("late"), qos::at_most_once, false,
                        properties::builder{}.add<property_id::will_delay_interval>(5).build()};
  auto named = open(c);
  (void)named->expect<connack_packet>();
  named->publish("t", "x");
  named->close();
  advance(6s);  // the delayed will: its client is gone, its user name stays
  EXPECT_EQ(hooks_.publishers, (std::vector<std::string>{"anon|-|127.0.0.1:50000", "named|alice|127.0.0.1:50000",
                                                          "named|alice|"}));
}

TEST_F(Engine, HooksAndConfigJudgeSubscriptions) {
  options o;
  o.denied_filters = {"secret/#"};
  make(1, o);
  hooks_.subscribe_cap = qos::at_least_once;
  auto c = connect("c");
  subscribe_packet s;
  s.packet_id = 3;
  s.entries = {{"forbidden", {qos::at_most_once}}, {"ok", {qos::exactly_once}}, {"secret/x", {qos::at_most_once}},
               {"bad/#/filter", {qos::at_most_once}}};
  c->send(s);
  auto ack = c->expect<suback_packet>();
  EXPECT_EQ(ack.reason_codes, (std::vector<reason>{reason::not_authorized, reason::granted_qos_1,
                                                   reason::not_authorized, reason::topic_filter_invalid}));
  auto old = connect("old", v311);
  old->send(s);
  EXPECT_EQ(old->expect<suback_packet>().reason_codes,
            (std::vector<reason>{reason::unspecified_error, reason::granted_qos_1, reason::unspecified_error,
                                 reason::unspecified_error}));
}

TEST_F(Engine, UnsubscribeStopsDeliveryAndReportsUnknownFilters) {
  make();
  auto c = connect("c");
  c->subscribe("u");
  unsubscribe_packet u;
  u.packet_id = 4;
  u.filters = {"u", "never"};
  c->send(u);
  EXPECT_EQ(c->expect<unsuback_packet>().reason_codes,
            (std::vector<reason>{reason::success, reason::no_subscription_existed}));
  c->publish("u", "x");
  EXPECT_TRUE(c->quiet());
}

// The same topic routed again after each kind of index change: routing
// remembers what a topic matched until the index changes (route_cache_).
TEST_F(Engine, RoutingFollowsEveryChangeOfTheIndex) {
  make();
  auto a = connect("a");
  auto b = connect("b");
  auto pub = connect("pub");
  auto got = [](client& c) {
    c.collect();
    std::vector<std::string> payloads;
    for (auto& p : c.in) payloads.emplace_back(std::get<publish_packet>(p).payload().view());
    c.in.clear();
    return payloads;
  };
  using list = std::vector<std::string>;
  a->subscribe("t/x");
  pub->publish("t/x", "1");
  pub->publish("t/x", "2");  // from what was remembered
  EXPECT_EQ(got(*a), (list{"1", "2"}));
  b->subscribe("t/+");  // a new filter matching the topic
  pub->publish("t/x", "3");
  EXPECT_EQ(got(*a), (list{"3"}));
  EXPECT_EQ(got(*b), (list{"3"}));
  subscribe_options nl;
  nl.no_local = true;
  pub->subscribe("t/#", qos::at_most_once, 0, nl);  // a match the publisher itself does not get
  pub->publish("t/x", "4");
  EXPECT_EQ(got(*a), (list{"4"}));
  EXPECT_EQ(got(*b), (list{"4"}));
  EXPECT_TRUE(pub->quiet());
  a->subscribe("t/x", qos::at_least_once);  // the same filter with new options
  pub->publish("t/x", "5", qos::at_least_once, false, 7);
  (void)pub->expect<puback_packet>();
  a->collect();
  ASSERT_EQ(a->in.size(), 1u);
  EXPECT_EQ(std::get<publish_packet>(a->in.front()).qos, qos::at_least_once);
  a->in.clear();
  EXPECT_EQ(got(*b), (list{"5"}));
  unsubscribe_packet u;
  u.packet_id = 2;
  u.filters = {"t/+"};
  b->send(u);
  (void)b->expect<unsuback_packet>();
  pub->publish("t/x", "6");
  EXPECT_EQ(got(*a), (list{"6"}));
  EXPECT_TRUE(b->quiet());
  a->close();  // a clean session ends: its subscriptions leave the index
  auto a2 = connect("a");
  pub->publish("t/x", "7");
  EXPECT_TRUE(a2->quiet());
  a2->subscribe("t/x");
  pub->publish("t/x", "8");
  EXPECT_EQ(got(*a2), (list{"8"}));
}

TEST_F(Engine, MaximumKeepAliveIsAnnounced) {
  options o;
  o.max_keep_alive = 30;
  make(1, o);
  connect_packet c;
  c.client_id = "k";
  c.keep_alive = 600;
  auto cl = open(c);
  auto ack = cl->expect<connack_packet>();
  EXPECT_EQ(ack.props.get<property_id::server_keep_alive>(), 30u);
}

TEST_F(Engine, EmptyClientIdIsAssigned) {
  make(2);
  connect_packet c;
  c.client_id = "";
  auto cl = open(c, 1);
  auto ack = cl->expect<connack_packet>();
  auto id = ack.props.get<property_id::assigned_client_identifier>();
  ASSERT_TRUE(id);
  EXPECT_EQ(eng->owner_of(*id), 1u);  // the session stays on the accepting worker
  c.version = v311;
  c.clean_start = false;
  auto refused = open(c);
  EXPECT_EQ(refused->expect<connack_packet>().reason_code, reason::client_identifier_not_valid);
}

TEST_F(Engine, TwoWorkersRouteThroughBatches) {
  make(2);
  std::vector<std::unique_ptr<client>> subs;
  for (int i = 0; i < 8; ++i) {
    subs.push_back(connect("sub-" + std::to_string(i)));
    subs.back()->subscribe("fan/out", qos::at_least_once);
  }
  auto pub = connect("pub");
  pub->publish("fan/out", "all", qos::at_least_once);
  (void)pub->expect<puback_packet>();
  std::set<std::size_t> owners;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(subs[static_cast<std::size_t>(i)]->expect<publish_packet>().payload().view(), "all");
    owners.insert(eng->owner_of("sub-" + std::to_string(i)));
  }
  EXPECT_EQ(owners.size(), 2u);  // both workers took part
}

TEST_F(Engine, SysTopicsArePublished) {
  options o;
  make(1, o);
  eng.reset();
  o.sys_interval = 5s;
  eng = std::make_unique<engine>(o, hooks_, *store, 1, now);
  auto c = connect("c");
  c->subscribe("$SYS/broker/clients/connected");
  now += 6s;
  eng->worker_at(0).tick(now);
  auto m = c->expect<publish_packet>();
  EXPECT_EQ(m.payload().view(), "1");
}

}  // namespace
}  // namespace tern::engine

namespace tern::engine {
namespace {

class Durability : public Engine, public ::testing::WithParamInterface<std::size_t> {};

connect_packet resume(std::string id, std::uint32_t expiry = 300) {
  connect_packet c;
  c.client_id = std::move(id);
  c.clean_start = false;
  c.props = properties::builder{}.add<property_id::session_expiry_interval>(expiry).build();
  return c;
}

TEST_P(Durability, SessionsQueuesInflightAndWillsSurviveACrash) {
  const auto workers = GetParam();
  make(workers);
  auto away = connect("away", v5, false, 300);
  away->subscribe("d/#", qos::at_least_once);
  away->close();
  auto slow = connect("slow", v311, false);  // 3.1.1 persistent: never acknowledges
  slow->subscribe("d/#", qos::exactly_once);
  connect_packet wc = resume("willing");
  wc.clean_start = true;
  wc.will = will_message{"wills/willing", shared_bytes::copy("gone"), qos::at_least_once, false,
                         properties::builder{}.add<property_id::will_delay_interval>(100).build()};
  auto willing = open(wc);
  (void)willing->expect<connack_packet>();
  willing->close();  // abnormal: the will waits 100 s
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 3; ++i) {
    pub->publish("d/" + std::to_string(i), "m" + std::to_string(i), qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  std::vector<std::uint16_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(slow->expect<publish_packet>().packet_id);
  const auto writes = store->stats().operations;
  EXPECT_GT(writes, 0u);

  crash_and_restart(workers);
  EXPECT_EQ(recovered.sessions, 3u);
  EXPECT_EQ(recovered.subscriptions, 2u);
  EXPECT_EQ(recovered.queued, 3u);
  EXPECT_EQ(recovered.inflight, 3u);
  EXPECT_EQ(recovered.wills, 1u);

  auto watcher = connect("watcher");
  watcher->subscribe("wills/#", qos::at_least_once);
  auto back = open(resume("away"));
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  for (int i = 1; i <= 3; ++i) {
    auto m = back->expect<publish_packet>();
    EXPECT_EQ(m.payload().view(), "m" + std::to_string(i));
    EXPECT_FALSE(m.dup);
  }
  connect_packet sc;
  sc.version = v311;
  sc.client_id = "slow";
  sc.clean_start = false;
  auto slow_back = open(sc);
  EXPECT_TRUE(slow_back->expect<connack_packet>().session_present);
  for (int i = 0; i < 3; ++i) {
    auto m = slow_back->expect<publish_packet>();
    EXPECT_TRUE(m.dup);
    EXPECT_EQ(m.packet_id, ids[static_cast<std::size_t>(i)]);
    EXPECT_EQ(m.payload().view(), "m" + std::to_string(i + 1));
  }
  // The subscription came back too: a new message reaches both.
  auto pub2 = connect("pub");
  pub2->publish("d/4", "m4", qos::at_least_once, false, 1);
  (void)pub2->expect<puback_packet>();
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "m4");
  EXPECT_EQ(slow_back->expect<publish_packet>().payload().view(), "m4");
  // The delayed will still goes out when its time comes.
  EXPECT_TRUE(watcher->quiet());
  advance(100s);
  EXPECT_EQ(watcher->expect<publish_packet>().payload().view(), "gone");
}

TEST_P(Durability, IncomingQos2IsDeliveredOnceAcrossACrash) {
  const auto workers = GetParam();
  make(workers);
  auto sub = connect("sub2", v5, false, 300);
  sub->subscribe("x", qos::exactly_once);
  sub->close();
  auto pub = open(resume("pub2"));
  (void)pub->expect<connack_packet>();
  pub->publish("x", "once", qos::exactly_once, false, 9);
  EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, 9);

  crash_and_restart(workers);
  EXPECT_EQ(recovered.incoming, 1u);
  auto again = open(resume("pub2"));
  EXPECT_TRUE(again->expect<connack_packet>().session_present);
  publish_packet dup("x", shared_bytes::copy("once"), qos::exactly_once);
  dup.packet_id = 9;
  dup.dup = true;
  again->send(dup);
  EXPECT_EQ(again->expect<pubrec_packet>().packet_id, 9);
  pubrel_packet rel;
  rel.packet_id = 9;
  again->send(rel);
  EXPECT_EQ(again->expect<pubcomp_packet>().reason_code, reason::success);

  auto back = open(resume("sub2"));
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  EXPECT_EQ(back->expect<publish_packet>().payload().view(), "once");
  EXPECT_TRUE(back->quiet());
}

TEST_P(Durability, ReleasedQos2ResumesWithPubrel) {
  const auto workers = GetParam();
  make(workers);
  auto sub = connect("sub3", v5, false, 300);
  sub->subscribe("y", qos::exactly_once);
  auto pub = connect("pub3");
  pub->publish("y", "two", qos::exactly_once, false, 1);
  auto m = sub->expect<publish_packet>();
  sub->send(pubrec_packet{m.packet_id, reason::success, {}, {}});
  EXPECT_EQ(sub->expect<pubrel_packet>().packet_id, m.packet_id);

  crash_and_restart(workers);
  auto back = open(resume("sub3"));
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  EXPECT_EQ(back->expect<pubrel_packet>().packet_id, m.packet_id);
  back->send(pubcomp_packet{m.packet_id, reason::success, {}, {}});
  EXPECT_TRUE(back->quiet());
}

TEST_P(Durability, LongOfflineQueuesArePagedFromTheStore) {
  const auto workers = GetParam();
  options o;
  o.queue.max_messages = 4;  // in memory; the rest stays in the store
  o.max_inflight = 2;
  make(workers, o);
  auto sub = connect("pager", v5, false, 300);
  sub->subscribe("p", qos::at_least_once);
  sub->close();
  auto pub = connect("pub");
  for (std::uint16_t i = 1; i <= 25; ++i) {
    pub->publish("p", std::to_string(i), qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
  }
  EXPECT_EQ(eng->stats().messages_dropped.load(), 0u);
  auto back = open(resume("pager"));
  EXPECT_TRUE(back->expect<connack_packet>().session_present);
  for (int i = 1; i <= 25; ++i) {
    auto m = back->expect<publish_packet>();
    ASSERT_EQ(m.payload().view(), std::to_string(i));
    back->send(puback_packet{m.packet_id, reason::success, {}, {}});
  }
  EXPECT_TRUE(back->quiet());
  crash_and_restart(workers, o);  // everything was acknowledged: nothing comes back
  EXPECT_EQ(recovered.queued, 0u);
  EXPECT_EQ(recovered.inflight, 0u);
}

TEST_P(Durability, CleanSessionsCostNoDiskWrite) {
  make(GetParam());
  auto sub = connect("clean-sub");
  sub->subscribe("c", qos::exactly_once);
  auto pub = connect("clean-pub");
  for (std::uint16_t i = 1; i <= 10; ++i) {
    pub->publish("c", "v", qos::at_least_once, false, i);
    (void)pub->expect<puback_packet>();
    auto m = sub->expect<publish_packet>();
    sub->send(puback_packet{m.packet_id, reason::success, {}, {}});
  }
  sub->close();
  pub->close();
  EXPECT_EQ(store->stats().commits, 0u);
  EXPECT_EQ(store->stats().operations, 0u);
}

TEST_P(Durability, ExpiredSessionsAreForgottenAtRecoveryAndTheirWillsSent) {
  const auto workers = GetParam();
  make(workers);
  connect_packet wc = resume("brief", 10);
  wc.clean_start = true;
  wc.will = will_message{"wills/brief", shared_bytes::copy("bye"), qos::at_most_once, true,
                         properties::builder{}.add<property_id::will_delay_interval>(60).build()};
  auto c = open(wc);
  (void)c->expect<connack_packet>();
  c->close();  // session ends in 10 s, will in min(60, 10) s
  crash_and_restart(workers);
  now += 30s;  // the broker was down longer than the session lasts
  crash_and_restart(workers);
  EXPECT_EQ(recovered.sessions, 0u);
  EXPECT_EQ(recovered.discarded, 1u);
  auto watcher = connect("watcher");
  watcher->subscribe("wills/#");
  auto m = watcher->expect<publish_packet>();  // retained by the will
  EXPECT_EQ(m.payload().view(), "bye");
  crash_and_restart(workers);
  EXPECT_EQ(recovered.discarded, 0u);
}

INSTANTIATE_TEST_SUITE_P(Workers, Durability, ::testing::Values(1, 2));

// Two workers on two threads, as the network layer runs them: worker 0
// routes message after message (reading the subscription index under its
// own reader lock) while worker 1 changes the index all along (subscribe,
// unsubscribe, and sessions that end with subscriptions, shared ones too).
// A read without the lock would race the writes (ASan: use after free).
TEST(EngineThreads, OneWorkerRoutesWhileAnotherChangesTheIndex) {
  const time_point now{std::chrono::hours(1)};
  hooks h;
  auto store = storage::make_memory_store();
  options o;
  o.sys_interval = std::chrono::seconds(0);
  engine eng(o, h, *store, 2, now);
  // A client id worker `w` owns, and its connection there.
  auto id_on = [&](std::size_t w, std::string prefix) {
    for (int k = 0;; ++k)
      if (auto id = prefix + std::to_string(k); eng.owner_of(id) == w) return id;
  };
  auto connect = [&](std::size_t w, std::string id) {
    connect_packet c;
    c.version = v311;
    c.client_id = std::move(id);
    c.clean_start = true;
    auto ep = std::make_unique<test_endpoint>(eng.worker_at(w), now);
    ep->receive(encode(packet{std::move(c)}, v311), now);
    eng.worker_at(w).admit(*ep, now);
    EXPECT_TRUE(eng.worker_at(w).commit());
    ep->output().clear();
    return ep;
  };
  auto subscribe = [](std::string filter) {
    subscribe_packet s;
    s.packet_id = 1;
    s.entries.push_back({std::move(filter), subscribe_options{qos::at_most_once, false, false, retain_handling::dont_send}});
    return encode(packet{std::move(s)}, v311);
  };
  unsubscribe_packet u;
  u.packet_id = 2;
  u.filters = {"load/x", "$share/g/load/#"};
  const auto unsubscribe = encode(packet{std::move(u)}, v311);
  const auto publish = encode(packet{publish_packet("load/x", shared_bytes::copy("m"), qos::at_most_once)}, v311);
  const auto sub_x = subscribe("load/x"), sub_shared = subscribe("$share/g/load/#"), sub_hash = subscribe("load/#");

  auto publisher = connect(0, id_on(0, "publisher-"));
  auto local = connect(0, id_on(0, "local-"));  // a subscriber on the routing worker
  local->receive(sub_hash, now);
  ASSERT_TRUE(eng.worker_at(0).commit());
  local->output().clear();
  auto changing = connect(1, id_on(1, "changing-"));
  const std::string leaving_id = id_on(1, "leaving-");

  constexpr int rounds = 20'000;
  std::thread router([&] {
    auto& w = eng.worker_at(0);
    for (int k = 0; k < rounds; ++k) {
      publisher->receive(publish, now);
      EXPECT_TRUE(w.commit());
      publisher->output().clear();
      local->output().clear();
      w.hand_over_outbox([](std::size_t, batch&) {});  // (worker 1's batches: not delivered here)
    }
  });
  std::thread changer([&] {
    auto& w = eng.worker_at(1);
    for (int k = 0; k < rounds / 4; ++k) {
      changing->receive(sub_x, now);
      changing->receive(sub_shared, now);
      changing->receive(unsubscribe, now);
      auto leaving = connect(1, leaving_id);  // subscribes, then its session ends with the connection
      leaving->receive(sub_shared, now);
      leaving->receive(sub_x, now);
      leaving->transport_closed(error{reason::unspecified_error, "test closed"}, now);
      EXPECT_TRUE(w.commit());
      changing->output().clear();
      w.hand_over_outbox([](std::size_t, batch&) {});
    }
  });
  router.join();
  changer.join();
  EXPECT_EQ(eng.stats().subscriptions.load(), 1u);  // local's "load/#"
}

// ---------------------------------------------------------------- a slow clean session (issue 16, fault 12)

std::size_t stored_for(storage::store& st, std::string_view id) {
  std::size_t n = 0;
  st.messages().for_each(id, [&](const storage::message_record&) { ++n; });
  return n;
}

TEST_F(Engine, ACleanSessionsOverflowWaitsInTheStoreAndLeavesItAsItIsRead) {
  options o;
  o.queue.max_messages = 2;
  o.max_inflight = 2;
  make(2, o);
  auto sub = connect("slow", v311);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect("pub", v5);
  for (std::uint16_t i = 1; i <= 10; ++i) {
    pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
    EXPECT_EQ(pub->expect<puback_packet>().reason_code, reason::success);
  }
  EXPECT_EQ(stored_for(*store, "slow"), 6u);  // 2 in flight, 2 queued in memory, 6 in the store
  EXPECT_TRUE(store->sessions().load("slow"));  // under a record that recovery discards
  for (int i = 1; i <= 10; ++i) {
    const auto m = sub->expect<publish_packet>();
    ASSERT_EQ(m.payload().view(), std::to_string(i));
    sub->send(puback_packet{m.packet_id, reason::success, {}, {}});
  }
  EXPECT_TRUE(sub->quiet());
  EXPECT_EQ(stored_for(*store, "slow"), 0u);
  EXPECT_EQ(eng->stats().messages_dropped.load(), 0u);
  sub->close();
  EXPECT_FALSE(store->sessions().load("slow"));
}

TEST_F(Engine, ACleanSessionsStoredMessagesAreForgottenAfterACrash) {
  options o;
  o.queue.max_messages = 1;
  o.max_inflight = 1;
  make(1, o);
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::exactly_once);
  auto pub = connect("pub", v311);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  EXPECT_EQ(stored_for(*store, "slow"), 3u);
  crash_and_restart(1, o);
  EXPECT_EQ(recovered.sessions, 0u);
  EXPECT_EQ(recovered.discarded, 1u);
  EXPECT_EQ(stored_for(*store, "slow"), 0u);
  auto again = connect("slow", v5, /*clean=*/false, /*expiry=*/60);
  EXPECT_TRUE(again->quiet());
}

TEST_F(Engine, PastMaxStoredMessagesDropsAreCountedAndLogged) {
  auto captured = std::make_shared<log::capture_sink>();
  options o;
  o.queue.max_messages = 1;
  o.max_inflight = 1;
  o.max_stored_messages = 3;
  o.log = log::logger{captured, "broker"};
  make(1, o);
  auto sub = connect("slow", v311);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect("pub", v311);
  for (std::uint16_t i = 1; i <= 10; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  EXPECT_EQ(eng->stats().stored_dropped.load(), 5u);  // 1 in flight, 1 queued, 3 stored
  EXPECT_EQ(captured->entries().size(), 1u) << captured->text();
  // It reads: the store drains to half, storing again says how many were dropped.
  for (int i = 1; i <= 4; ++i) {
    const auto m = sub->expect<publish_packet>();
    ASSERT_EQ(m.payload().view(), std::to_string(i));
    sub->send(puback_packet{m.packet_id, reason::success, {}, {}});
  }
  EXPECT_EQ(captured->text(),
            "warn broker: client slow: 3 messages wait in the store for it (limits.max_stored_messages): its QoS 1/2 "
            "messages are dropped until it reads\n"
            "warn broker: client slow: 5 QoS 1/2 messages were dropped for it; its queue in the store has room again\n");
}


// ---------------------------------------------------------------- hold_acks: the publishers wait (issue 16, fault 12)

// One worker, or two with the publisher and the subscriber on different
// ones (the hold and its release travel in batches).
class HoldAcks : public Engine, public ::testing::WithParamInterface<std::size_t> {
 protected:
  void SetUp() override {
    options o;
    o.queue.max_messages = 2;
    o.max_inflight = 2;
    o.queue_full = queue_full_policy::hold_acks;
    make(GetParam(), o);
  }
  // A client id owned by another worker than `other`'s, when there are two.
  std::string apart_from(std::string_view other) {
    for (int i = 0;; ++i) {
      auto id = "pub-" + std::to_string(i);
      if (eng->workers() == 1 || eng->owner_of(id) != eng->owner_of(other)) return id;
    }
  }
  // The first packet of type P the client got (others stay, in order).
  template <class P>
  static P take(client& c) {
    c.collect();
    for (auto it = c.in.begin(); it != c.in.end(); ++it) {
      if (!std::holds_alternative<P>(*it)) continue;
      auto p = std::get<P>(std::move(*it));
      c.in.erase(it);
      return p;
    }
    ADD_FAILURE() << "no " << name(P::type);
    return P{};
  }
  // The subscriber reads one message and acknowledges it; returns its payload.
  static std::string read_one(client& sub) {
    const auto m = take<publish_packet>(sub);
    if (m.qos == qos::exactly_once) {
      sub.send(pubrec_packet{m.packet_id, reason::success, {}, {}});
      EXPECT_EQ(take<pubrel_packet>(sub).packet_id, m.packet_id);
      sub.send(pubcomp_packet{m.packet_id, reason::success, {}, {}});
    } else {
      sub.send(puback_packet{m.packet_id, reason::success, {}, {}});
    }
    return std::string(m.payload().view());
  }
};

TEST_P(HoldAcks, AFullSubscriberHoldsThePublishersPubackUntilItReads) {
  auto sub = connect("slow", v311);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect(apart_from("slow"), v5);
  for (std::uint16_t i = 1; i <= 4; ++i) {  // 2 in flight, 2 queued: the bound
    pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
    EXPECT_EQ(pub->expect<puback_packet>().packet_id, i);
  }
  for (std::uint16_t i = 5; i <= 6; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  EXPECT_TRUE(pub->quiet());  // beyond the bound: held
  EXPECT_EQ(stored_for(*store, "slow"), 0u);  // not in the store
  EXPECT_EQ(eng->stats().acknowledgements_held.load(), 2u);
  EXPECT_EQ(read_one(*sub), "1");  // 4 queued -> 3
  EXPECT_EQ(read_one(*sub), "2");  // -> 2: still at the bound
  EXPECT_TRUE(pub->quiet());
  EXPECT_EQ(read_one(*sub), "3");  // -> 1: room
  EXPECT_EQ(pub->expect<puback_packet>().packet_id, 5);
  EXPECT_EQ(pub->expect<puback_packet>().packet_id, 6);
  for (int i = 4; i <= 6; ++i) EXPECT_EQ(read_one(*sub), std::to_string(i));  // nothing lost
  EXPECT_TRUE(sub->quiet());
  EXPECT_EQ(eng->stats().messages_dropped.load(), 0u);
  for (std::size_t w = 0; w < eng->workers(); ++w) EXPECT_EQ(eng->worker_at(w).held_acknowledgements(), 0u);
}

TEST_P(HoldAcks, ASubscriberThatLeavesReleasesWhatItHeld) {
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::at_least_once);
  auto other = connect("other", v5);  // reads: never holds anything up
  other->subscribe("t", qos::at_least_once);
  auto pub = connect(apart_from("slow"), v311);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  for (std::uint16_t i = 1; i <= 4; ++i) EXPECT_EQ(pub->expect<puback_packet>().packet_id, i);
  EXPECT_TRUE(pub->quiet());
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(read_one(*other), std::to_string(i));  // one full subscriber reads
  EXPECT_TRUE(pub->quiet());  // the other holds it still
  sub->close();
  EXPECT_EQ(pub->expect<puback_packet>().packet_id, 5);
}

TEST_P(HoldAcks, Qos2PubrecIsHeldLikewise) {
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::exactly_once);
  auto pub = connect(apart_from("slow"), v5);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::exactly_once, false, i);
  for (std::uint16_t i = 1; i <= 4; ++i) EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, i);
  EXPECT_TRUE(pub->quiet());
  pub->publish("t", "5 again", qos::exactly_once, false, 5);  // resent before its PUBREC: not routed twice
  EXPECT_TRUE(pub->quiet());
  EXPECT_EQ(read_one(*sub), "1");  // 3 queued -> 2: at the bound
  EXPECT_TRUE(pub->quiet());
  EXPECT_EQ(read_one(*sub), "2");  // -> 1: room
  EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, 5);
  pub->send(pubrel_packet{5, reason::success, {}, {}});
  EXPECT_EQ(pub->expect<pubcomp_packet>().reason_code, reason::success);
  EXPECT_EQ(read_one(*sub), "3");
  EXPECT_EQ(read_one(*sub), "4");
  EXPECT_EQ(read_one(*sub), "5");
  EXPECT_TRUE(sub->quiet());
}

TEST_P(HoldAcks, APublisherThatLeavesWhileHeldIsForgotten) {
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::at_least_once);
  auto pub = connect(apart_from("slow"), v5);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::at_least_once, false, i);
  pub->close();
  pub->ep.reset();  // destroyed while its acknowledgement is held
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(read_one(*sub), std::to_string(i));  // delivered all the same
  for (std::size_t w = 0; w < eng->workers(); ++w) EXPECT_EQ(eng->worker_at(w).held_acknowledgements(), 0u);
}

// Exactly once across a reconnect: a persistent publisher that leaves while
// its PUBREC is held has that QoS 2 message recorded as received, so its
// resend on the next connection is answered, not routed again.
TEST_P(HoldAcks, AQos2PublisherThatLeavesWhileHeldIsNotDeliveredTwice) {
  auto sub = connect("slow", v5);
  sub->subscribe("t", qos::exactly_once);
  auto pub = connect(apart_from("slow"), v5, /*clean=*/true, /*expiry=*/60);
  for (std::uint16_t i = 1; i <= 5; ++i) pub->publish("t", std::to_string(i), qos::exactly_once, false, i);
  for (std::uint16_t i = 1; i <= 4; ++i) EXPECT_EQ(pub->expect<pubrec_packet>().packet_id, i);
  EXPECT_TRUE(pub->quiet());  // 5's PUBREC is held
  pub->close();
  auto again = connect(apart_from("slow"), v5, /*clean=*/false, /*expiry=*/60);
  publish_packet resend("t", shared_bytes::copy("5"), qos::exactly_once, false);
  resend.packet_id = 5;
  resend.dup = true;
  again->send(resend);
  EXPECT_EQ(take<pubrec_packet>(*again).packet_id, 5);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(read_one(*sub), std::to_string(i));
  EXPECT_TRUE(sub->quiet());  // once
}

INSTANTIATE_TEST_SUITE_P(Workers, HoldAcks, ::testing::Values(1u, 2u));

}  // namespace
}  // namespace tern::engine

namespace tern::engine {
namespace {

// An access policy that lets "writer" write w/#, everyone read r/# and w/#
// (but "blind" read nothing), and counts what it is asked.
struct counting_policy final : access_policy {
  mutable std::atomic<int> asked{0};
  std::atomic<std::uint64_t> gen{0};
  bool allowed(const client_info& c, std::string_view topic, access what) const override {
    ++asked;
    if (what == access::write) return c.client_id == "writer" && topic.starts_with("w/");
    if (c.client_id == "blind") return false;
    return topic.starts_with("r/") || topic.starts_with("w/");
  }
  std::uint64_t generation() const override { return gen.load(); }
};

TEST_F(Engine, TheAccessPolicyIsAskedOncePerClientTopicAndAccessUntilItChanges) {
  counting_policy policy;
  options o;
  o.access = &policy;
  make(1, o);
  auto reader = connect("reader");
  reader->subscribe("w/#", qos::at_least_once);
  auto blind = connect("blind");
  subscribe_packet s;
  s.packet_id = 1;
  s.entries.push_back({"w/#", {}});
  blind->send(s);
  EXPECT_EQ(blind->expect<suback_packet>().reason_codes.at(0), reason::not_authorized);
  auto writer = connect("writer");
  writer->publish("x/y", "no", qos::at_least_once, false, 1);
  EXPECT_EQ(writer->expect<puback_packet>().reason_code, reason::not_authorized);
  for (std::uint16_t i = 2; i < 6; ++i) {
    writer->publish("w/a", "yes", qos::at_least_once, false, i);
    EXPECT_EQ(writer->expect<puback_packet>().reason_code, reason::success);
    EXPECT_EQ(reader->expect<publish_packet>().topic(), "w/a");
  }
  // subscribe (reader, blind), write (x/y, w/a), read (reader w/a): 5 questions, not 12.
  EXPECT_EQ(policy.asked.load(), 5);
  ++policy.gen;  // a new ACL: every remembered answer goes
  writer->publish("w/a", "again", qos::at_least_once, false, 9);
  EXPECT_EQ(reader->expect<publish_packet>().topic(), "w/a");
  EXPECT_EQ(policy.asked.load(), 7);
}

TEST_F(Engine, MaxPublishRateDisconnectsAClientPastIt) {
  options o;
  o.max_publish_rate = 3;
  make(1, o);
  auto c = connect("fast");
  for (int i = 0; i < 3; ++i) c->publish("t", "x");
  advance(1s);  // a new window
  for (int i = 0; i < 3; ++i) c->publish("t", "x");
  EXPECT_FALSE(c->ep->closing());
  c->publish("t", "x");
  EXPECT_EQ(c->expect<disconnect_packet>().reason_code, reason::message_rate_too_high);
  EXPECT_TRUE(c->ep->closing());
}

}  // namespace
}  // namespace tern::engine
