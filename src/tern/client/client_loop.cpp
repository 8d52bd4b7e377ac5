// tern::Client's core: the loop (its own thread, loop_forever(), loop()),
// waiting for tokens, timers, log delivery and shutdown.
#include <algorithm>

#include "tern/client/client_core.hpp"

namespace tern::client_detail {

bool core::wait(const std::shared_ptr<token_state>& s, clock::time_point deadline) {
  return block_until(
      deadline, [&] { return s->is_done(); },
      [&](clock::time_point until) {
        s->waited.store(true, std::memory_order_seq_cst);
        std::unique_lock lk(waits_m_);
        waits_cv_.wait_until(lk, until, [&] { return s->is_done(); });
      });
}

bool core::loop_start() {
  std::lock_guard lk(loop_m_);
  if (thread_.joinable()) {
    if (!thread_stop_.load() || thread_.get_id() == std::this_thread::get_id()) return false;
    thread_.join();  // asked to stop from a callback, not joined yet
  }
  thread_stop_ = false;
  ++loops_;
  thread_ = std::thread([this] {
    while (!thread_stop_.load()) io_.run_one_for(slice);
    --loops_;
  });
  return true;
}

void core::loop_stop() {
  forever_stop_ = true;
  std::unique_lock lk(loop_m_);
  if (!thread_.joinable()) return;
  thread_stop_ = true;
  if (thread_.get_id() == std::this_thread::get_id()) return;  // from a callback
  auto t = std::move(thread_);
  lk.unlock();
  t.join();
}

error_code core::loop_forever() {
  if (in_loop()) return make_error_code(boost::system::errc::resource_deadlock_would_occur);
  {
    std::lock_guard lk(m_);
    if (!started_) return client_error::not_connected;
  }
  forever_stop_ = false;
  ++loops_;
  auto finished = [&] {
    std::lock_guard lk(m_);
    return ended_;
  };
  while (!forever_stop_.load() && !shut_down_.load() && !finished()) io_.run_one_for(slice);
  --loops_;
  std::lock_guard lk(m_);
  return ended_ ? end_ec_ : error_code{};
}

void core::loop(std::chrono::milliseconds timeout) {
  if (in_loop() || shut_down_.load()) return;
  ++loops_;
  io_.run_until(deadline_after(timeout));  // run_for would overflow the clock on milliseconds::max()
  --loops_;
}

Client::event_id core::new_event(std::chrono::milliseconds interval, Client::event_handler h) {
  auto e = std::make_shared<event_state>(strand_);
  // At least 1 ms; at most a century, which the clock still adds to now.
  e->interval = std::clamp<std::chrono::milliseconds>(interval, 1ms, std::chrono::hours(24 * 36525));
  e->handler = std::move(h);
  {
    std::lock_guard lk(m_);
    e->id = ++next_event_;
    events_.emplace(e->id, e);
  }
  post([this, e] {
    e->timer.expires_after(e->interval);
    arm(e);
  });
  return e->id;
}

void core::arm(const std::shared_ptr<event_state>& e) {
  e->timer.async_wait([this, e](error_code ec) {
    if (ec || e->cancelled.load() || shut_down_) return;
    bool again = false;
    try {
      again = e->handler && e->handler();
    } catch (const std::exception& x) {
      log_.error("timer {} handler threw: {}; stopped", e->id, x.what());
    } catch (...) {
      log_.error("timer {} handler threw; stopped", e->id);
    }
    if (again && !e->cancelled.load()) {
      // Fixed rate; ticks missed while no loop ran are skipped, not replayed.
      const auto now = clock::now();
      auto next = e->timer.expiry() + e->interval;
      if (next <= now) next = now + e->interval;
      e->timer.expires_at(next);
      return arm(e);
    }
    std::lock_guard lk(m_);
    events_.erase(e->id);
  });
}

bool core::remove_event(Client::event_id id) {
  std::shared_ptr<event_state> e;
  {
    std::lock_guard lk(m_);
    auto it = events_.find(id);
    if (it == events_.end()) return false;
    e = std::move(it->second);
    events_.erase(it);
  }
  e->cancelled = true;
  post([e] { e->timer.cancel(); });
  return true;
}

void core::deliver_log(log::level l, const std::string& msg) {
  if (shut_down_) return;
  if (auto cb = get(on_log_)) invoke(*cb, "on_log", l, std::string_view(msg));
}

void core::shutdown() {
  loop_stop();
  {
    std::lock_guard lk(m_);
    on_connect_ = nullptr;
    on_message_ = nullptr;
    on_publish_ = nullptr;
    on_subscribe_ = nullptr;
    on_unsubscribe_ = nullptr;
    on_disconnect_ = nullptr;
    on_log_ = nullptr;
    for (auto& [id, e] : events_) {
      e->cancelled = true;
      e->timer.cancel();  // no thread runs the loop now
    }
    events_.clear();
  }
  shut_down_ = true;
  rx_cv_.notify_all();
  // No thread runs the loop now: the AsyncClient may be destroyed here. Its
  // pending operations complete (posted); running them completes the tokens.
  ac_.reset();
  work_.reset();
  io_.restart();
  io_.poll();
  for (auto& s : connect_tokens_) s->complete(asio::error::operation_aborted);
  connect_tokens_.clear();
  watched_.for_each([](watched& w) {
    if (w.token) w.token->complete(asio::error::operation_aborted);
  });
  watched_.clear();
}

}  // namespace tern::client_detail
