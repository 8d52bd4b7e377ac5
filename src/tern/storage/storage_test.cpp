// Interface tests of the storage backends: every backend runs the same tests.
// reopen() closes the store and opens it again from its directory (RocksDB);
// the memory store stays as it is, so both answer the same.
#include "tern/storage/storage.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "tern/storage/rocksdb_store.hpp"
#include "tern/storage/test_dir.hpp"

namespace tern::storage {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t unix_t0 = 1'800'000'000'000;  // ms; the instant time_point{} of these tests

class Backend : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<store> make() {
    if (GetParam() == "memory") return make_memory_store();
    rocksdb_options o;
    o.dir = dir_.data();
    o.clock = {time_point{}, unix_t0};
    o.log = [this](log_level l, std::string_view m) {
      if (l != log_level::info) problems_.emplace_back(m);
    };
    auto s = make_rocksdb_store(o);
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : make_memory_store();
  }
  store& open() {
    store_ = make();
    return *store_;
  }
  store& reopen() {
    if (GetParam() != "memory") {
      store_.reset();
      store_ = make();
    }
    return *store_;
  }
  void TearDown() override { EXPECT_TRUE(problems_.empty()) << problems_.front(); }

  testing::temp_dir dir_;
  std::unique_ptr<store> store_;
  std::vector<std::string> problems_;  // warnings and errors logged
};

std::vector<std::string> topics(retain_store& r, std::string_view filter, time_point now) {
  std::vector<std::string> out;
  r.match(filter, now, [&](const publish_packet& m) { out.emplace_back(m.topic()); });
  std::sort(out.begin(), out.end());
  return out;
}

publish_packet message(std::string_view topic, std::string_view payload, qos q = qos::at_least_once,
                       properties props = {}) {
  return publish_packet(topic, shared_bytes::copy(payload), q, false, std::move(props));
}

properties rich_props() {
  return properties::builder{}
      .add<property_id::message_expiry_interval>(3600)
      .add<property_id::content_type>("application/json")
      .add<property_id::response_topic>("reply/here")
      .add<property_id::correlation_data>(as_bytes(std::string_view("\x00\x01\x02", 3)))
      .user_property("site", "north")
      .user_property("site", "south")
      .build();
}

// The records of one client, as "kind:seq:packet_id:phase:topic:payload".
std::vector<std::string> records(message_store& ms, std::string_view client_id) {
  std::vector<std::string> out;
  ms.for_each(client_id, [&](const message_record& r) {
    static constexpr const char* kinds[] = {"out", "queued", "in"};
    out.push_back(std::string(kinds[static_cast<int>(r.kind)]) + ":" + std::to_string(r.seq) + ":" +
                  std::to_string(r.packet_id) + ":" + std::to_string(static_cast<int>(r.phase)) + ":" +
                  std::string(r.message.topic()) + ":" + std::string(r.message.payload().view()));
  });
  return out;
}

TEST_P(Backend, RetainedMessagesAreStoredReplacedAndCleared) {
  auto s = make();
  auto& r = s->retained();
  const time_point now{};
  r.put(publish_packet("a/b", shared_bytes::copy("1"), qos::at_least_once, true), now);
  r.put(publish_packet("a/c", shared_bytes::copy("2"), qos::at_most_once, true), now);
  r.put(publish_packet("$SYS/x", shared_bytes::copy("3"), qos::at_most_once, true), now);
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(topics(r, "a/#", now), (std::vector<std::string>{"a/b", "a/c"}));
  EXPECT_EQ(topics(r, "#", now), (std::vector<std::string>{"a/b", "a/c"}));  // not $SYS
  EXPECT_EQ(topics(r, "a/b", now), (std::vector<std::string>{"a/b"}));
  EXPECT_EQ(topics(r, "a/b/#", now), (std::vector<std::string>{"a/b"}));  // '#' matches its parent level
  EXPECT_EQ(topics(r, "a/+/#", now), (std::vector<std::string>{"a/b", "a/c"}));
  EXPECT_EQ(topics(r, "+/b", now), (std::vector<std::string>{"a/b"}));
  EXPECT_TRUE(topics(r, "a", now).empty());
  r.put(publish_packet("a/b", shared_bytes::copy("9"), qos::at_most_once, true), now);
  std::string payload;
  r.match("a/b", now, [&](const publish_packet& m) { payload = m.payload().view(); });
  EXPECT_EQ(payload, "9");
  r.put(publish_packet("a/b", shared_bytes{}, qos::at_most_once, true), now);
  EXPECT_EQ(topics(r, "a/+", now), (std::vector<std::string>{"a/c"}));
  EXPECT_EQ(r.size(), 2u);
}

TEST_P(Backend, RetainedMessagesExpire) {
  auto s = make();
  auto& r = s->retained();
  const time_point t0{};
  publish_packet m("e/1", shared_bytes::copy("x"), qos::at_most_once, true);
  m.set_props(properties::builder{}.add<property_id::message_expiry_interval>(10).build());
  r.put(m, t0);
  std::optional<std::uint32_t> left;
  r.match("e/1", t0 + 4s,
          [&](const publish_packet& p) { left = p.props().get<property_id::message_expiry_interval>(); });
  EXPECT_EQ(left, 6u);
  EXPECT_TRUE(topics(r, "e/#", t0 + 10s).empty());
  EXPECT_EQ(r.size(), 0u);
}

TEST_P(Backend, RetainedMessagesPersistWithTheirExpiry) {
  const time_point t0{};
  {
    auto& r = open().retained();
    publish_packet m("sensors/t1", shared_bytes::copy("21.5"), qos::exactly_once, true, rich_props());
    m.packet_id = 77;
    m.dup = true;
    r.put(m, t0);
    r.put(publish_packet("sensors/t2", shared_bytes::copy("19"), qos::at_most_once, true), t0);
    r.put(publish_packet("gone", shared_bytes::copy("x"), qos::at_most_once, true), t0);
    r.put(publish_packet("gone", shared_bytes{}, qos::at_most_once, true), t0);
  }
  auto& r = reopen().retained();
  EXPECT_EQ(r.size(), 2u);
  std::vector<publish_packet> got;
  r.match("sensors/+", t0 + 1500ms, [&](const publish_packet& m) { got.push_back(m); });
  ASSERT_EQ(got.size(), 2u);
  std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.topic() < b.topic(); });
  EXPECT_EQ(got[0].payload().view(), "21.5");
  EXPECT_EQ(got[0].qos, qos::exactly_once);
  EXPECT_TRUE(got[0].retain);
  EXPECT_FALSE(got[0].dup);
  EXPECT_EQ(got[0].packet_id, 0);
  EXPECT_EQ(got[0].props().get<property_id::message_expiry_interval>(), 3599u);
  EXPECT_EQ(got[0].props().get<property_id::content_type>(), "application/json");
  EXPECT_EQ(got[0].props().user_properties().size(), 2u);
  EXPECT_EQ(got[1].payload().view(), "19");
  EXPECT_EQ(got[1].qos, qos::at_most_once);
  EXPECT_TRUE(topics(r, "sensors/t1", t0 + 3600s).empty());
  EXPECT_EQ(reopen().retained().size(), 1u);  // the expired one is forgotten on disk too
}

TEST_P(Backend, SessionsAreSavedLoadedAndErased) {
  auto s = make();
  auto& ss = s->sessions();
  session_record rec{"c1", protocol_version::v5, 300, {{"a/#", {qos::at_least_once}, 7}}};
  ss.save(rec);
  auto got = ss.load("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->expiry_interval, 300u);
  ASSERT_EQ(got->subscriptions.size(), 1u);
  EXPECT_EQ(got->subscriptions[0].identifier, 7u);
  int n = 0;
  ss.for_each([&](const session_record&) { ++n; });
  EXPECT_EQ(n, 1);
  ss.erase("c1");
  EXPECT_FALSE(ss.load("c1"));
}

TEST_P(Backend, SessionsPersistWithSubscriptionsAndExpiry) {
  const time_point t0{};
  {
    auto& ss = open().sessions();
    session_record a{"caf\xc3\xa9", protocol_version::v3_1_1, 0xFFFFFFFF, {}, t0 + 90s};
    a.subscriptions.push_back({"a/+/c", {qos::exactly_once, true, true, retain_handling::dont_send}, 268'435'455});
    a.subscriptions.push_back({"$share/g/x/#", {qos::at_most_once, false, false, retain_handling::send_if_new}, 0});
    ss.save(a);
    ss.save(session_record{"b", protocol_version::v5, 10, {}});
    ss.save(session_record{"dropped", protocol_version::v5, 10, {}});
    ss.erase("dropped");
  }
  auto& ss = reopen().sessions();
  auto a = ss.load("caf\xc3\xa9");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->version, protocol_version::v3_1_1);
  EXPECT_EQ(a->expiry_interval, 0xFFFFFFFFu);
  EXPECT_EQ(a->expires_at, t0 + 90s);
  ASSERT_EQ(a->subscriptions.size(), 2u);
  EXPECT_EQ(a->subscriptions[0].filter, "a/+/c");
  EXPECT_EQ(a->subscriptions[0].options,
            (subscribe_options{qos::exactly_once, true, true, retain_handling::dont_send}));
  EXPECT_EQ(a->subscriptions[0].identifier, 268'435'455u);
  EXPECT_EQ(a->subscriptions[1].filter, "$share/g/x/#");
  EXPECT_EQ(a->subscriptions[1].options.retain_handling, retain_handling::send_if_new);
  EXPECT_FALSE(ss.load("b")->expires_at);
  EXPECT_FALSE(ss.load("dropped"));
  std::vector<std::string> ids;
  ss.for_each([&](const session_record& r) { ids.push_back(r.client_id); });
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"b", "caf\xc3\xa9"}));
}

TEST_P(Backend, QueuedMessagesPersistInOrderPerClient) {
  const time_point t0{};
  {
    auto& ms = open().messages();
    for (std::uint64_t seq = 1; seq <= 5; ++seq)
      ms.append("c1", seq, message("t/" + std::to_string(seq), "p" + std::to_string(seq)), t0 + seq * 1s);
    // Client ids that are prefixes of each other stay apart.
    ms.append("c", 9, message("t/c", "other"), t0);
    ms.append("c1x", 1, message("t/c1x", "other"), t0);
    ms.erase_queued("c1", 2);
  }
  auto& ms = reopen().messages();
  EXPECT_EQ(records(ms, "c1"), (std::vector<std::string>{"queued:1:0:0:t/1:p1", "queued:3:0:0:t/3:p3",
                                                         "queued:4:0:0:t/4:p4", "queued:5:0:0:t/5:p5"}));
  EXPECT_EQ(records(ms, "c"), (std::vector<std::string>{"queued:9:0:0:t/c:other"}));
  std::vector<std::uint64_t> page;
  std::vector<time_point> at;
  ms.for_each_queued("c1", 3, 2, [&](const message_record& r) {
    page.push_back(r.seq);
    at.push_back(r.queued_at);
  });
  EXPECT_EQ(page, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(at, (std::vector<time_point>{t0 + 3s, t0 + 4s}));
  EXPECT_EQ(ms.last_seq("c1"), 5u);
  EXPECT_EQ(ms.last_seq("nobody"), std::nullopt);
  EXPECT_TRUE(records(ms, "nobody").empty());
}

TEST_P(Backend, QueuedMessagesKeepTheirContent) {
  const time_point t0{};
  std::string big(100'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  {
    auto& ms = open().messages();
    auto m = message("r\xc3\xa9sum\xc3\xa9/x", big, qos::exactly_once, rich_props());
    m.packet_id = 5;  // not kept: assigned when it goes in flight
    ms.append("c1", 1, m, t0);
    ms.append("c1", 2, message("q0", "", qos::at_most_once), t0);
    ms.append("c1", 3, message("q1", "x"), t0);
    ms.append("c1", 3, message("q1", "replaced"), t0);
  }
  std::vector<message_record> got;
  reopen().messages().for_each("c1", [&](const message_record& r) { got.push_back(r); });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].message.topic(), "r\xc3\xa9sum\xc3\xa9/x");
  EXPECT_EQ(got[0].message.payload().view(), big);
  EXPECT_EQ(got[0].message.qos, qos::exactly_once);
  EXPECT_EQ(got[0].message.packet_id, 0);
  EXPECT_EQ(got[0].message.props(), rich_props());
  EXPECT_EQ(got[1].message.qos, qos::at_most_once);
  EXPECT_TRUE(got[1].message.payload().empty());
  EXPECT_EQ(got[2].message.payload().view(), "replaced");
}

TEST_P(Backend, InflightMessagesPersistWithPacketIdsAndPhases) {
  {
    auto& ms = open().messages();
    ms.set_inflight("c1", 7, 10, inflight_phase::awaiting_ack, message("t/a", "a", qos::exactly_once));
    ms.set_inflight("c1", 8, 3, inflight_phase::awaiting_ack, message("t/b", "b"));
    ms.set_inflight("c1", 9, 65535, inflight_phase::awaiting_ack, message("t/c", "c", qos::exactly_once));
    ms.set_inflight("c1", 7, 10, inflight_phase::awaiting_comp, publish_packet{});  // PUBREC came
    ms.add_incoming_qos2("c1", 42);
    ms.add_incoming_qos2("c1", 1);
    ms.append("c1", 11, message("t/q", "q"), time_point{});
    ms.add_incoming_qos2("c2", 42);
  }
  auto& ms = reopen().messages();
  EXPECT_EQ(records(ms, "c1"), (std::vector<std::string>{"out:7:10:1::", "out:8:3:0:t/b:b", "out:9:65535:0:t/c:c",
                                                         "queued:11:0:0:t/q:q", "in:0:1:0::", "in:0:42:0::"}));
  std::vector<publish_packet> sent;
  ms.for_each("c1", [&](const message_record& r) {
    if (r.kind == record_kind::outgoing && !r.message.topic().empty()) sent.push_back(r.message);
  });
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].packet_id, 3);
  EXPECT_EQ(sent[0].qos, qos::at_least_once);
  EXPECT_EQ(sent[1].packet_id, 65535);
  EXPECT_EQ(sent[1].qos, qos::exactly_once);
  EXPECT_EQ(ms.last_seq("c1"), 11u);
  ms.erase_inflight("c1", 10);
  ms.erase_incoming_qos2("c1", 42);
  ms.erase_queued("c1", 11);
  EXPECT_EQ(ms.last_seq("c1"), 9u);
  EXPECT_EQ(records(reopen().messages(), "c1"),
            (std::vector<std::string>{"out:8:3:0:t/b:b", "out:9:65535:0:t/c:c", "in:0:1:0::"}));
  EXPECT_EQ(records(store_->messages(), "c2"), (std::vector<std::string>{"in:0:42:0::"}));
}

TEST_P(Backend, ErasingASessionsMessagesLeavesOthers) {
  auto& ms = open().messages();
  for (std::string id : {"c", "c1", "c1x"}) {
    ms.append(id, 1, message("t", id), time_point{});
    ms.set_inflight(id, 2, 5, inflight_phase::awaiting_ack, message("t", id));
    ms.add_incoming_qos2(id, 6);
  }
  ms.erase_session("c1");
  EXPECT_TRUE(records(ms, "c1").empty());
  EXPECT_EQ(records(ms, "c").size(), 3u);
  EXPECT_EQ(records(ms, "c1x").size(), 3u);
  EXPECT_TRUE(records(reopen().messages(), "c1").empty());
  EXPECT_EQ(records(store_->messages(), "c1x").size(), 3u);
}

TEST_P(Backend, DelayedWillsPersist) {
  const time_point t0{};
  will_message w{"clients/c1/status", shared_bytes::copy("offline"), qos::at_least_once, true,
                 properties::builder{}
                     .add<property_id::will_delay_interval>(30)
                     .add<property_id::message_expiry_interval>(60)
                     .user_property("k", "v")
                     .build()};
  {
    auto& ws = open().wills();
    ws.put("c1", w, t0 + 30s);
    ws.put("c2", will_message{"x", shared_bytes{}, qos::at_most_once, false, {}}, t0 + 1s);
    ws.put("c3", w, t0);
    ws.erase("c3");
  }
  std::vector<will_record> got;
  reopen().wills().for_each([&](const will_record& r) { got.push_back(r); });
  std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.client_id < b.client_id; });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].client_id, "c1");
  EXPECT_EQ(got[0].will, w);
  EXPECT_EQ(got[0].due, t0 + 30s);
  EXPECT_EQ(got[1].client_id, "c2");
  EXPECT_TRUE(got[1].will.payload.empty());
  EXPECT_EQ(got[1].due, t0 + 1s);
}

TEST_P(Backend, ABatchIsOneCommitAppliedInOrder) {
  auto& s = open();
  const time_point t0{};
  write_batch b;
  for (std::uint64_t seq = 1; seq <= 100; ++seq) b.append("sub", seq, message("t", std::to_string(seq)), t0);
  b.append("sub", 50, message("t", "fifty"), t0);  // later operations win
  b.erase_queued("sub", 100);  // cancels that append: no operation added
  b.put_retained(publish_packet("r", shared_bytes::copy("v"), qos::at_least_once, true), t0);
  b.save_session(session_record{"sub", protocol_version::v5, 60, {{"t", {qos::at_least_once}, 0}}});
  b.add_incoming_qos2("pub", 7);
  EXPECT_EQ(b.size(), 104u);
  const auto before = s.stats();
  ASSERT_TRUE(s.commit(b));
  const auto after = s.stats();
  EXPECT_EQ(after.commits - before.commits, 1u);
  EXPECT_EQ(after.operations - before.operations, 104u);
  b.clear();
  EXPECT_TRUE(b.empty());
  ASSERT_TRUE(s.commit(b));  // an empty batch writes nothing
  EXPECT_EQ(s.stats().commits, after.commits);

  auto& again = reopen();
  std::vector<std::string> payloads;
  again.messages().for_each("sub", [&](const message_record& r) { payloads.emplace_back(r.message.payload().view()); });
  ASSERT_EQ(payloads.size(), 99u);
  EXPECT_EQ(payloads[48], "49");
  EXPECT_EQ(payloads[49], "fifty");
  EXPECT_EQ(payloads.back(), "99");
  EXPECT_EQ(again.retained().size(), 1u);
  EXPECT_TRUE(again.sessions().load("sub"));
  EXPECT_EQ(records(again.messages(), "pub"), (std::vector<std::string>{"in:0:7:0::"}));
}

TEST_P(Backend, MovingAMessageFromTheQueueInFlightIsOneBatch) {
  auto& s = open();
  s.messages().append("c", 1, message("t", "one"), time_point{});
  write_batch b;
  b.erase_queued("c", 1);
  b.set_inflight("c", 1, 100, inflight_phase::awaiting_ack, message("t", "one"));
  ASSERT_TRUE(s.commit(b, wait_for::written));
  ASSERT_TRUE(s.sync());
  EXPECT_EQ(records(reopen().messages(), "c"), (std::vector<std::string>{"out:1:100:0:t:one"}));
}

TEST_P(Backend, AMessageQueuedAndSentInOneBatchWritesNoQueueRecord) {
  auto& s = open();
  s.messages().append("c", 1, message("t", "old"), time_point{});
  write_batch b;
  b.append("c", 2, message("t", "two"), time_point{});
  b.append("d", 3, message("t", "three"), time_point{});
  b.erase_queued("c", 2);  // cancels the append above
  b.set_inflight("c", 2, 100, inflight_phase::awaiting_ack, message("t", "two"));
  b.erase_queued("c", 1);  // committed before: an erase
  b.erase_queued("d", 2);  // another client's seq: an erase too
  ASSERT_EQ(b.ops().size(), 5u);
  EXPECT_TRUE(std::holds_alternative<write_batch::cancelled_op>(b.ops()[0]));
  ASSERT_TRUE(s.commit(b));
  auto& again = reopen();
  EXPECT_EQ(records(again.messages(), "c"), (std::vector<std::string>{"out:2:100:0:t:two"}));
  EXPECT_EQ(records(again.messages(), "d"), (std::vector<std::string>{"queued:3:0:0:t:three"}));
}

TEST_P(Backend, ForgettingAClientErasesSessionMessagesAndWill) {
  auto& s = open();
  s.sessions().save(session_record{"c", protocol_version::v5, 60, {}});
  s.sessions().save(session_record{"d", protocol_version::v5, 60, {}});
  s.messages().append("c", 1, message("t", "x"), time_point{});
  s.wills().put("c", will_message{"w", shared_bytes::copy("bye"), qos::at_most_once, false, {}}, time_point{});
  write_batch b;
  b.forget_client("c");
  ASSERT_TRUE(s.commit(b));
  auto& again = reopen();
  EXPECT_FALSE(again.sessions().load("c"));
  EXPECT_TRUE(again.sessions().load("d"));
  EXPECT_TRUE(records(again.messages(), "c").empty());
  int wills = 0;
  again.wills().for_each([&](const will_record&) { ++wills; });
  EXPECT_EQ(wills, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Backend, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tern::storage
