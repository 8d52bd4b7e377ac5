// tern::Client and tern::token: the facades over client_detail::core
// (client_core.hpp).
#include "tern/client/client.hpp"

#include "tern/client/client_core.hpp"

namespace tern {

namespace asio = boost::asio;
using client_detail::clock;
using error_code = boost::system::error_code;

// ============================================================================ token

int token::mid() const noexcept { return st_ ? st_->mid : 0; }

bool token::is_complete() const { return !st_ || st_->is_done(); }

bool token::wait(std::chrono::milliseconds timeout) const {
  if (!st_) return true;
  const auto deadline = client_detail::core::deadline_after(timeout);
  if (auto c = st_->owner.lock()) return c->wait(st_, deadline);
  return st_->is_done();  // the client is gone: nothing completes it any more
}

void token::wait() const { (void)wait(std::chrono::milliseconds::max()); }

token::error_code token::error() const {
  if (!st_ || !st_->is_done()) return {};
  return st_->ec;
}

std::vector<reason> token::reason_codes() const {
  if (!st_ || !st_->is_done()) return {};
  if (st_->has_code) return {st_->code};
  return st_->extra ? st_->extra->codes : std::vector<reason>{};
}

std::optional<connack_packet> token::connack() const {
  if (!st_ || !st_->is_done() || !st_->extra) return std::nullopt;
  return st_->extra->connack;
}

// ============================================================================ Client

Client::Client(client_options options) : core_(std::make_shared<client_detail::core>(std::move(options))) {
  core_->init();
}

Client::~Client() { core_->shutdown(); }

void Client::on_connect(connect_callback cb) { core_->set(core_->on_connect_, std::move(cb)); }
void Client::on_message(message_callback cb) {
  core_->set(core_->on_message_, std::move(cb));
  asio::post(core_->strand_, [w = std::weak_ptr<client_detail::core>(core_)] {
    if (auto c = w.lock()) c->room_in_rx();
  });
}
void Client::on_publish(publish_callback cb) { core_->set(core_->on_publish_, std::move(cb)); }
void Client::on_subscribe(subscribe_callback cb) { core_->set(core_->on_subscribe_, std::move(cb)); }
void Client::on_unsubscribe(subscribe_callback cb) { core_->set(core_->on_unsubscribe_, std::move(cb)); }
void Client::on_disconnect(disconnect_callback cb) { core_->set(core_->on_disconnect_, std::move(cb)); }
void Client::on_log(log_callback cb) { core_->set(core_->on_log_, std::move(cb)); }

void Client::message_callback_add(std::string filter, message_callback cb) {
  if (!cb) return message_callback_remove(std::move(filter));
  core_->message_callback(std::move(filter), std::move(cb));
}
void Client::message_callback_remove(std::string filter) { core_->message_callback(std::move(filter), {}); }

Client::error_code Client::connect(std::string uri, connect_options options) {
  if (core_->in_loop()) return make_error_code(boost::system::errc::resource_deadlock_would_occur);
  return core_->wait_connect(core_->connect_async(std::move(uri), std::move(options)));
}

token Client::connect_async(std::string uri, connect_options options) {
  return core_->connect_async(std::move(uri), std::move(options));
}

Client::error_code Client::reconnect() {
  if (core_->in_loop()) return make_error_code(boost::system::errc::resource_deadlock_would_occur);
  return core_->wait_connect(core_->reconnect_async());
}

token Client::disconnect(reason code, properties props) { return core_->disconnect(code, std::move(props)); }

bool Client::connected() const noexcept { return core_->connected_.load(); }

std::string Client::client_id() const {
  std::lock_guard lk(core_->m_);
  return core_->client_id_;
}

token Client::publish(std::string_view topic, std::string_view payload, qos q, bool retain, properties props) {
  return core_->publish(publish_packet(topic, shared_bytes::copy(payload), q, retain, std::move(props)));
}
token Client::publish(publish_packet message) { return core_->publish(std::move(message)); }

token Client::subscribe(std::string filter, qos max_qos) {
  return core_->subscribe({{std::move(filter), {.max_qos = max_qos}}}, {});
}
token Client::subscribe(std::vector<subscription> subscriptions, properties props) {
  return core_->subscribe(std::move(subscriptions), std::move(props));
}
token Client::unsubscribe(std::string filter) { return core_->unsubscribe({std::move(filter)}, {}); }
token Client::unsubscribe(std::vector<std::string> filters, properties props) {
  return core_->unsubscribe(std::move(filters), std::move(props));
}

token Client::ping() { return core_->ping(); }

std::optional<publish_packet> Client::receive(std::chrono::milliseconds timeout) { return core_->receive(timeout); }

bool Client::loop_start() { return core_->loop_start(); }
void Client::loop_stop() { core_->loop_stop(); }
Client::error_code Client::loop_forever() { return core_->loop_forever(); }
void Client::loop(std::chrono::milliseconds timeout) { core_->loop(timeout); }

Client::event_id Client::new_event(std::chrono::milliseconds interval, event_handler handler) {
  return core_->new_event(interval, std::move(handler));
}
bool Client::remove_event(event_id id) { return core_->remove_event(id); }

}  // namespace tern
