// The engine side of a network connection: what the protocol machine reports, handed to the worker.
#include "tern/broker/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/broker/client_session.hpp"
#include "tern/broker/rules.hpp"

namespace tern::broker {

using namespace rules;

// ---------------------------------------------------------------- endpoint

std::string client_info::peer() const { return connection ? connection->peer() : std::string(); }

endpoint::endpoint(worker& w, time_point now)
    : worker_(&w), conn_(session::role::server, *this, w.engine_.connection_options_, now, session::shared_options) {
  w.now_ = now;
}

endpoint::~endpoint() {
  // The derived (network) part is gone already: no virtual calls from here.
  destroying_ = true;
  if (unsynced_) std::erase(worker_->unsynced_, this);
  if (!admitted_) {
    delete pending_;
    return;
  }
  // Destroyed without the transport closing first (hooks see no peer).
  if (client_) worker_->closed(*this, error{reason::unspecified_error, "connection destroyed"}, worker_->now_);
}

void endpoint::track_unsynced() {
  if (unsynced_) return;
  unsynced_ = true;
  worker_->unsynced_.push_back(this);
}

void endpoint::receive(bytes_view in, time_point now) {
  worker_->now_ = now;
  worker_->received_bytes_ += in.size();
  conn_.receive(in, now);
}

void endpoint::on_timeout(time_point now) {
  worker_->now_ = now;
  conn_.on_timeout(now);
}

void endpoint::transport_closed(const error& why, time_point now) {
  worker_->now_ = now;
  conn_.transport_closed(why);
}

void endpoint::on_connect(connect_packet&& c) {
  if (admitted_) return;  // (the connection lets only one CONNECT through)
  delete std::exchange(pending_, new connect_packet(std::move(c)));
}

void endpoint::on_publish(publish_packet&& m) {
  client_session* client = this->client();
  if (!client) return;
  auto& eng = worker_->engine_;
  const auto now = worker_->now_;
  ++worker_->received_messages_;
  const bool v5 = conn_.version() == protocol_version::v5;
  if (levels(m.topic()) > eng.options_.max_topic_levels) {
    if (v5 && m.qos != qos::at_most_once) {
      conn_.acknowledge(m.packet_id, reason::topic_name_invalid);
    } else {
      conn_.disconnect(reason::topic_name_invalid);  // 3.1.1: closed, no packet
    }
    return;
  }
  if (reserved_for_broker(m.topic())) {
    // Not routed, not retained. 3.1.1 has no way to say so but silence.
    if (m.qos != qos::at_most_once) conn_.acknowledge(m.packet_id, v5 ? reason::not_authorized : reason::success);
    return;
  }
  const auto info = client->info(this);
  const auto verdict = eng.hooks_.on_publish(info, m);
  reason code = reason::success;
  if (verdict.action == publish_action::allow) {
    if (m.retain) worker_->batch_.put_retained(m, now);
    const auto matched = worker_->route(info, m, now);
    if (matched == 0 && conn_.version() == protocol_version::v5) code = reason::no_matching_subscribers;
  } else if (verdict.action == publish_action::refuse) {
    code = verdict.code;
  }
  if (m.qos != qos::at_most_once) {
    // Into the output now; written after the worker's commit() of this turn.
    conn_.acknowledge(m.packet_id, code);
    track_unsynced();
  }
}

void endpoint::on_delivered(const publish_packet&, reason) {
  if (client_session* client = this->client(); client && client->has_stored()) worker_->refill(*client, worker_->now_);
}

void endpoint::on_dropped(const publish_packet&, reason) {
  worker_->engine_.stats_.messages_dropped.fetch_add(1, std::memory_order_relaxed);
}

void endpoint::on_subscribe(subscribe_packet&& s) {
  if (client()) worker_->subscribe(*this, std::move(s));
}

void endpoint::on_unsubscribe(unsubscribe_packet&& u) {
  if (client()) worker_->unsubscribe(*this, std::move(u));
}

void endpoint::on_disconnect(const disconnect_packet& d) {
  normal_disconnect_ = d.reason_code != reason::disconnect_with_will_message;
  client_session* client = this->client();
  if (!client) return;
  if (auto e = d.props.get<property_id::session_expiry_interval>()) {
    if (client->expiry_interval == 0 && *e != 0) {
      // A session that was to end on disconnect cannot be made to persist by
      // DISCONNECT: not a valid DISCONNECT, so the will goes out (MQTT-3.14.2-2).
      normal_disconnect_ = false;
      conn_.disconnect(reason::protocol_error);
      return;
    }
    client->expiry_interval = std::min(*e, worker_->engine_.options_.max_session_expiry_interval);
    if (client->persistent() && !client->journaled) worker_->journal(*client);
  }
}

void endpoint::on_closed(const error& why) { worker_->closed(*this, why, worker_->now_); }

}  // namespace tern::broker
