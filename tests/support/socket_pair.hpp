// tests/support/socket_pair.hpp: two connected non-blocking stream sockets
// (AF_UNIX), closed at the end of the scope unless taken.
//
//   tern::test::socket_pair p;
//   ::write(p.fd[1], "x", 1);             // p.fd[0] reads it
//   int mine = std::exchange(p.fd[0], -1);  // taken: not closed here
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tern::test {

struct socket_pair {
  int fd[2] = {-1, -1};
  socket_pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0); }
  ~socket_pair() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  socket_pair(const socket_pair&) = delete;
  socket_pair& operator=(const socket_pair&) = delete;
};

}  // namespace tern::test
