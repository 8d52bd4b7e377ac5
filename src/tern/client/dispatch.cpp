// tern::client_detail::dispatch: handlers, waiting receives, the receive queue.
#include "tern/client/dispatch.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>

#include "tern/client/completion.hpp"
#include "tern/topic/topic.hpp"

namespace tern::client_detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// The filter to match topics against: a shared subscription's inner filter.
std::string match_filter_of(std::string_view filter) {
  auto s = topic::parse_shared(filter);
  if (s && *s) return std::string((*s)->filter);
  return std::string(filter);
}
}  // namespace

void dispatch::set_handler(std::string filter, std::shared_ptr<const AsyncClient::message_handler> h,
                           std::shared_ptr<const AsyncClient::delivery_handler> hd) {
  auto it = std::find_if(handlers_.begin(), handlers_.end(), [&](const filter_handler& f) { return f.filter == filter; });
  if (!h && !hd) {
    if (it != handlers_.end()) handlers_.erase(it);
    return;
  }
  if (it != handlers_.end()) {
    it->h = std::move(h);
    it->hd = std::move(hd);
    return;
  }
  auto match = match_filter_of(filter);
  handlers_.push_back({std::move(filter), std::move(match), std::move(h), std::move(hd)});
}

void dispatch::route(publish_packet m, delivery d) {
  std::vector<const filter_handler*> matching;
  for (const auto& f : handlers_)
    if (topic::matches(f.match, m.topic())) matching.push_back(&f);
  if (!matching.empty()) {
    std::vector<std::shared_ptr<const AsyncClient::message_handler>> hs;
    std::vector<std::shared_ptr<const AsyncClient::delivery_handler>> hds;
    for (const auto* f : matching) {
      hs.push_back(f->h);
      hds.push_back(f->hd);
    }
    asio::post(ex_, [w = owner_, this, hs = std::move(hs), hds = std::move(hds), m = std::move(m), d] {
      auto s = w.lock();
      if (!s || closed_) return;
      for (std::size_t i = 0; i < hs.size() && !closed_; ++i) {
        if (hs[i]) (*hs[i])(m);
        else if (hds[i]) (*hds[i])(m, d);
      }
      if (d.number && !closed_) taken(d.number);
    });
    return;
  }
  if (!waiting_.empty()) {
    auto op = std::move(waiting_.front());
    waiting_.pop_front();
    if (op.timer) op.timer->cancel();
    return complete_receive(op.h, std::move(m), d.number);
  }
  if (limit_ == 0) {
    ++dropped_;
    if (d.number) taken(d.number);
    return;
  }
  queue_.push_back({std::move(m), d});  // past limit_: full() stops the reads
}

void dispatch::receive(std::chrono::steady_clock::duration timeout, receive_handler h, bool idle) {
  if (!queue_.empty()) {
    auto r = std::move(queue_.front());
    queue_.pop_front();
    return complete_receive(h, std::move(r.m), r.d.number);
  }
  if (idle) return complete(ex_, h, error_code(std::error_code(client_error::not_connected)), publish_packet{});
  receive_op op{next_id_++, std::move(h), nullptr};
  const auto id = op.id;
  if (timeout > std::chrono::steady_clock::duration::zero()) {
    op.timer = std::make_unique<asio::steady_timer>(ex_);
    op.timer->expires_after(timeout);
    op.timer->async_wait([w = owner_, this, id](error_code ec) {
      if (ec) return;
      if (auto s = w.lock()) finish_receive(id, asio::error::timed_out);
    });
  }
  auto slot = asio::get_associated_cancellation_slot(op.h);
  if (slot.is_connected()) {
    slot.assign([w = owner_, this, id, ex = ex_](asio::cancellation_type) {
      asio::dispatch(ex, [w, this, id] {
        if (auto s = w.lock()) finish_receive(id, asio::error::operation_aborted);
      });
    });
  }
  waiting_.push_back(std::move(op));
}

void dispatch::finish_receive(std::uint64_t id, error_code ec) {
  auto it = std::find_if(waiting_.begin(), waiting_.end(), [&](const receive_op& o) { return o.id == id; });
  if (it == waiting_.end()) return;
  if (it->timer) it->timer->cancel();
  complete(ex_, it->h, ec, publish_packet{});
  waiting_.erase(it);
}

void dispatch::fail_waiting(error_code ec) {
  for (auto& r : waiting_) {
    if (r.timer) r.timer->cancel();
    complete(ex_, r.h, ec, publish_packet{});
  }
  waiting_.clear();
}

// Completes an async_receive() with `m`; with a delivery number, the
// message counts as taken once the completion handler returned.
void dispatch::complete_receive(receive_handler& h, publish_packet m, std::uint64_t number) {
  if (!number) return complete(ex_, h, error_code{}, std::move(m));
  asio::get_associated_cancellation_slot(h).clear();
  auto hex = asio::get_associated_executor(h, ex_);
  asio::post(ex_, asio::bind_executor(std::move(hex), [h = std::move(h), m = std::move(m), number, w = owner_,
                                                       this, cex = ex_]() mutable {
               std::move(h)(error_code{}, std::move(m));
               asio::dispatch(cex, [w, this, number] {
                 if (auto s = w.lock(); s && !closed_) taken(number);
               });
             }));
  h = nullptr;
}

}  // namespace tern::client_detail
