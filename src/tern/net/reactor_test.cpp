// tern::net::reactor and deadline_table on their own: posted work, events of
// a watched socket, the handler's deadline, borrowing an idle loop's turn.
#include "tern/net/reactor.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <utility>
#include <vector>

#include "support/socket_pair.hpp"

namespace tern::net {
namespace {

using namespace std::chrono_literals;

struct recorder final : reactor::handler {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> events;
  int turns = 0;
  time_point deadline = time_point::max();
  void on_ready(std::uint64_t token, std::uint32_t ready_bits, time_point) override {
    events.emplace_back(token, ready_bits);
  }
  void end_turn(time_point) override { ++turns; }
  time_point next_deadline() const override { return deadline; }
};

TEST(Reactor, PostedWorkRunsOnTheLoopInTheOrderItCame) {
  reactor r;
  recorder h;
  std::vector<int> ran;
  std::thread other([&] {
    for (int i = 0; i < 3; ++i) r.post(task([&ran, i] { ran.push_back(i); }));
  });
  other.join();
  r.turn(h);  // the wake was written before the turn: it does not wait
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(h.events.empty());  // the wake is the reactor's own
  EXPECT_EQ(h.turns, 1);
}

TEST(Reactor, AWatchedStreamReportsReadableThenTheEndOnce) {
  reactor r;
  recorder h;
  test::socket_pair s;
  ASSERT_TRUE(r.watch(s.fd[0], 42, watch_mode::stream));
  r.turn(h);  // writable at once
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.events[0], (std::pair<std::uint64_t, std::uint32_t>{42, ready::writable}));
  h.events.clear();

  ASSERT_EQ(::write(s.fd[1], "x", 1), 1);
  r.turn(h);
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_TRUE(h.events[0].second & ready::readable);
  h.events.clear();

  ::close(std::exchange(s.fd[1], -1));
  r.turn(h);
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_TRUE(h.events[0].second & ready::hung_up);
  h.events.clear();

  // Edge-triggered: nothing new, nothing reported (the deadline ends the wait).
  h.deadline = clock::now() + 10ms;
  r.turn(h);
  EXPECT_TRUE(h.events.empty());
}

TEST(Reactor, AListenerLikeWatchReportsAsLongAsItIsReadableAndPausedNotAtAll) {
  reactor r;
  recorder h;
  test::socket_pair s;
  ASSERT_TRUE(r.watch(s.fd[0], 7, watch_mode::readable));
  ASSERT_EQ(::write(s.fd[1], "x", 1), 1);
  r.turn(h);
  r.turn(h);  // level-triggered: again
  EXPECT_EQ(h.events.size(), 2u);
  h.events.clear();
  ASSERT_TRUE(r.rewatch(s.fd[0], 7, watch_mode::paused));
  h.deadline = clock::now() + 10ms;
  r.turn(h);
  EXPECT_TRUE(h.events.empty());
  r.unwatch(s.fd[0]);
}

TEST(Reactor, TheWaitEndsAtTheHandlersDeadline) {
  reactor r;
  recorder h;
  const auto start = clock::now();
  h.deadline = start + 30ms;
  r.turn(h);
  EXPECT_GE(clock::now() - start, 30ms);
  EXPECT_EQ(h.turns, 1);
  h.deadline = time_point::min();  // at once
  r.turn(h);
  EXPECT_EQ(h.turns, 2);
}

TEST(Reactor, AnotherThreadBorrowsTheTurnOnlyWhenNothingIsQueued) {
  reactor r;
  recorder h;
  {
    auto turn = r.borrow_if_idle();
    EXPECT_TRUE(turn.owns_lock());
  }
  bool ran = false;
  r.post(task([&] { ran = true; }));
  EXPECT_FALSE(r.borrow_if_idle().owns_lock());  // the queued work is the loop's to run first
  r.turn(h);
  EXPECT_TRUE(ran);
  EXPECT_TRUE(r.borrow_if_idle().owns_lock());
}

TEST(Reactor, WorkNotRunIsDestroyedWithWhatItCarries) {
  auto carried = std::make_shared<int>(1);
  std::weak_ptr<int> seen = carried;
  {
    reactor r;
    r.post(task([c = std::move(carried)] {}));
    EXPECT_FALSE(seen.expired());
  }
  EXPECT_TRUE(seen.expired());
}

TEST(Reactor, QuitMakesTheLoopStop) {
  reactor r;
  recorder h;
  std::thread loop([&] {
    while (!r.quitting()) r.turn(h);
  });
  r.quit();
  loop.join();
  EXPECT_TRUE(r.quitting());
}

struct item {
  int id;
  std::uint32_t index = 0;
};

TEST(DeadlineTable, SweepCallsWhatIsDueOnceEvenWhenEntriesLeaveMeanwhile) {
  deadline_table<item> t;
  item a{1}, b{2}, c{3};
  for (auto* x : {&a, &b, &c}) x->index = t.add(x);
  const auto now = clock::now();
  t.set(a.index, now + 10ms);
  t.set(b.index, now + 500ms);
  t.set(c.index, now + 5ms);
  std::vector<int> due;
  t.sweep(now, [&](item& x, time_point) { due.push_back(x.id); });
  EXPECT_TRUE(due.empty());
  // a is due and leaves: c moves into its place and is still swept.
  t.sweep(now + 20ms, [&](item& x, time_point) {
    due.push_back(x.id);
    if (x.id == 1)
      if (auto* moved = t.remove(x.index)) moved->index = x.index;
  });
  EXPECT_EQ(due, (std::vector<int>{1, 3}));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.items()[c.index], &c);
  due.clear();
  t.sweep(now + 20ms, [&](item& x, time_point) { due.push_back(x.id); });  // cleared once called
  EXPECT_TRUE(due.empty());
  t.set(b.index, std::nullopt);
  t.sweep(now + 1s, [&](item& x, time_point) { due.push_back(x.id); });
  EXPECT_TRUE(due.empty());
  EXPECT_EQ(t.remove(static_cast<std::uint32_t>(t.size() - 1)), nullptr);  // the last: nothing moves
}

}  // namespace
}  // namespace tern::net
