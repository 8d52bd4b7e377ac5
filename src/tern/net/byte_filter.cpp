// The TCP layer of tern/net/byte_filter.hpp.
#include "tern/net/byte_filter.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include "tern/net/reactor.hpp"

namespace tern::net {

namespace tcp {

io_result read(int fd, std::span<std::byte> out) {
  for (;;) {
    const ssize_t n = ::recv(fd, out.data(), out.size(), 0);
    if (n > 0) return {static_cast<std::size_t>(n), io_status::done, {}};
    if (n == 0) return {0, out.empty() ? io_status::done : io_status::end, {}};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {0, io_status::would_block, {}};
    return {0, io_status::failed, {errno, std::system_category()}};
  }
}

io_result write(int fd, std::vector<iovec>& iov, std::size_t& first) {
  io_result r;
  while (first < iov.size()) {
    msghdr m{};
    m.msg_iov = iov.data() + first;
    m.msg_iovlen = std::min<std::size_t>(iov.size() - first, IOV_MAX);
    const ssize_t n = ::sendmsg(fd, &m, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.status = errno == EAGAIN || errno == EWOULDBLOCK ? io_status::would_block : io_status::failed;
      if (r.status == io_status::failed) r.ec = {errno, std::system_category()};
      return r;
    }
    auto left = static_cast<std::size_t>(n);
    r.bytes += left;
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return r;
}

void shutdown_write(int fd) { ::shutdown(fd, SHUT_WR); }

}  // namespace tcp

std::uint32_t tcp_filter::wants() const { return ready::readable | ready::writable; }

void tcp_filter::close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

}  // namespace tern::net
