// MQTT over WebSocket as a byte filter (tern/net/ws_filter.hpp). The one
// translation unit of the runtime with Beast's headers (its HTTP parser
// reads the upgrade request and answer).
#include "tern/net/ws_filter.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <openssl/evp.h>

#include "tern/net/reactor.hpp"
#include "tern/net/ws_frame.hpp"

namespace tern::net {

namespace http = boost::beast::http;

namespace ws {
std::string accept_key(std::string_view key) {
  std::string in(key);
  in += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), digest, &len, EVP_sha1(), nullptr);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
  return std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(std::max(n, 0)));
}
}  // namespace ws

namespace {

// Fills `bytes` with pseudo-random bytes (masks, keys: RFC 6455 asks for
// unpredictability against proxies' caches, not secrecy).
void random_bytes(std::byte* p, std::size_t n) {
  thread_local std::mt19937 gen{std::random_device{}()};
  for (std::size_t i = 0; i < n; ++i) p[i] = std::byte{static_cast<std::uint8_t>(gen())};
}

}  // namespace

namespace ws {

std::string new_key() {
  std::array<std::byte, 16> raw;
  random_bytes(raw.data(), raw.size());
  unsigned char b64[32];
  const int n = EVP_EncodeBlock(b64, reinterpret_cast<const unsigned char*>(raw.data()), 16);
  return std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n));
}

std::string upgrade_request(std::string_view host, std::string_view path, std::string_view key,
                            const header_list& headers) {
  std::string r = "GET ";
  r += path.empty() ? "/" : path;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  r += key;
  r += "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n";
  for (const auto& [name, value] : headers) r += name + ": " + value + "\r\n";
  r += "\r\n";
  return r;
}

bool upgrade_accepted(std::string_view head, std::string_view key, std::string& why) {
  http::response_parser<http::empty_body> p;
  p.eager(true);
  p.skip(true);  // a 101 has no body
  boost::system::error_code ec;
  p.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec || !p.is_header_done()) {
    why = "the WebSocket upgrade's answer is not HTTP";
    return false;
  }
  const auto& res = p.get();
  if (res.result() != http::status::switching_protocols) {
    why = "the WebSocket upgrade was refused: HTTP " + std::to_string(res.result_int()) + " " +
          std::string(res.reason());
    return false;
  }
  if (res[http::field::sec_websocket_accept] != accept_key(key)) {
    why = "the WebSocket upgrade's answer has a wrong Sec-WebSocket-Accept";
    return false;
  }
  return true;
}

}  // namespace ws

namespace {

// The longest request (or answer) head read before the upgrade.
constexpr std::size_t max_head = 8 * 1024;

// A token list header (Connection, Upgrade, Sec-WebSocket-Protocol) holds `token`, case aside.
bool has_token(boost::beast::string_view list, std::string_view token) {
  for (auto t : http::token_list(list))
    if (boost::beast::iequals(t, boost::beast::string_view(token.data(), token.size()))) return true;
  return false;
}

std::string http_error(std::string_view status, std::string_view extra = {}) {
  std::string r = "HTTP/1.1 ";
  r += status;
  r += "\r\nConnection: close\r\nContent-Length: 0\r\n";
  r += extra;
  r += "\r\n";
  return r;
}

std::error_code refused_upgrade() { return std::make_error_code(std::errc::protocol_not_supported); }

class ws_filter final : public byte_filter {
 public:
  ws_filter(std::unique_ptr<byte_filter> next, ws::role r, std::uint64_t max_frame, time_point deadline,
            std::shared_ptr<const ws_server_options> server, std::shared_ptr<const ws_client_options> client)
      : next_(std::move(next)),
        reader_(r, max_frame),
        server_(std::move(server)),
        client_(std::move(client)),
        deadline_(deadline) {}

  io_result read(std::span<std::byte> out) override {
    if (failed_) return {0, io_status::failed, failed_};
    if (ended_) return {0, io_status::end, {}};
    if (const auto f = flush(); f.status == io_status::failed) return fail_with(f.ec);
    if (!open_) {
      if (client_ && !request_sent_) send_request();
      const auto h = read_head(out);
      if (h.status != io_status::done || !open_) return h;
    }
    std::size_t got = 0;
    io_status status = io_status::done;
    std::error_code ec;
    while (got < out.size()) {
      std::size_t n = 0;
      if (!early_.empty()) {  // bytes that came with the HTTP head
        n = std::min(early_.size(), out.size() - got);
        std::memcpy(out.data() + got, early_.data(), n);
        early_.erase(0, n);
      } else {
        const auto r = next_->read(out.subspan(got));
        n = r.bytes;
        if (r.status != io_status::done && n == 0) {
          status = r.status;
          ec = r.ec;
          break;
        }
        if (r.status != io_status::done) {
          status = r.status;
          ec = r.ec;
        }
      }
      got += frames(out.data() + got, n);
      if (failed_ || ended_ || status != io_status::done) break;
    }
    if (const auto f = flush(); f.status == io_status::failed && !failed_) failed_ = f.ec;
    if (failed_) return {got, io_status::failed, failed_};
    if (ended_) return {got, io_status::end, {}};
    if (status == io_status::would_block && got > 0) status = io_status::done;
    if (status == io_status::failed) failed_ = ec;
    return {got, status, ec};
  }

  io_result write(std::vector<iovec>& iov, std::size_t& first) override {
    if (failed_) return {0, io_status::failed, failed_};
    if (!open_) {
      if (client_ && !request_sent_) send_request();
      const auto f = flush();
      return {0, f.status == io_status::failed ? io_status::failed : io_status::would_block, f.ec};
    }
    if (close_sent_) return {0, io_status::failed, std::make_error_code(std::errc::broken_pipe)};
    return client_ ? write_masked(iov, first) : write_framed(iov, first);
  }

  std::uint32_t wants() const override {
    return next_->wants() | (out_first_ < out_.size() ? ready::writable : 0u);
  }

  void will_close(close_cause c) override {
    switch (c) {
      case close_cause::normal: close_code_ = ws::close_code::normal; break;
      case close_cause::going_away: close_code_ = ws::close_code::going_away; break;
      case close_cause::protocol_error: close_code_ = ws::close_code::protocol_error; break;
      case close_cause::refused: close_code_ = ws::close_code::policy_violation; break;
    }
  }

  // The close frame (unless one went already, or a frame is half written),
  // then the layer below shuts once it is out.
  void shutdown_write() override {
    if (shut_) return;
    shut_ = true;
    if (open_ && !close_sent_ && frame_left_ == 0) send_close(close_code_);
    fin_pending_ = true;
    flush();
  }

  void close() override { next_->close(); }

  time_point handshake_deadline() const override { return open_ ? time_point::max() : deadline_; }

  peer_identity identity() const override { return next_->identity(); }

 private:
  // ---- the HTTP upgrade ----

  // Reads the request (server) or answer (client) head; done once open_
  // (the bytes after the head wait in early_), would_block while it comes.
  io_result read_head(std::span<std::byte> buf) {
    for (;;) {
      const auto r = next_->read(buf);
      head_.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
      if (const auto end = head_.find("\r\n\r\n"); end != std::string::npos) {
        early_ = head_.substr(end + 4);
        head_.resize(end + 4);
        if (server_) answer_request();
        else check_answer();
        head_.clear();
        head_.shrink_to_fit();  // `head_ = {}` would keep its capacity
        if (failed_) {
          flush();
          return {0, io_status::failed, failed_};
        }
        return {0, io_status::done, {}};
      }
      if (head_.size() > max_head) {
        if (server_) queue(http_error("431 Request Header Fields Too Large"));
        flush();
        return fail_with(refused_upgrade());
      }
      if (r.status == io_status::done) continue;
      if (r.status == io_status::end && server_ && !head_.empty()) {  // a request cut short
        queue(http_error("400 Bad Request"));
        flush();
      }
      if (r.status == io_status::failed) return fail_with(r.ec);
      if (r.status == io_status::end) {
        ended_ = true;
        return {0, io_status::end, {}};
      }
      return {0, r.status, r.ec};
    }
  }

  void answer_request() {
    http::request_parser<http::empty_body> p;
    p.eager(true);
    boost::system::error_code ec;
    p.put(boost::asio::buffer(head_.data(), head_.size()), ec);
    if (ec || !p.is_done()) return refuse("400 Bad Request");
    const auto& req = p.get();
    if (req.version() < 11 || req.method() != http::verb::get) return refuse("400 Bad Request");
    const std::string upgrade_needed = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    if (!has_token(req[http::field::connection], "upgrade") || !has_token(req[http::field::upgrade], "websocket"))
      return refuse("426 Upgrade Required", upgrade_needed);
    if (req[http::field::sec_websocket_version] != "13") return refuse("426 Upgrade Required", upgrade_needed);
    const auto key = req[http::field::sec_websocket_key];
    if (key.size() != 24) return refuse("400 Bad Request");
    if (!server_->path.empty()) {
      auto target = req.target();
      if (const auto q = target.find('?'); q != target.npos) target = target.substr(0, q);
      if (target != server_->path) return refuse("404 Not Found");
    }
    std::string subprotocol;
    if (const auto offered = req[http::field::sec_websocket_protocol]; !offered.empty()) {
      if (has_token(offered, "mqtt")) subprotocol = "mqtt";
      else if (has_token(offered, "mqttv3.1")) subprotocol = "mqttv3.1";
      else return refuse("400 Bad Request", "Sec-WebSocket-Protocol: mqtt\r\n");
    }
    std::string r =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
    r += ws::accept_key(std::string_view(key.data(), key.size()));
    r += "\r\n";
    if (!subprotocol.empty()) r += "Sec-WebSocket-Protocol: " + subprotocol + "\r\n";
    r += "\r\n";
    queue(r);
    open_ = true;
  }

  void refuse(std::string_view status, std::string_view extra = {}) {
    queue(http_error(status, extra));
    failed_ = refused_upgrade();
  }

  void send_request() {
    request_sent_ = true;
    key_ = ws::new_key();
    queue(ws::upgrade_request(client_->host, client_->path, key_, client_->headers));
  }

  void check_answer() {
    std::string why;
    if (ws::upgrade_accepted(head_, key_, why)) open_ = true;
    else failed_ = refused_upgrade();
  }

  // ---- frames in ----

  // Reads the frames in buf[0, n) in place; returns the payload bytes left
  // at buf. Answers pings; a close frame or an error ends the stream.
  std::size_t frames(std::byte* buf, std::size_t n) {
    std::size_t at = 0;
    std::size_t produced = 0;
    while (at < n && !failed_ && !ended_) {
      const auto s = reader_.step(buf + at, n - at, buf + produced);
      at += s.consumed;
      produced += s.produced;
      switch (s.what) {
        case ws::frame_reader::event::none:
        case ws::frame_reader::event::pong:
          break;
        case ws::frame_reader::event::ping:
          send_control(ws::opcode::pong, reader_.control_payload());
          break;
        case ws::frame_reader::event::close:
          // Answered with the same code (section 5.5.1), then the end of the stream.
          if (!close_sent_) send_close(s.code == ws::close_code::none ? ws::close_code::normal : s.code);
          ended_ = true;
          break;
        case ws::frame_reader::event::failed:
          if (!close_sent_) send_close(s.code);
          failed_ = std::make_error_code(std::errc::protocol_error);
          break;
      }
    }
    return produced;
  }

  // ---- frames out ----

  void send_close(std::uint16_t code) {
    const std::array<std::byte, 2> b{std::byte{static_cast<std::uint8_t>(code >> 8)},
                                     std::byte{static_cast<std::uint8_t>(code)}};
    send_control(ws::opcode::close, b);
    close_sent_ = true;
  }

  // A control frame: after the data frame being written, if any.
  void send_control(ws::opcode op, std::span<const std::byte> payload) {
    if (close_sent_) return;
    std::string& to = frame_left_ > 0 ? deferred_ : out_;
    std::array<std::byte, 14> h;
    std::array<std::byte, 4> mask{};
    if (client_) random_bytes(mask.data(), 4);
    const auto hn = ws::write_header(h, op, payload.size(), client_ ? &mask : nullptr);
    to.append(reinterpret_cast<const char*>(h.data()), hn);
    const auto at = to.size();
    to.append(reinterpret_cast<const char*>(payload.data()), payload.size());
    if (client_) ws::apply_mask(reinterpret_cast<std::byte*>(to.data() + at), payload.size(), mask);
  }

  void queue(std::string_view bytes) { out_.append(bytes); }

  // Server frames: one binary frame for what the call is given, its header
  // (in out_) gathered with the caller's bytes; a frame the layer below
  // took only part of goes on at the next call (frame_left_).
  io_result write_framed(std::vector<iovec>& iov, std::size_t& first) {
    io_result r;
    while (first < iov.size()) {
      if (frame_left_ == 0) {
        if (!deferred_.empty()) {
          out_.append(deferred_);
          deferred_.clear();
        }
        std::uint64_t total = 0;
        for (std::size_t i = first; i < iov.size(); ++i) total += iov[i].iov_len;
        if (total == 0) {
          first = iov.size();
          break;
        }
        std::array<std::byte, 14> h;
        out_.append(reinterpret_cast<const char*>(h.data()), ws::write_header(h, ws::opcode::binary, total));
        frame_left_ = total;
      }
      // out_'s bytes, then the caller's up to the end of the frame.
      gather_.clear();
      if (out_first_ < out_.size()) gather_.push_back({out_.data() + out_first_, out_.size() - out_first_});
      const std::size_t ours = out_.size() - out_first_;
      std::uint64_t left = frame_left_;
      for (std::size_t i = first; i < iov.size() && left > 0; ++i) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(iov[i].iov_len, left));
        gather_.push_back({iov[i].iov_base, n});
        left -= n;
      }
      std::size_t gf = 0;
      const auto w = next_->write(gather_, gf);
      std::size_t taken = w.bytes;
      const std::size_t of_ours = std::min(taken, ours);
      out_first_ += of_ours;
      if (out_first_ == out_.size()) {
        out_.clear();
        out_first_ = 0;
      }
      taken -= of_ours;
      r.bytes += taken;
      frame_left_ -= taken;
      advance(iov, first, taken);
      if (w.status != io_status::done) {
        r.status = w.status;
        r.ec = w.ec;
        if (w.status == io_status::failed) failed_ = w.ec;
        return r;
      }
    }
    if (frame_left_ == 0 && !deferred_.empty()) {
      out_.append(deferred_);
      deferred_.clear();
      const auto f = flush();
      r.status = f.status;
      r.ec = f.ec;
    }
    return r;
  }

  // Client frames: masked, so copied: one frame of everything given, into
  // out_, written from there.
  io_result write_masked(std::vector<iovec>& iov, std::size_t& first) {
    if (const auto f = flush(); f.status != io_status::done) return {0, f.status, f.ec};
    std::uint64_t total = 0;
    for (std::size_t i = first; i < iov.size(); ++i) total += iov[i].iov_len;
    std::array<std::byte, 14> h;
    std::array<std::byte, 4> mask;
    random_bytes(mask.data(), 4);
    out_.append(reinterpret_cast<const char*>(h.data()), ws::write_header(h, ws::opcode::binary, total, &mask));
    const auto at = out_.size();
    for (std::size_t i = first; i < iov.size(); ++i)
      out_.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    ws::apply_mask(reinterpret_cast<std::byte*>(out_.data() + at), static_cast<std::size_t>(total), mask);
    first = iov.size();
    const auto f = flush();
    return {static_cast<std::size_t>(total), f.status, f.ec};
  }

  static void advance(std::vector<iovec>& iov, std::size_t& first, std::size_t n) {
    while (n > 0 && first < iov.size()) {
      if (n >= iov[first].iov_len) {
        n -= iov[first].iov_len;
        ++first;
      } else {
        iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + n;
        iov[first].iov_len -= n;
        n = 0;
      }
    }
    while (first < iov.size() && iov[first].iov_len == 0) ++first;
  }

  // out_ to the layer below; then its shutdown when asked for.
  io_result flush() {
    io_result r;
    while (out_first_ < out_.size()) {
      one_.assign(1, {out_.data() + out_first_, out_.size() - out_first_});
      std::size_t f = 0;
      const auto w = next_->write(one_, f);
      out_first_ += w.bytes;
      r.bytes += w.bytes;
      if (w.status != io_status::done) {
        if (w.status == io_status::failed && !failed_) failed_ = w.ec;
        return {r.bytes, w.status, w.ec};
      }
    }
    out_.clear();
    out_.shrink_to_fit();  // an idle connection keeps no buffer (`out_ = {}` would keep its capacity)
    out_first_ = 0;
    if (fin_pending_ && frame_left_ == 0) {
      fin_pending_ = false;
      next_->shutdown_write();
    }
    return r;
  }

  io_result fail_with(std::error_code ec) {
    if (!failed_) failed_ = ec;
    return {0, io_status::failed, failed_};
  }

  std::unique_ptr<byte_filter> next_;
  ws::frame_reader reader_;
  std::shared_ptr<const ws_server_options> server_;  // the maker's; nullptr on a client
  std::shared_ptr<const ws_client_options> client_;  // nullptr on a server
  time_point deadline_;
  std::string head_;      // the HTTP head so far
  std::string early_;     // bytes after the HTTP head, not yet read as frames
  std::string key_;       // client: the Sec-WebSocket-Key sent
  std::string out_;       // bytes not yet taken by the layer below
  std::size_t out_first_ = 0;
  std::string deferred_;  // control frames waiting for the end of a data frame
  std::uint64_t frame_left_ = 0;  // payload bytes of the data frame being written still to go
  std::vector<iovec> gather_;
  std::vector<iovec> one_;
  std::error_code failed_;
  std::uint16_t close_code_ = ws::close_code::normal;
  bool open_ = false;  // upgraded
  bool request_sent_ = false;
  bool close_sent_ = false;
  bool ended_ = false;
  bool shut_ = false;
  bool fin_pending_ = false;
};

std::unique_ptr<byte_filter> below(const std::shared_ptr<const byte_filter_maker>& m, int fd,
                                   std::chrono::steady_clock::time_point now) {
  if (m) return m->make(fd, now);
  return std::make_unique<tcp_filter>(fd);
}

}  // namespace

std::unique_ptr<byte_filter> ws_server::make(int fd, std::chrono::steady_clock::time_point now) const {
  auto next = below(below_, fd, now);
  if (!next) return nullptr;
  return std::make_unique<ws_filter>(std::move(next), ws::role::server, options_->max_frame_size,
                                     now + options_->handshake_timeout, options_, nullptr);
}

std::unique_ptr<byte_filter> ws_client::make(int fd, std::chrono::steady_clock::time_point now) const {
  auto next = below(below_, fd, now);
  if (!next) return nullptr;
  return std::make_unique<ws_filter>(std::move(next), ws::role::client, options_->max_frame_size,
                                     byte_filter::time_point::max(), nullptr, options_);
}

}  // namespace tern::net
