#include "tern/session/connection.hpp"

#include <algorithm>
#include <array>
#include <system_error>

namespace tern::session {
namespace {

constexpr std::uint32_t protocol_maximum_packet_size = 268'435'460;

bool valid_in_connack(reason r) noexcept {
  switch (static_cast<std::uint8_t>(r)) {
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87: case 0x88:
    case 0x89: case 0x8A: case 0x8C: case 0x90: case 0x95: case 0x97: case 0x99: case 0x9A: case 0x9B:
    case 0x9C: case 0x9D: case 0x9F: return true;
    default: return false;
  }
}

bool valid_in_disconnect(reason r) noexcept {
  switch (static_cast<std::uint8_t>(r)) {
    case 0x00: case 0x04: case 0x80: case 0x81: case 0x82: case 0x83: case 0x87: case 0x89: case 0x8B:
    case 0x8D: case 0x8E: case 0x8F: case 0x90: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9A: case 0x9B: case 0x9C: case 0x9D: case 0x9E: case 0x9F: case 0xA0:
    case 0xA1: case 0xA2: return true;
    default: return false;
  }
}

// The reason code of an error, if it is an MQTT 5 one.
reason reason_of(const error& e) noexcept {
  if (e.code.category() == reason_category()) return static_cast<reason>(e.code.value());
  if (e.code.category() == connect_return_code_category())
    return to_reason(static_cast<connect_return_code>(e.code.value()));
  return reason::unspecified_error;
}

// What a packet loses, in this order, rather than be larger than the
// peer's Maximum Packet Size (MQTT-3.1.2-24, MQTT-3.2.2-15): the Reason
// String and User Properties, as the spec says for every packet that may
// carry them (MQTT-3.2.2-19/-20, MQTT-3.4.2-2/-3, MQTT-3.5.2-2/-3,
// MQTT-3.6.2-2/-3, MQTT-3.7.2-2/-3, MQTT-3.9.2-1/-2, MQTT-3.11.2-1/-2,
// MQTT-3.14.2-3/-4, MQTT-3.15.2-2/-3).
constexpr std::array optional_properties{property_id::reason_string, property_id::user_property};

// What a CONNACK may lose besides: what the client can do without, its
// absence telling it nothing false. Response Information and Server
// Reference are the server's to give or not; an absent Topic Alias Maximum
// is 0, and the client then sends no alias (MQTT-3.2.2-17). Everything else
// stays: what the spec requires (Assigned Client Identifier MQTT-3.2.2-16,
// Maximum QoS MQTT-3.2.2-9, Authentication Method MQTT-4.12.0-5), and the
// limits this side enforces or the values it uses (Receive Maximum, Maximum
// Packet Size, Retain Available, Server Keep Alive, Session Expiry Interval,
// the *Available flags), whose absence means another value (65,535, no
// limit, the client's own...) that the client would act on.
constexpr std::array optional_in_connack{property_id::reason_string, property_id::user_property,
                                         property_id::response_information, property_id::server_reference,
                                         property_id::topic_alias_maximum};

// The packets that may carry a Reason String.
bool has_reason_string(packet_type t) noexcept {
  switch (t) {
    case packet_type::connack: case packet_type::puback: case packet_type::pubrec: case packet_type::pubrel:
    case packet_type::pubcomp: case packet_type::suback: case packet_type::unsuback: case packet_type::disconnect:
    case packet_type::auth: return true;
    default: return false;
  }
}

// The Protocol Name and Level of a CONNECT from its first bytes, when they
// are all there.
struct connect_head {
  std::string_view name;
  std::uint8_t level = 0;
};
std::optional<connect_head> peek_connect(bytes_view b) noexcept {
  if (b.size() < 2 || static_cast<std::uint8_t>(b[0]) != 0x10) return std::nullopt;
  std::size_t i = 1;
  while (i < b.size() && i < 5 && (static_cast<std::uint8_t>(b[i]) & 0x80u)) ++i;
  ++i;  // the last byte of the remaining length
  if (i + 2 > b.size()) return std::nullopt;
  const std::size_t len = (static_cast<std::size_t>(b[i]) << 8) | static_cast<std::size_t>(b[i + 1]);
  i += 2;
  if (i + len + 1 > b.size()) return std::nullopt;
  return connect_head{as_chars(b.subspan(i, len)), static_cast<std::uint8_t>(b[i + len])};
}

std::chrono::milliseconds seconds_ms(std::uint32_t s) { return std::chrono::milliseconds(std::int64_t{s} * 1000); }

// What connection(role, handler&, options) refers to when it is given the
// defaults: no copy needed.
constexpr options default_options{};

constexpr std::string_view second_connect = "MQTT-3.1.0-2: a second CONNECT";
constexpr std::string_view wrong_direction = "MQTT 5.0 2.1.2: a packet this side never receives";

}  // namespace

// The budget of an idle connection (x86-64), which a broker holds per
// client: 8 handler + 8 options + 16 decoder + 8 output + 8 state + 8 + 8
// time points + 8 extras + 8 flows + 12 peer limits + role, version and
// flags in 3 bytes = 96. Anything else goes into extras_ or flows_.
static_assert(sizeof(void*) != 8 || sizeof(connection) <= 96, "see the budget above");

connection::connection(role r, handler& h, options o)
    : handler_(&h), options_(&default_options), extras_(std::make_unique<extras>()), role_(r) {
  if (o != default_options) replace_options(o);
}

connection::connection(role r, handler& h, options o, time_point now) : connection(r, h, std::move(o)) {
  extras_->opened = now;
  now_ = now;
}

connection::connection(role r, handler& h, const options& o, time_point now, shared_options_t)
    : handler_(&h), options_(&o), extras_(std::make_unique<extras>()), role_(r) {
  extras_->opened = now;
  now_ = now;
}

connection::~connection() {
  if (owns_options_) delete options_;
}

void connection::replace_options(const options& o) {
  const auto* copy = new options(o);
  if (owns_options_) delete options_;
  options_ = copy;
  owns_options_ = true;
}

// ---------------------------------------------------------------- inputs

void connection::receive(bytes_view in, time_point now) {
  now_ = now;
  if (closing_) return;
  if (extras_) {
    auto& x = *extras_;
    if (!x.opened) x.opened = now;
    if (role_ == role::server && version_ == protocol_version::unknown && x.first_size < x.first_bytes.size()) {
      const auto n = std::min(x.first_bytes.size() - x.first_size, in.size());
      std::copy_n(in.begin(), n, x.first_bytes.begin() + static_cast<std::ptrdiff_t>(x.first_size));
      x.first_size += n;
    }
  }
  packet p;
  while (!in.empty() && !closing_) {
    const auto before = in.size();
    // version_ is unknown until the CONNECT (server) or connect() (client).
    auto r = decoder_.next(in, p, version_, options_->maximum_packet_size);
    if (!r) return on_decode_error(r.error());
    if (!*r) break;
    last_received_ = now;
    if (awaiting_accept_ && !std::holds_alternative<auth_packet>(p)) {
      auto& x = *extras_;  // awaiting_accept_: not freed yet
      x.held_bytes += before - in.size();
      if (x.held_bytes > options_->maximum_packet_size)
        return fail({reason::quota_exceeded, "too many bytes received while the CONNECT awaits its answer"});
      x.held.push_back(std::move(p));
      continue;
    }
    dispatch(p);
  }
}

void connection::on_timeout(time_point now) {
  now_ = now;
  auto t = next_timeout();
  if (!t || now < *t) return;
  if (role_ == role::server) {
    if (version_ == protocol_version::unknown)
      return close({std::make_error_code(std::errc::timed_out), "no CONNECT within options::connect_timeout"});
    if (connected_ && v5()) write(disconnect_packet{reason::keep_alive_timeout, {}, {}});
    return close({reason::keep_alive_timeout, "MQTT-3.1.2-22 (5.0: 3.1.2.10): no packet within 1.5 x Keep Alive"});
  }
  if (!connected_)
    return close({std::make_error_code(std::errc::timed_out), "no CONNACK within options::connect_timeout"});
  if (extras_->ping_sent) return close({reason::keep_alive_timeout, "MQTT 5.0 3.1.2.10: no PINGRESP in time"});
  write(pingreq_packet{});
  extras_->ping_sent = now;
}

void connection::transport_closed(const error& why) { close(why); }

std::optional<time_point> connection::next_timeout() const {
  if (closing_) return std::nullopt;
  const auto keep_alive = seconds_ms(peer_.keep_alive);
  const auto connect_deadline = [&]() -> std::optional<time_point> {
    if (!extras_ || !extras_->opened || options_->connect_timeout.count() <= 0) return std::nullopt;
    return *extras_->opened + options_->connect_timeout;
  };
  if (role_ == role::server) {
    if (version_ == protocol_version::unknown) return connect_deadline();
    if (peer_.keep_alive == 0) return std::nullopt;
    return last_received_ + keep_alive + keep_alive / 2;
  }
  if (version_ == protocol_version::unknown) return std::nullopt;  // connect() not called yet
  if (!connected_) return connect_deadline();
  if (peer_.keep_alive == 0) return std::nullopt;
  const auto& x = *extras_;  // a client keeps it
  if (x.ping_sent) return *x.ping_sent + (options_->ping_timeout.count() > 0 ? options_->ping_timeout : keep_alive);
  return x.last_sent + keep_alive;
}

void connection::on_decode_error(error e) {
  if (role_ == role::server && version_ == protocol_version::unknown) {
    // The CONNECT itself failed: the version comes from its first bytes.
    auto head = peek_connect({extras_->first_bytes.data(), extras_->first_size});
    if (head && (head->name == "MQTT" || head->name == "MQIsdp")) {
      if (e.code == reason::unsupported_protocol_version) {
        // A level this side does not speak, with a name it knows: the
        // 3.1.1 CONNACK with return code 0x01, unacceptable protocol version
        // (MQTT-3.1.2-2 in 3.1.1; 3.1 has the same bytes). Never the 5.0
        // form: a client of another level is not known to read it, and a
        // 5.0 reader takes these bytes too.
        output_.append(packet{connack_packet{false, reason::unsupported_protocol_version, {}}},
                       protocol_version::v3_1_1);
      } else if (head->name == "MQTT" && head->level == 5) {
        const auto r = reason_of(e);
        output_.append(packet{connack_packet{false, valid_in_connack(r) ? r : reason::unspecified_error, {}}},
                       protocol_version::v5);
      }
    }
    return close(e);
  }
  fail(e);
}

void connection::dispatch(packet& p) {
  const bool server = role_ == role::server;
  const auto t = type_of(p);
  // A client hears nothing but CONNACK, AUTH and DISCONNECT before CONNACK
  // (MQTT 5.0 MQTT-3.2.0-1).
  if (!server && !connected_ && t != packet_type::connack && t != packet_type::auth &&
      t != packet_type::disconnect)
    return fail({reason::protocol_error, "MQTT-3.2.0-1: a packet before CONNACK"});
  switch (t) {
    case packet_type::connect:
      if (!server) return fail({reason::protocol_error, wrong_direction});
      return on_connect_packet(std::get<connect_packet>(p));
    case packet_type::connack:
      if (server) return fail({reason::protocol_error, wrong_direction});
      return on_connack_packet(std::get<connack_packet>(p));
    case packet_type::publish: return on_publish_packet(std::get<publish_packet>(p));
    case packet_type::puback: return on_puback(std::get<puback_packet>(p));
    case packet_type::pubrec: return on_pubrec(std::get<pubrec_packet>(p));
    case packet_type::pubrel: return on_pubrel(std::get<pubrel_packet>(p));
    case packet_type::pubcomp: return on_pubcomp(std::get<pubcomp_packet>(p));
    case packet_type::subscribe:
      if (!server) return fail({reason::protocol_error, wrong_direction});
      return handler_->on_subscribe(std::move(std::get<subscribe_packet>(p)));
    case packet_type::unsubscribe:
      if (!server) return fail({reason::protocol_error, wrong_direction});
      return handler_->on_unsubscribe(std::move(std::get<unsubscribe_packet>(p)));
    case packet_type::suback:
    case packet_type::unsuback: {
      if (server) return fail({reason::protocol_error, wrong_direction});
      const auto id = t == packet_type::suback ? std::get<suback_packet>(p).packet_id
                                               : std::get<unsuback_packet>(p).packet_id;
      if (flows_ && flows_->subscribe_ids.erase(id) != 0 && state_ && !state_->find_outgoing(id))
        state_->release_packet_id(id);
      if (t == packet_type::suback) return handler_->on_suback(std::move(std::get<suback_packet>(p)));
      return handler_->on_unsuback(std::move(std::get<unsuback_packet>(p)));
    }
    case packet_type::pingreq:
      if (!server) return fail({reason::protocol_error, wrong_direction});
      return write(pingresp_packet{});
    case packet_type::pingresp:
      if (server) return fail({reason::protocol_error, wrong_direction});
      extras_->ping_sent.reset();
      return;
    case packet_type::disconnect:
      handler_->on_disconnect(std::get<disconnect_packet>(p));
      return close({reason::success, "the peer sent DISCONNECT"});
    case packet_type::auth: return on_auth_packet(std::get<auth_packet>(p));
  }
}

// MQTT 5.0 3.15: "It is a Protocol Error for the Client or Server to send an
// AUTH packet if the CONNECT packet did not contain the same Authentication
// Method": none without one in the CONNECT (MQTT-4.12.0-6/-7), and with one,
// every AUTH carries it (MQTT-4.12.0-5, MQTT-4.12.1-1).
void connection::on_auth_packet(auth_packet& a) {
  if (!enhanced_auth_)
    return fail({reason::protocol_error, "MQTT-4.12.0-6/-7: AUTH without an Authentication Method in the CONNECT"});
  const auto m = a.props.get<property_id::authentication_method>();
  if (!m || *m != flows_->auth_method)
    return fail({reason::protocol_error, "MQTT-4.12.0-5: AUTH without the CONNECT's Authentication Method"});
  // 3.15.2.1: Success is sent by the Server only, Re-authenticate by the Client only.
  if (a.reason_code == (role_ == role::server ? reason::success : reason::re_authenticate))
    return fail({reason::protocol_error, "MQTT 5.0 3.15.2.1: an AUTH reason code of the other side"});
  handler_->on_auth(std::move(a));
}

void connection::note_auth_method(const properties& connect_props) {
  const auto m = connect_props.get<property_id::authentication_method>();
  if (!m) return;
  enhanced_auth_ = true;
  flows().auth_method.assign(*m);
}

// ---------------------------------------------------------------- server role

void connection::on_connect_packet(connect_packet& c) {
  if (version_ != protocol_version::unknown) return fail({reason::protocol_error, second_connect});
  version_ = c.version;
  peer_.keep_alive = c.keep_alive;
  if (v5()) {
    if (auto v = c.props.get<property_id::receive_maximum>()) peer_.receive_maximum = static_cast<std::uint16_t>(*v);
    if (auto v = c.props.get<property_id::maximum_packet_size>()) peer_.maximum_packet_size = *v;
    if (auto v = c.props.get<property_id::topic_alias_maximum>())
      peer_.topic_alias_maximum = static_cast<std::uint16_t>(*v);
    note_auth_method(c.props);
  }
  awaiting_accept_ = true;
  // A client that cannot take even the CONNACK this side adds nothing to is
  // refused at once, before the handler makes a session for it.
  if (v5() && peer_.maximum_packet_size < protocol_maximum_packet_size && !connack_for({}))
    return refuse(reason::packet_too_large);
  handler_->on_connect(std::move(c));
}

void connection::accept(state& s, const accept_options& a, time_point now) {
  now_ = now;
  if (role_ != role::server || !awaiting_accept_ || closing_) return;
  const auto ack = connack_for(a);
  // A CONNACK the client cannot take is not sent (MQTT-3.1.2-24), and the
  // CONNECT cannot be accepted without it: refused with 0x95 Packet too
  // large, the code that names the cause (its 5 bytes not sent either when
  // they do not fit: write() drops what is too large).
  if (!ack) return refuse(reason::packet_too_large);
  awaiting_accept_ = false;
  state_ = &s;
  connected_ = true;
  if (a.server_keep_alive) {
    if (v5() || peer_.keep_alive == 0 || peer_.keep_alive > *a.server_keep_alive)
      peer_.keep_alive = *a.server_keep_alive;
  }
  peer_.receive_maximum = std::min(peer_.receive_maximum, std::max<std::uint16_t>(a.max_inflight, 1));
  write(*ack);
  if (flows_) flows_->outbound_window.clear();
  resume(true);
  pump();
  // A connected server needs nothing of extras_ any more.
  auto held = std::move(extras_->held);
  extras_.reset();
  for (auto& p : held) {
    if (closing_) break;
    dispatch(p);
  }
}

std::optional<packet> connection::connack_for(const accept_options& a) const {
  connack_packet ack;
  ack.session_present = a.session_present;
  if (!v5()) return packet{ack};
  properties::builder b;
  const auto& o = *options_;
  if (o.receive_maximum != 65'535) b.add<property_id::receive_maximum>(o.receive_maximum);
  if (o.maximum_packet_size < protocol_maximum_packet_size)
    b.add<property_id::maximum_packet_size>(o.maximum_packet_size);
  if (o.topic_alias_maximum > 0) b.add<property_id::topic_alias_maximum>(o.topic_alias_maximum);
  if (o.maximum_qos < qos::exactly_once) b.add<property_id::maximum_qos>(static_cast<std::uint32_t>(o.maximum_qos));
  if (!o.retain_available) b.add<property_id::retain_available>(0);
  if (a.server_keep_alive) b.add<property_id::server_keep_alive>(*a.server_keep_alive);
  b.append(a.props);
  if (!b.empty()) ack.props = b.build();
  // A Topic Alias Maximum left out leaves inbound aliases accepted up to the
  // option all the same: the client sends none (MQTT-3.2.2-17).
  packet p = std::move(ack);
  if (!fit_to(p, version_, peer_.maximum_packet_size, optional_in_connack)) return std::nullopt;
  return p;
}

void connection::refuse(reason code, properties props) {
  if (role_ != role::server || !awaiting_accept_ || closing_) return;
  if (!is_failure(code)) code = reason::unspecified_error;
  awaiting_accept_ = false;
  write(connack_packet{false, code, v5() ? std::move(props) : properties{}});
  close({code, "the CONNECT was refused"});
}

// ---------------------------------------------------------------- client role

void connection::connect(connect_packet c, state& s, time_point now) {
  now_ = now;
  if (role_ != role::client || version_ != protocol_version::unknown || closing_) return;
  state_ = &s;
  if (c.clean_start) s.clear();
  clean_start_ = c.clean_start;
  version_ = c.version;
  peer_.keep_alive = c.keep_alive;
  extras_->opened = now;
  if (v5()) {
    // Announce what this side enforces; a value the caller put in the
    // CONNECT wins and becomes the one enforced.
    properties::builder b;
    b.append(c.props);
    bool added = false;
    options o = *options_;
    if (auto v = c.props.get<property_id::receive_maximum>()) {
      o.receive_maximum = static_cast<std::uint16_t>(*v);
    } else if (o.receive_maximum != 65'535) {
      b.add<property_id::receive_maximum>(o.receive_maximum);
      added = true;
    }
    if (auto v = c.props.get<property_id::maximum_packet_size>()) {
      o.maximum_packet_size = *v;
    } else if (o.maximum_packet_size < protocol_maximum_packet_size) {
      b.add<property_id::maximum_packet_size>(o.maximum_packet_size);
      added = true;
    }
    if (auto v = c.props.get<property_id::topic_alias_maximum>()) {
      o.topic_alias_maximum = static_cast<std::uint16_t>(*v);
    } else if (o.topic_alias_maximum > 0) {
      b.add<property_id::topic_alias_maximum>(o.topic_alias_maximum);
      added = true;
    }
    if (added) c.props = b.build();
    if (o != *options_) replace_options(o);  // never the caller's shared options
    note_auth_method(c.props);
  }
  write(c);
}

void connection::on_connack_packet(connack_packet& a) {
  if (connected_) return fail({reason::protocol_error, "MQTT 5.0 3.2: a second CONNACK"});
  if (is_failure(a.reason_code)) {
    handler_->on_connack(a);
    return close({a.reason_code, "the server refused the CONNECT"});
  }
  if (clean_start_ && a.session_present)
    return fail({reason::protocol_error, "MQTT-3.2.2-2: Session Present with Clean Start"});
  connected_ = true;
  if (v5()) {
    const auto& p = a.props;
    if (auto v = p.get<property_id::receive_maximum>()) peer_.receive_maximum = static_cast<std::uint16_t>(*v);
    if (auto v = p.get<property_id::maximum_packet_size>()) peer_.maximum_packet_size = *v;
    if (auto v = p.get<property_id::topic_alias_maximum>()) peer_.topic_alias_maximum = static_cast<std::uint16_t>(*v);
    if (auto v = p.get<property_id::server_keep_alive>()) peer_.keep_alive = static_cast<std::uint16_t>(*v);
    if (auto v = p.get<property_id::maximum_qos>()) peer_.maximum_qos = static_cast<qos>(*v);
    if (auto v = p.get<property_id::retain_available>()) peer_.retain_available = *v != 0;
  }
  if (flows_) flows_->outbound_window.clear();
  if (!a.session_present) {
    // The server has no session: it remembers none of our QoS 2 PUBRECs.
    const auto ids = state_->incoming_qos2_ids();
    for (auto id : ids) state_->remove_incoming_qos2(id);
  }
  // In-flight and queued messages go before anything on_connack publishes.
  resume(a.session_present);
  pump();
  if (!closing_) handler_->on_connack(a);
}

// ---------------------------------------------------------------- other commands

void connection::send(packet p) {
  if (closing_) return;
  if (auto* m = std::get_if<publish_packet>(&p)) {
    (void)publish(std::move(*m), now_);
    return;
  }
  const bool may_write = role_ == role::server
                             ? connected_ || (awaiting_accept_ && std::holds_alternative<auth_packet>(p))
                             : version_ != protocol_version::unknown;
  if (!may_write) return;
  std::uint16_t* id = nullptr;
  if (auto* s = std::get_if<subscribe_packet>(&p)) id = &s->packet_id;
  if (auto* u = std::get_if<unsubscribe_packet>(&p)) id = &u->packet_id;
  if (id && *id == 0 && role_ == role::client) {
    auto got = state_->allocate_packet_id();
    if (!got) return;  // every id is in use: nothing sensible to send
    *id = *got;
    flows().subscribe_ids.insert(*got);
  }
  write(p);
}

void connection::disconnect(reason code, properties props) {
  if (closing_) return;
  const bool may_send = role_ == role::server ? connected_ && v5() : version_ != protocol_version::unknown;
  if (may_send) write(disconnect_packet{code, std::move(props), {}});
  close({code, "disconnect() was called"});
}

// ---------------------------------------------------------------- plumbing

void connection::write(const packet& p) {
  // MQTT 5.0: no packet larger than the peer's Maximum Packet Size
  // (MQTT-3.1.2-24, MQTT-3.2.2-15). One that may carry a Reason String loses
  // its optional properties first; one that still does not fit is not sent
  // (MQTT-3.1.2-25: discarded, and the rest goes on as if it had been).
  // PUBLISH has its own rule (write_publish); CONNECT, SUBSCRIBE and
  // UNSUBSCRIBE go as given.
  if (v5() && peer_.maximum_packet_size < protocol_maximum_packet_size && has_reason_string(type_of(p)) &&
      encoded_size(p, version_) > peer_.maximum_packet_size) {
    packet smaller = p;
    if (!fit_to(smaller, version_, peer_.maximum_packet_size, optional_properties)) return;
    output_.append(smaller, version_);
  } else {
    output_.append(p, version_);
  }
  if (extras_) extras_->last_sent = now_;  // a client's keep alive; a server has none
}

void connection::fail(const error& e) {
  if (closing_) return;
  if (v5()) {
    const auto r = reason_of(e);
    if (role_ == role::server && awaiting_accept_) {
      write(connack_packet{false, valid_in_connack(r) ? r : reason::unspecified_error, {}});
    } else if (connected_ || role_ == role::client) {
      write(disconnect_packet{valid_in_disconnect(r) && is_failure(r) ? r : reason::unspecified_error, {}, {}});
    }
  }
  close(e);
}

void connection::close(const error& e) {
  closing_ = true;
  awaiting_accept_ = false;
  if (role_ == role::server) {
    extras_.reset();
  } else if (extras_) {
    extras_->held.clear();
    extras_->held_bytes = 0;
    extras_->ping_sent.reset();
  }
  if (closed_) return;
  closed_ = true;
  if (state_ && flows_) {
    for (auto id : flows_->subscribe_ids)
      if (!state_->find_outgoing(id)) state_->release_packet_id(id);
  }
  if (flows_) flows_->subscribe_ids.clear();
  handler_->on_closed(e);
}

}  // namespace tern::session
