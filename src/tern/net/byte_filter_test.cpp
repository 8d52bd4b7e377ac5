// The TCP byte layer (tern/net/byte_filter.hpp) over a connected socket pair:
// reads, gathered writes that the socket takes in part, the end of stream.
#include "tern/net/byte_filter.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "support/socket_pair.hpp"
#include "tern/net/reactor.hpp"

namespace tern::net {
namespace {

iovec piece(std::string& s) { return {s.data(), s.size()}; }

TEST(TcpFilter, ReadsWhatCameAndSaysWhenNothingHas) {
  test::socket_pair p;
  tcp_filter f(std::exchange(p.fd[0], -1));
  byte_filter& layer = f;
  std::byte buf[16];
  auto r = layer.read(buf);
  EXPECT_EQ(r.status, io_status::would_block);
  ASSERT_EQ(::write(p.fd[1], "hello", 5), 5);
  r = layer.read(buf);
  EXPECT_EQ(r.status, io_status::done);
  EXPECT_EQ(r.bytes, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf), r.bytes), "hello");
  EXPECT_EQ(layer.wants(), ready::readable | ready::writable);
  ::close(std::exchange(p.fd[1], -1));
  EXPECT_EQ(layer.read(buf).status, io_status::end);
}

TEST(TcpFilter, WritesGatheredBuffersAndKeepsTheRestWhenTheSocketIsFull) {
  test::socket_pair p;
  tcp_filter f(std::exchange(p.fd[0], -1));
  std::string a = "ab", b = "cde";
  std::vector<iovec> iov{piece(a), piece(b)};
  std::size_t first = 0;
  auto r = f.write(iov, first);
  EXPECT_EQ(r.status, io_status::done);
  EXPECT_EQ(r.bytes, 5u);
  EXPECT_EQ(first, 2u);
  char got[8] = {};
  ASSERT_EQ(::read(p.fd[1], got, sizeof got), 5);
  EXPECT_EQ(std::string(got, 5), "abcde");

  // More than the socket holds: what is left is iov[first, end), trimmed.
  std::string big(4 << 20, 'x');
  iov = {piece(big)};
  first = 0;
  r = f.write(iov, first);
  EXPECT_EQ(r.status, io_status::would_block);
  ASSERT_LT(r.bytes, big.size());
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(iov[0].iov_len, big.size() - r.bytes);
  EXPECT_EQ(static_cast<char*>(iov[0].iov_base), big.data() + r.bytes);
}

TEST(TcpFilter, AWriteToAClosedPeerFailsWithItsReason) {
  test::socket_pair p;
  tcp_filter f(std::exchange(p.fd[0], -1));
  ::close(std::exchange(p.fd[1], -1));
  std::string a = "x";
  std::vector<iovec> iov{piece(a)};
  std::size_t first = 0;
  const auto r = f.write(iov, first);  // no SIGPIPE
  EXPECT_EQ(r.status, io_status::failed);
  EXPECT_EQ(r.ec, std::errc::broken_pipe);
}

TEST(TcpFilter, ShutdownWriteEndsThePeersStreamAndCloseGivesUpTheSocket) {
  test::socket_pair p;
  tcp_filter f(std::exchange(p.fd[0], -1));
  f.shutdown_write();
  char c;
  EXPECT_EQ(::read(p.fd[1], &c, 1), 0);
  f.close();
  EXPECT_EQ(f.fd(), -1);
}

}  // namespace
}  // namespace tern::net
