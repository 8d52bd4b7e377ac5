// What the network layer allocates, over real sockets. A connection in use
// writes without allocating (its emptied output keeps its memory until the
// thread's 100 ms tick), and one that stopped writing gives that memory back
// at the tick. A separate executable: it replaces the global operator new.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <thread>

#include "support/test_client.hpp"
#include "support/heap_counter.hpp"
#include "tern/net/runtime.hpp"

namespace tern::net {
namespace {

using namespace std::chrono_literals;
using testing::test_client;
namespace heap = tern::test::heap;

// Reads exactly `n` bytes (nothing of it allocates); false on EOF or error.
bool read_exactly(int fd, std::size_t n) {
  std::array<std::byte, 512> buffer;
  while (n > 0) {
    const auto got = ::recv(fd, buffer.data(), std::min(n, buffer.size()), 0);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      return false;
    }
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

// A QoS 1 publisher and a QoS 0 subscriber, one message at a time; with
// 2 io threads the two clients are on different ones (their client ids
// are chosen so), and each message crosses from one engine worker to the
// other (delivered by the publisher's thread while the subscriber's sleeps).
void one_message_at_a_time(std::size_t io_threads) {
  engine::hooks hooks;
  auto store = storage::make_memory_store();
  engine::engine engine{{}, hooks, *store, io_threads, std::chrono::steady_clock::now()};
  std::string sub_id = "sub", pub_id = "pub";
  for (int i = 0; io_threads > 1 && engine.owner_of(pub_id) == engine.owner_of(sub_id); ++i)
    pub_id = "pub-" + std::to_string(i);
  runtime_options o;
  o.listeners.push_back({"127.0.0.1", 0});
  runtime rt(engine, o);
  ASSERT_FALSE(rt.start());
  const auto port = rt.bound().at(0).port;

  test_client sub(port, protocol_version::v3_1_1), pub(port, protocol_version::v3_1_1);
  sub.connect(sub_id);
  pub.connect(pub_id);
  sub.subscribe("t/alloc", qos::at_most_once);

  // Encoded once: the clients' side allocates nothing per message.
  publish_packet p("t/alloc", shared_bytes::copy(std::string(64, 'x')), qos::at_least_once);
  p.packet_id = 7;
  const auto publish = encode(packet{p}, protocol_version::v3_1_1);
  publish_packet delivered = p;
  delivered.qos = qos::at_most_once;
  delivered.packet_id = 0;
  const auto delivered_size = encode(packet{delivered}, protocol_version::v3_1_1).size();
  constexpr std::size_t puback_size = 4;
  auto one_message = [&] {
    pub.send_raw(publish);
    ASSERT_TRUE(read_exactly(sub.fd(), delivered_size));
    ASSERT_TRUE(read_exactly(pub.fd(), puback_size));
  };

  for (int i = 0; i < 20; ++i) one_message();  // the threads' and the engine's working vectors reach their size
  std::this_thread::sleep_for(250ms);  // two ticks: nothing kept
  const long idle_before = heap::live_bytes();

  constexpr int n = 200;
  const long before = heap::allocations();
  for (int i = 0; i < n; ++i) one_message();
  const long per_100 = (heap::allocations() - before) * 100 / n;
  // The decoded PUBLISH's bytes (one block, shared by every copy); the
  // outputs of both connections are reused (a tick may take them back
  // once, and the next write allocates them again). Without the reuse:
  // about 5 per message (each write took and gave back its output's block
  // and its list of buffers), and 4 more across threads (the batch handed
  // to the other worker, its vectors, their replacements).
  std::printf("%zu io thread(s): allocations per 100 messages (a QoS 1 PUBLISH in, a PUBACK and a PUBLISH out): %ld\n",
              io_threads, per_100);
  EXPECT_LE(per_100, 130);

  std::this_thread::sleep_for(250ms);
  // Idle again: the outputs kept while writing went back at the tick.
  EXPECT_LE(heap::live_bytes() - idle_before, 0) << "bytes still held by idle connections";
  rt.stop();
}

TEST(NetMemory, AConnectionInUseWritesWithoutAllocatingAndGivesItBackWhenIdle) { one_message_at_a_time(1); }

TEST(NetMemory, AMessageToAClientOfAnotherIoThreadAllocatesNothingMore) { one_message_at_a_time(2); }

}  // namespace
}  // namespace tern::net
