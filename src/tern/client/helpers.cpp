// The one-call helpers, each on a tern::Client driven by the calling thread
// (no loop thread: the blocking calls run the loop while they wait).
#include "tern/client/helpers.hpp"

#include <algorithm>

#include <boost/asio/error.hpp>

#include "tern/client/client.hpp"
#include "tern/core/deadline.hpp"

namespace tern {

namespace {

using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds left(clock::time_point deadline) {
  const auto now = clock::now();
  if (now >= deadline) return milliseconds::zero();
  return std::chrono::ceil<milliseconds>(deadline - now);
}

// The token's error, timed_out when it did not complete by `deadline`.
error_code outcome(const token& t, clock::time_point deadline) {
  if (!t.wait(left(deadline))) return boost::asio::error::timed_out;
  return t.error();
}

// Connects and subscribes; empty on success.
error_code connect_and_subscribe(Client& c, std::string_view uri, std::vector<std::string>& filters,
                                 const receive_options& o, clock::time_point deadline) {
  if (auto ec = outcome(c.connect_async(std::string(uri), o.connect), deadline)) return ec;
  std::vector<subscription> subs;
  subs.reserve(filters.size());
  for (auto& f : filters) subs.push_back({std::move(f), {.max_qos = o.qos}});
  auto t = c.subscribe(std::move(subs));
  if (auto ec = outcome(t, deadline)) return ec;
  for (auto code : t.reason_codes())
    if (is_failure(code)) return make_error_code(code);
  return {};
}

}  // namespace

error_code publish_one(std::string_view uri, std::string_view topic, std::string_view payload,
                       const publish_options& options) {
  std::vector<publish_packet> one;
  one.emplace_back(topic, shared_bytes::copy(payload), options.qos, options.retain, options.props);
  return publish_many(uri, std::move(one), options);
}

error_code publish_many(std::string_view uri, std::vector<publish_packet> messages, const publish_options& options) {
  const auto deadline = deadline_after(clock::now(), options.timeout);
  Client c(options.client);
  if (auto ec = outcome(c.connect_async(std::string(uri), options.connect), deadline)) return ec;
  std::vector<token> sent;
  sent.reserve(messages.size());
  for (auto& m : messages) sent.push_back(c.publish(std::move(m)));
  error_code first;
  for (const auto& t : sent) {
    if (auto ec = outcome(t, deadline)) {
      first = ec;
      break;
    }
  }
  c.disconnect().wait();  // bounded by client_options::close_timeout
  return first;
}

receive_result receive(std::string_view uri, std::vector<std::string> filters, std::size_t n,
                       std::chrono::milliseconds timeout, const receive_options& options) {
  const auto deadline = deadline_after(clock::now(), timeout);
  receive_result r;
  Client c(options.client);
  if ((r.error = connect_and_subscribe(c, uri, filters, options, deadline))) return r;
  while (r.messages.size() < n) {
    auto m = c.receive(left(deadline));
    if (!m) {
      r.error = boost::asio::error::timed_out;
      break;
    }
    if (!options.retained && m->retain) continue;
    r.messages.push_back(std::move(*m));
  }
  c.disconnect().wait();
  return r;
}

error_code for_each_message(std::string_view uri, std::vector<std::string> filters,
                            const std::function<bool(const publish_packet&)>& callback,
                            const receive_options& options) {
  Client c(options.client);
  bool stopped = false;
  c.on_message([&](const publish_packet& m) {
    if (stopped || (!options.retained && m.retain)) return;
    if (!callback(m)) {
      stopped = true;
      c.disconnect();
    }
  });
  const auto ec = connect_and_subscribe(c, uri, filters, options, deadline_after(clock::now(), options.timeout));
  if (stopped) {  // the callback said stop while the SUBACK was awaited
    (void)c.loop_forever();  // until the DISCONNECT is written
    return {};
  }
  if (ec) return ec;
  const auto why = c.loop_forever();
  return stopped ? error_code{} : why;
}

}  // namespace tern
