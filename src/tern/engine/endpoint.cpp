// The engine side of a network connection: what its protocol machine reports goes to its worker.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"

namespace tern::engine {

// ---------------------------------------------------------------- endpoint

std::string client_info::peer() const { return connection ? connection->peer() : std::string(); }

endpoint::endpoint(worker& w, time_point now)
    : worker_(&w), conn_(session::role::server, *this, w.connection_options(), now, session::shared_options) {
  w.input(0, now);
}

endpoint::~endpoint() {
  // The derived (network) part is gone already: no virtual calls from here.
  destroying_ = true;
  worker_->forget(*this);
  if (!admitted_) {
    delete pending_;
    return;
  }
  // Destroyed without the transport closing first (hooks see no peer).
  if (client_) worker_->closed(*this, error{reason::unspecified_error, "connection destroyed"}, worker_->now());
}

void endpoint::receive(bytes_view in, time_point now) {
  worker_->input(in.size(), now);
  conn_.receive(in, now);
}

void endpoint::on_timeout(time_point now) {
  worker_->input(0, now);
  conn_.on_timeout(now);
}

void endpoint::transport_closed(const error& why, time_point now) {
  worker_->input(0, now);
  conn_.transport_closed(why);
}

void endpoint::on_connect(connect_packet&& c) {
  if (admitted_) return;  // (the connection lets only one CONNECT through)
  delete std::exchange(pending_, new connect_packet(std::move(c)));
}

void endpoint::on_publish(publish_packet&& m) {
  if (client()) worker_->publish(*this, std::move(m));
}

void endpoint::on_delivered(const publish_packet&, reason) {
  if (client_session* client = this->client()) worker_->delivered(*client);
}

void endpoint::on_dropped(const publish_packet&, reason) {
  worker_->dropped();
}

void endpoint::on_subscribe(subscribe_packet&& s) {
  if (client()) worker_->subscribe(*this, std::move(s));
}

void endpoint::on_unsubscribe(unsubscribe_packet&& u) {
  if (client()) worker_->unsubscribe(*this, std::move(u));
}

void endpoint::on_disconnect(const disconnect_packet& d) {
  normal_disconnect_ = d.reason_code != reason::disconnect_with_will_message;
  if (client()) worker_->disconnect(*this, d);
}

void endpoint::on_closed(const error& why) {
  if (why.code.category() == reason_category()) closed_with_ = static_cast<reason>(why.code.value());
  else if (why.code.category() == connect_return_code_category())
    closed_with_ = to_reason(static_cast<connect_return_code>(why.code.value()));
  else if (why.code) closed_with_ = reason::unspecified_error;
  worker_->closed(*this, why, worker_->now());
}

}  // namespace tern::engine
