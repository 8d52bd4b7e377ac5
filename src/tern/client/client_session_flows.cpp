// tern::client_detail::client_session, part two: what goes out (publishes,
// SUBSCRIBE/UNSUBSCRIBE requests, subscriptions restored, the offline queue
// put back after a connection) and what comes back (the session::handler
// calls: CONNACK, messages, acknowledgements, the end). The connection's
// life is in client_session.cpp.
//
// Publishes are identified by a tag; the offline queue holds the tag with
// the message, and once the message is handed to the connection (only when
// it can go out at once, so its packet id is known right away) the packet id
// maps back to the tag for PUBACK/PUBCOMP. With a store, a publish's tag is
// its seq in the store.
#include <algorithm>
#include <chrono>

#include "tern/client/client_session.hpp"
#include "tern/topic/topic.hpp"

namespace tern::client_detail {

namespace {
constexpr std::size_t max_resubscribe_entries = 64;  // per SUBSCRIBE when restoring subscriptions
}  // namespace

// ---------------------------------------------------------------- commands

client_session::publish_result client_session::publish(publish_packet m, time_point now) {
  now_ = now;
  if (auto e = topic::validate_name(m.topic()))
    return {ec_of(make_error_code(reason::topic_name_invalid)), reason::topic_name_invalid};
  if (phase_ == phase::idle) return {ec_of(client_error::not_connected), reason::unspecified_error};
  m.packet_id = 0;
  m.dup = false;
  const auto tag = store_ ? store_->next_seq() : next_tag_++;
  const bool stored = store_ && m.qos != qos::at_most_once;
  auto r = pending_.push({std::move(m), now, tag});
  for (auto dropped : r.dropped) {
    if (store_) store_->unqueued(dropped);  // no record for a QoS 0 one: erasing nothing
    fail_publish(dropped, ec_of(client_error::dropped));
  }
  if (!r.accepted) return {ec_of(client_error::queue_full), reason::unspecified_error};
  if (stored) store_->queue(tag, pending_.back().message, now);
  return {{}, reason::success, tag};
}

client_session::request_result client_session::subscribe(std::vector<subscription> subs, properties props) {
  if (subs.empty()) return {ec_of(make_error_code(reason::protocol_error))};
  for (const auto& s : subs)
    if (auto e = topic::validate_filter(s.filter)) return {ec_of(make_error_code(reason::topic_filter_invalid))};
  if (phase_ == phase::idle) return {ec_of(client_error::not_connected)};
  requests_waiting_.push_back({++request_id_, subscribe_packet{0, std::move(subs), std::move(props)}, false});
  return {{}, request_id_};
}

client_session::request_result client_session::unsubscribe(std::vector<std::string> filters, properties props) {
  if (filters.empty()) return {ec_of(make_error_code(reason::protocol_error))};
  for (const auto& f : filters)
    if (auto e = topic::validate_filter(f)) return {ec_of(make_error_code(reason::topic_filter_invalid))};
  if (phase_ == phase::idle) return {ec_of(client_error::not_connected)};
  requests_waiting_.push_back({++request_id_, unsubscribe_packet{0, std::move(filters), std::move(props)}, false});
  return {{}, request_id_};
}

// ---------------------------------------------------------------- around a connection

// Before a Clean Start: the session state is about to be cleared, so the
// QoS 1/2 messages in flight go back to the front of the offline queue, to
// be sent again as new. A QoS 2 message already at PUBREL reached the
// broker: its publish completes with success.
void client_session::requeue_inflight() {
  if (store_) store_->forget_session(st_);  // Clean Start clears the state without journaling
  const auto order = st_.outgoing_order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    auto tag = inflight_.find(*it);
    auto* o = st_.find_outgoing(*it);
    if (tag == inflight_.end() || !o) continue;
    if (o->phase == session::outgoing::phase::awaiting_comp) {
      ev_.publish_done(tag->second, error_code{}, reason::success);
      continue;
    }
    auto m = o->message;
    m.packet_id = 0;
    m.dup = false;
    if (store_) store_->queue(tag->second, m, now_);
    pending_.push_front({std::move(m), now_, tag->second});
  }
  inflight_.clear();
}

// The connection ended: SUBSCRIBE/UNSUBSCRIBE not yet answered go back to
// the front of the queue (in their order), to be sent after the reconnect.
void client_session::requeue_requests() {
  std::map<std::uint64_t, request> sent;  // by id
  for (auto& [packet_id, r] : requests_sent_) {
    st_.release_packet_id(packet_id);
    if (r.own) {
      resubscribe_unacked_ = true;  // restoring was cut short: restore again
      continue;
    }
    sent.emplace(r.id, std::move(r));
  }
  requests_sent_.clear();
  for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
    std::visit([](auto& p) { p.packet_id = 0; }, it->second.packet);
    requests_waiting_.push_front(std::move(it->second));
  }
}

// The broker did not keep the session: subscribe again to what the client holds.
void client_session::resubscribe() {
  need_resubscribe_ = false;
  resubscribe_unacked_ = false;
  if (subscriptions_.empty()) return;
  std::vector<request> ops;
  for (const auto& r : subscriptions_) {
    if (ops.empty() || std::get<subscribe_packet>(ops.back().packet).props != r.props ||
        std::get<subscribe_packet>(ops.back().packet).entries.size() >= max_resubscribe_entries)
      ops.push_back({++request_id_, subscribe_packet{0, {}, r.props}, true});
    std::get<subscribe_packet>(ops.back().packet).entries.push_back(r.sub);
  }
  log_.info("restoring {} subscription(s) on {}", subscriptions_.size(), uri_.to_string());
  for (auto it = ops.rbegin(); it != ops.rend(); ++it) requests_waiting_.push_front(std::move(*it));
}

void client_session::send_waiting_requests() {
  while (!requests_waiting_.empty() && live()) {
    if (st_.inflight() + requests_sent_.size() >= 65'000) break;
    auto id = st_.allocate_packet_id();
    if (!id) break;
    auto r = std::move(requests_waiting_.front());
    requests_waiting_.pop_front();
    std::visit(
        [&](auto& p) {
          p.packet_id = *id;
          conn_->send(packet{p});
        },
        r.packet);
    requests_sent_.emplace(*id, std::move(r));
  }
}

// An offline-queue entry that will not be sent: its record goes.
void client_session::unstore(const offline_queue::entry& e) {
  if (store_ && e.message.qos != qos::at_most_once) store_->unqueued(e.tag);
}

// Hands queued publishes to the connection while they can go out at once.
void client_session::pump_publishes() {
  const auto t = now_;
  while (!pending_.empty() && live()) {
    const auto& front = pending_.front().message;
    if (front.qos != qos::at_most_once &&
        (st_.inflight() >= conn_->peer().receive_maximum || st_.inflight() + requests_sent_.size() >= 65'000 ||
         (opts_.max_inflight != 0 && st_.inflight() >= opts_.max_inflight)))
      break;
    auto e = pending_.pop_front();
    // Message Expiry Interval: dropped when it ran out while queued, else
    // sent with the time left (MQTT 5.0 3.3.2.3.3).
    if (auto expiry = e.message.props().get<property_id::message_expiry_interval>()) {
      const auto waited = std::chrono::duration_cast<std::chrono::seconds>(t - e.enqueued_at).count();
      if (waited >= std::int64_t{*expiry}) {
        unstore(e);
        fail_publish(e.tag, ec_of(client_error::message_expired));
        continue;
      }
      if (waited > 0) {
        const auto left = static_cast<std::uint32_t>(*expiry - static_cast<std::uint32_t>(waited));
        properties::builder b;
        e.message.props().for_each([&](const property& p) {
          if (p.id == property_id::message_expiry_interval) b.add<property_id::message_expiry_interval>(left);
          else (void)b.add(p);
        });
        e.message.set_props(b.build());
      }
    }
    if (e.message.qos > conn_->peer().maximum_qos) {
      unstore(e);
      ev_.publish_done(e.tag, ec_of(make_error_code(reason::qos_not_supported)), reason::qos_not_supported);
      continue;
    }
    if (e.message.retain && !conn_->peer().retain_available) {
      unstore(e);
      ev_.publish_done(e.tag, ec_of(make_error_code(reason::retain_not_supported)), reason::retain_not_supported);
      continue;
    }
    const auto q = e.message.qos;
    const bool stored = store_ && q != qos::at_most_once;
    submitting_ = true;
    submit_dropped_ = false;
    // Stored: the session's journal moves the record from queued to in flight.
    const auto r = conn_->publish(std::move(e.message), t, 0, stored ? e.tag : 0, stored);
    submitting_ = false;
    if (submit_dropped_ || r == session::enqueue_result::dropped || r == session::enqueue_result::refused) {
      if (stored) store_->unqueued(e.tag);
      ev_.publish_done(e.tag, ec_of(make_error_code(reason::packet_too_large)), reason::packet_too_large);
      continue;
    }
    if (q == qos::at_most_once) {
      qos0_unwritten_.push_back(e.tag);
    } else if (!st_.outgoing_order().empty() && st_.queue().empty()) {
      inflight_[st_.outgoing_order().back()] = e.tag;  // the id it was just given
    } else {
      // Cannot happen: the window had room, so the session sent it at once.
      log_.error("publish to '{}' was queued by the session; its completion is lost", front.topic());
    }
  }
}

// ---------------------------------------------------------------- session::handler

void client_session::on_connack(const connack_packet& a) {
  if (is_failure(a.reason_code)) {
    const auto ec = copts_.version == protocol_version::v5 ? make_error_code(a.reason_code)
                                                           : make_error_code(to_connect_return_code(a.reason_code));
    closed_ec_ = ec_of(ec);
    log_.warn("{} refused the CONNECT: {}", uri_.to_string(), ec.message());
    ev_.connect_done(ec_of(ec), a);
    return;
  }
  phase_ = phase::connected;
  ++connects_;
  const bool first = !ever_connected_;
  ever_connected_ = true;
  backoff_.reset();
  if (auto id = a.props.get<property_id::assigned_client_identifier>()) copts_.client_id = std::string(*id);
  if ((!first && !a.session_present) || resubscribe_unacked_) need_resubscribe_ = !subscriptions_.empty();
  log_.info("connected to {} (session present: {})", uri_.to_string(), a.session_present);
  ev_.connect_done(error_code{}, a);
  ev_.connected(a);
}

void client_session::on_publish(publish_packet&& m) {
  if (store_ && m.qos != qos::at_most_once) {
    // Stored now; handed over once the turn's commit made it durable
    // (persist()), and the PUBACK/PUBREC the connection wrote leaves after
    // that commit too.
    const auto n = store_->received(m, now_);
    awaiting_commit_.push_back({std::move(m), n, false});
    return;
  }
  route(std::move(m), delivery{});
}

// A message for the application; with a number, it is outstanding until delivered().
void client_session::route(publish_packet m, delivery d) {
  if (d.number) outstanding_.insert(d.number);
  ev_.message(std::move(m), d);
}

void client_session::on_delivered(const publish_packet& m, reason code) {
  auto it = inflight_.find(m.packet_id);
  if (it == inflight_.end()) return;
  const auto tag = it->second;
  inflight_.erase(it);
  ev_.publish_done(tag, is_failure(code) ? ec_of(make_error_code(code)) : error_code{}, code);
}

void client_session::on_dropped(const publish_packet& m, reason why) {
  if (submitting_) {
    submit_dropped_ = true;
    return;
  }
  if (m.qos == qos::at_most_once) return;
  auto it = inflight_.find(m.packet_id);
  if (it == inflight_.end()) return;
  const auto tag = it->second;
  inflight_.erase(it);
  const auto ec = why == reason::success ? ec_of(client_error::message_expired) : ec_of(make_error_code(why));
  ev_.publish_done(tag, ec, why == reason::success ? reason::unspecified_error : why);
}

// The request a SUBACK/UNSUBACK answers, taken out of those sent (its packet id free again).
std::optional<client_session::request> client_session::answered(std::uint16_t packet_id) {
  auto it = requests_sent_.find(packet_id);
  if (it == requests_sent_.end()) return std::nullopt;
  auto r = std::move(it->second);
  requests_sent_.erase(it);
  st_.release_packet_id(packet_id);
  return r;
}

void client_session::on_suback(suback_packet&& a) {
  auto r = answered(a.packet_id);
  if (!r) return;
  auto* req = std::get_if<subscribe_packet>(&r->packet);
  if (!req) {
    if (!r->own) ev_.request_done(r->id, ec_of(make_error_code(reason::protocol_error)), std::move(a.reason_codes));
    return;
  }
  for (std::size_t i = 0; i < req->entries.size(); ++i) {
    const auto code = i < a.reason_codes.size() ? a.reason_codes[i] : reason::unspecified_error;
    const auto& s = req->entries[i];
    auto held = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                             [&](const registered& h) { return h.sub.filter == s.filter; });
    if (!is_failure(code)) {
      if (held != subscriptions_.end()) *held = {s, req->props};
      else subscriptions_.push_back({s, req->props});
    } else if (r->own) {
      log_.warn("restoring the subscription to '{}' failed: {}", s.filter, name(code));
      if (held != subscriptions_.end()) subscriptions_.erase(held);
    }
  }
  if (!r->own) ev_.request_done(r->id, error_code{}, std::move(a.reason_codes));
}

void client_session::on_unsuback(unsuback_packet&& a) {
  auto r = answered(a.packet_id);
  if (!r) return;
  auto* req = std::get_if<unsubscribe_packet>(&r->packet);
  if (!req) {
    if (!r->own) ev_.request_done(r->id, ec_of(make_error_code(reason::protocol_error)), std::move(a.reason_codes));
    return;
  }
  auto codes = std::move(a.reason_codes);
  if (codes.empty()) codes.assign(req->filters.size(), reason::success);  // 3.x: no codes
  for (std::size_t i = 0; i < req->filters.size(); ++i) {
    if (i < codes.size() && is_failure(codes[i])) continue;
    std::erase_if(subscriptions_, [&](const registered& h) { return h.sub.filter == req->filters[i]; });
  }
  if (!r->own) ev_.request_done(r->id, error_code{}, std::move(codes));
}

void client_session::on_disconnect(const disconnect_packet& d) {
  log_.info("{} sent DISCONNECT: {}", uri_.to_string(), name(d.reason_code));
  if (!closed_ec_) closed_ec_ = ec_of(make_error_code(d.reason_code));
}

void client_session::on_closed(const error& why) {
  if (!closed_ec_) closed_ec_ = ec_of(why.code);
  if (why.code && !stopping_) log_.info("connection to {} closing: {}", uri_.to_string(), why.message());
}

}  // namespace tern::client_detail
