// tern::client_detail::link: transport, read loop, write, timer for a
// client_session. The clock is read here only.
#include "tern/client/link.hpp"

#include <chrono>
#include <utility>

#include <boost/asio/buffer.hpp>

namespace tern::client_detail {

namespace asio = boost::asio;

namespace {
constexpr std::size_t read_buffer_size = 16 * 1024;
time_point now() { return std::chrono::steady_clock::now(); }
}  // namespace

link::link(asio::any_io_executor ex, client_session& s, tls_options tls, log::logger log, ws_header_list ws_headers)
    : ex_(std::move(ex)),
      session_(s),
      tls_(std::move(tls)),
      ws_headers_(std::move(ws_headers)),
      log_(std::move(log)),
      timer_(ex_) {}

error_code link::open(const broker_uri& uri) {
  auto tr = make_transport(ex_, uri, tls_, log_, ws_headers_);
  if (!tr) return error_code(tr.error().code);
  auto s = std::make_shared<stream>();
  s->tr = std::move(*tr);
  s->rbuf.resize(read_buffer_size);
  current_ = s;
  read_wanted_ = false;
  s->tr->async_open(uri.host, uri.port, [owner = owner_.lock(), this, s](error_code ec) { on_opened(s, ec); });
  return {};
}

void link::close() {
  if (!current_) return;
  current_->tr->close();
  current_.reset();
}

void link::on_opened(const std::shared_ptr<stream>& s, error_code ec) {
  if (s != current_) return;
  const auto t = now();
  if (ec) {
    current_.reset();
    session_.opened(ec, t);
    return rearm();
  }
  // CONNECT encoded, then the first read started, then the turn writes: the
  // order it always had. On TLS it decides which error a refused handshake
  // reports (the broker's alert, not the reset that follows it).
  session_.opened({}, t);
  if (s == current_) start_read(s);
  session_.turn(t);
  rearm();
}

void link::hold_reads(bool hold) {
  hold_ = hold;
  if (hold || !read_wanted_) return;
  read_wanted_ = false;
  if (current_) start_read(current_);
}

void link::start_read(const std::shared_ptr<stream>& s) {
  if (hold_) {
    read_wanted_ = true;
    return;
  }
  s->tr->async_read_some(asio::buffer(s->rbuf), [owner = owner_.lock(), this, s](error_code ec, std::size_t n) {
    on_read(s, ec, n);
  });
}

void link::on_read(const std::shared_ptr<stream>& s, error_code ec, std::size_t n) {
  if (s != current_) return;
  if (ec) {
    session_.transport_error(ec, now());
    return rearm();
  }
  const bool more = session_.received(bytes_view(s->rbuf.data(), n), now());
  rearm();
  if (more && s == current_) start_read(s);
}

void link::write(write_buffer& out) {
  auto s = current_;
  if (!s) return;
  std::swap(s->wbuf, out);
  s->wviews.clear();
  for (auto b : s->wbuf.buffers()) s->wviews.emplace_back(b.data(), b.size());
  s->tr->async_write(s->wviews,
                     [owner = owner_.lock(), this, s](error_code ec, std::size_t) { on_written(s, ec); });
}

void link::on_written(const std::shared_ptr<stream>& s, error_code ec) {
  s->wbuf.clear();
  if (s != current_) return;
  session_.written(ec, now());
  rearm();
}

// A deadline that only moved later (the keep alive's, after every packet
// sent) keeps the timer armed where it is: it fires early, on_timer() finds
// nothing due and arms it again. So a burst of publishes costs no timer
// operation each.
void link::rearm() {
  const auto t = session_.next_deadline();
  if (t == armed_) return;
  if (t && armed_ && *armed_ < *t) return;
  armed_ = t;
  ++timer_gen_;
  if (!t) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(*t);
  timer_.async_wait([owner = owner_.lock(), this, g = timer_gen_](error_code ec) {
    if (ec || g != timer_gen_) return;
    armed_.reset();
    on_timer();
  });
}

void link::on_timer() {
  const auto t = now();
  if (const auto due = session_.next_deadline(); !due || t < *due) return rearm();  // moved later meanwhile
  session_.on_timer(t);
  rearm();
}

}  // namespace tern::client_detail
