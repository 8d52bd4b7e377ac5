// A client's WebSocket stream (tern/net/stream.hpp; ws://, wss://): the
// upgrade and the frames over another stream of this folder (TCP, or TLS
// for wss://), with the framing the broker's filter uses (ws_frame.hpp) and
// the upgrade request and answer check of ws_filter.cpp (Beast's parser
// stays there). Frames are masked, so each write is copied once into one
// binary frame (as the TLS stream copies into one buffer). Pings are
// answered with pongs between the client's writes; the broker's close frame
// ends the stream (eof), answered with a close frame when no write is going.
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <string>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include "tern/net/stream.hpp"
#include "tern/net/ws_filter.hpp"
#include "tern/net/ws_frame.hpp"

namespace tern::net {
namespace {

namespace asio = boost::asio;

constexpr std::size_t max_head = 8 * 1024;

std::array<std::byte, 4> new_mask() {
  thread_local std::mt19937 gen{std::random_device{}()};
  const auto v = gen();
  return {std::byte(v), std::byte(v >> 8), std::byte(v >> 16), std::byte(v >> 24)};
}

// A masked frame of `op` holding `payload` (the bytes of `buffers`).
std::vector<unsigned char> masked_frame(ws::opcode op, const std::vector<asio::const_buffer>& buffers) {
  const std::size_t n = asio::buffer_size(buffers);
  std::array<std::byte, 14> h;
  const auto mask = new_mask();
  const auto hn = ws::write_header(h, op, n, &mask);
  std::vector<unsigned char> out(hn + n);
  std::memcpy(out.data(), h.data(), hn);
  asio::buffer_copy(asio::buffer(out.data() + hn, n), buffers);
  ws::apply_mask(reinterpret_cast<std::byte*>(out.data() + hn), n, mask);
  return out;
}

class ws_stream final : public stream, public std::enable_shared_from_this<ws_stream> {
 public:
  ws_stream(asio::any_io_executor ex, std::shared_ptr<stream> below, std::string path, ws::header_list headers)
      : executor_(std::move(ex)), below_(std::move(below)), path_(std::move(path)), headers_(std::move(headers)) {}

  void async_open(const std::string& host, std::uint16_t port, open_handler h) override {
    below_->async_open(host, port, [self = shared_from_this(), host, port, h = std::move(h)](error_code ec) mutable {
      if (ec) return std::move(h)(ec);
      self->key_ = ws::new_key();
      const bool default_port = port == 80 || port == 443;
      self->request_ = ws::upgrade_request(default_port ? host : host + ":" + std::to_string(port), self->path_,
                                           self->key_, self->headers_);
      std::vector<asio::const_buffer> b{asio::buffer(self->request_)};
      self->below_->async_write(b, [self, h = std::move(h)](error_code ec2, std::size_t) mutable {
        if (ec2) return std::move(h)(ec2);
        self->read_head(std::move(h));
      });
    });
  }

  void async_read_some(asio::mutable_buffer b, io_handler h) override {
    // Payload already read: at once (posted, as a completion must not run inside the call).
    if (!payload_.empty()) {
      const std::size_t n = std::min(b.size(), payload_.size());
      std::memcpy(b.data(), payload_.data(), n);
      payload_.erase(0, n);
      return asio::post(executor(), [h = std::move(h), n]() mutable { std::move(h)(error_code(), n); });
    }
    if (ended_) {
      return asio::post(executor(), [h = std::move(h)]() mutable { std::move(h)(asio::error::eof, 0); });
    }
    raw_.resize(16 * 1024);
    below_->async_read_some(asio::buffer(raw_), [self = shared_from_this(), b, h = std::move(h)](
                                                     error_code ec, std::size_t n) mutable {
      if (ec) return std::move(h)(ec, 0);
      self->take(n);
      if (self->failed_) return std::move(h)(error_code(asio::error::connection_aborted), 0);
      self->async_read_some(b, std::move(h));
    });
  }

  void async_write(const std::vector<asio::const_buffer>& buffers, io_handler h) override {
    const std::size_t n = asio::buffer_size(buffers);
    user_ = masked_frame(ws::opcode::binary, buffers);
    user_handler_.emplace(std::move(h));
    user_size_ = n;
    if (!writing_) write_next();
  }

  void close() noexcept override { below_->close(); }

 private:
  asio::any_io_executor executor() const { return executor_; }

  void read_head(open_handler h) {
    raw_.resize(1024);
    below_->async_read_some(asio::buffer(raw_), [self = shared_from_this(), h = std::move(h)](
                                                    error_code ec, std::size_t n) mutable {
      if (ec) return std::move(h)(ec);
      self->head_.append(reinterpret_cast<const char*>(self->raw_.data()), n);
      const auto end = self->head_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (self->head_.size() > max_head) return std::move(h)(error_code(asio::error::connection_refused));
        return self->read_head(std::move(h));
      }
      std::string why;
      if (!ws::upgrade_accepted(std::string_view(self->head_).substr(0, end + 4), self->key_, why))
        return std::move(h)(error_code(asio::error::connection_refused));
      // Frames that came with the answer.
      std::string rest = self->head_.substr(end + 4);
      self->head_.clear();
      self->head_.shrink_to_fit();
      self->raw_.assign(reinterpret_cast<const std::byte*>(rest.data()),
                        reinterpret_cast<const std::byte*>(rest.data()) + rest.size());
      self->take(self->raw_.size());
      std::move(h)(error_code());
    });
  }

  // Frames in raw_[0, n): payload to payload_, pings answered.
  void take(std::size_t n) {
    std::size_t at = 0;
    std::size_t produced = 0;
    std::byte* buf = raw_.data();
    while (at < n && !failed_ && !ended_) {
      const auto s = reader_.step(buf + at, n - at, buf + produced);
      at += s.consumed;
      produced += s.produced;
      if (s.what == ws::frame_reader::event::ping) {
        const auto p = reader_.control_payload();
        control_.push_back(
            masked_frame(ws::opcode::pong, {asio::buffer(p.data(), p.size())}));
      } else if (s.what == ws::frame_reader::event::close) {
        ended_ = true;
        const std::array<unsigned char, 2> code{0x03, 0xe8};
        control_.push_back(masked_frame(ws::opcode::close, {asio::buffer(code)}));
      } else if (s.what == ws::frame_reader::event::failed) {
        failed_ = true;
      }
    }
    payload_.append(reinterpret_cast<const char*>(buf), produced);
    if (!writing_ && !control_.empty()) write_next();
  }

  // Control frames first, then the client's write; one at a time.
  void write_next() {
    if (!control_.empty()) {
      writing_ = true;
      current_ = std::move(control_.front());
      control_.pop_front();
      below_->async_write({asio::buffer(current_)}, [self = shared_from_this()](error_code, std::size_t) {
        self->writing_ = false;
        self->write_next();
      });
      return;
    }
    if (!user_handler_) return;
    writing_ = true;
    current_ = std::move(user_);
    below_->async_write({asio::buffer(current_)}, [self = shared_from_this()](error_code ec, std::size_t) {
      self->writing_ = false;
      io_handler h(std::move(*self->user_handler_));
      self->user_handler_.reset();
      const std::size_t n = ec ? 0 : self->user_size_;
      std::move(h)(ec, n);
      if (!self->writing_) self->write_next();
    });
  }

  asio::any_io_executor executor_;
  std::shared_ptr<stream> below_;
  std::string path_;
  ws::header_list headers_;
  std::string key_;
  std::string request_;
  std::string head_;
  std::vector<std::byte> raw_;
  std::string payload_;  // read and not yet taken
  ws::frame_reader reader_{ws::role::client, std::uint64_t{1} << 32};
  std::deque<std::vector<unsigned char>> control_;  // pongs, the close answer
  std::vector<unsigned char> user_;
  std::vector<unsigned char> current_;
  std::optional<io_handler> user_handler_;  // of the client's write waiting or going
  std::size_t user_size_ = 0;
  bool writing_ = false;
  bool ended_ = false;
  bool failed_ = false;
};

}  // namespace

std::shared_ptr<stream> make_ws_stream(const asio::any_io_executor& ex, std::shared_ptr<stream> below,
                                       std::string path, ws::header_list headers) {
  return std::make_shared<ws_stream>(ex, std::move(below), std::move(path), std::move(headers));
}

}  // namespace tern::net
