// tern/client/completion.hpp (internal to the client): completing an
// AsyncClient operation's handler the way every operation does: posted to
// the client's executor, then run on the handler's associated executor
// (never inside the initiating call).
//
//   boost::asio::any_completion_handler<void(error_code)> h = ...;
//   client_detail::complete(ex, h, error_code{});   // h is empty afterwards
//   client_detail::assign(stored, std::move(h));     // never move-assign one: see below
#pragma once

#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

namespace tern::client_detail {

// Completes `h` with `args` (nothing when `h` is empty), through `ex`.
template <class Sig, class... Args>
void complete(const boost::asio::any_io_executor& ex, boost::asio::any_completion_handler<Sig>& h, Args&&... args) {
  namespace asio = boost::asio;
  if (!h) return;
  asio::get_associated_cancellation_slot(h).clear();
  auto hex = asio::get_associated_executor(h, ex);
  asio::post(ex, asio::bind_executor(std::move(hex), [h = std::move(h), ... a = std::forward<Args>(args)]() mutable {
               std::move(h)(std::move(a)...);
             }));
  h = nullptr;
}

// Boost 1.81's any_completion_handler move assignment recurses without end
// (it wraps its argument as an lvalue; fixed in 1.82): never move-assign one
// (nor containers that would: sort, erase from the middle). This assigns by swap.
template <class Sig>
void assign(boost::asio::any_completion_handler<Sig>& to, boost::asio::any_completion_handler<Sig>&& from) noexcept {
  boost::asio::any_completion_handler<Sig> tmp(std::move(from));
  to.swap(tmp);
}

}  // namespace tern::client_detail
