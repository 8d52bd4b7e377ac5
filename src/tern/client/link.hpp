// tern/client/link.hpp (internal to the client): the Asio side of a
// client_session: the transport of the current network connection
// (transport.hpp), its read loop, the one gathered write in flight, and the
// one timer, armed at the session's next_deadline(). It reads the clock and
// hands the time to the session with every input.
//
//   client_detail::link l(ex, session, tls, log);
//   l.bind(owner);               // async handlers hold `owner` (the object holding both) alive
//   // the session's events: open_transport() -> l.open(uri); close_transport() -> l.close();
//   // write(out) -> l.write(out); after any command on the session: l.rearm().
//
// One `stream` per network connection: its transport, its read buffer, and
// the write_buffer being written (swapped out of the connection's output,
// so that the connection keeps appending while a write is in flight).
// Handlers hold the stream, and ignore themselves once it is no longer the
// current one. Thread safety: none; the client's executor only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tern/client/client_session.hpp"
#include "tern/client/transport.hpp"

namespace tern::client_detail {

class link {
 public:
  link(boost::asio::any_io_executor ex, client_session& s, tls_options tls, log::logger log,
       ws_header_list ws_headers = {});

  // What keeps the link (and its session) alive while an operation is pending.
  void bind(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  // Opens a transport to `uri` (answered with session.opened()); an error:
  // none can be made.
  error_code open(const broker_uri& uri);
  // Closes the current transport, if any, at once.
  void close();
  // Writes `out`'s bytes (taken; answered with session.written()).
  void write(write_buffer& out);
  // Arms the timer at the session's next deadline (or stops it).
  void rearm();
  // Stops reading from the broker (true) until told to read again (false):
  // the application's receive queue is full, and TCP holds the broker back
  // instead of the client dropping what it already acknowledged. The read
  // under way, if any, still completes.
  void hold_reads(bool hold);

 private:
  struct stream {
    std::shared_ptr<transport> tr;
    std::vector<std::byte> rbuf;
    write_buffer wbuf;
    std::vector<boost::asio::const_buffer> wviews;
  };

  void on_opened(const std::shared_ptr<stream>& s, error_code ec);
  void start_read(const std::shared_ptr<stream>& s);
  void on_read(const std::shared_ptr<stream>& s, error_code ec, std::size_t n);
  void on_written(const std::shared_ptr<stream>& s, error_code ec);
  void on_timer();

  boost::asio::any_io_executor ex_;
  client_session& session_;
  tls_options tls_;
  ws_header_list ws_headers_;
  log::logger log_;
  std::weak_ptr<void> owner_;
  std::shared_ptr<stream> current_;
  boost::asio::steady_timer timer_;
  std::optional<time_point> armed_;
  std::uint64_t timer_gen_ = 0;
  bool hold_ = false;
  bool read_wanted_ = false;  // a read would have started but for hold_
};

}  // namespace tern::client_detail
