// tern/session/connection.hpp: the MQTT protocol state machine of one network
// connection, for either role, with no I/O, clock or thread inside.
//
// Inputs: bytes received, the time, commands (publish, subscribe, ...).
// Outputs: bytes to send (output()), the next deadline (next_timeout()),
// whether to close (closing()), and calls on a handler for what the
// application must decide or learn (a CONNECT arrived, a message arrived, a
// QoS flow completed...).
//
//   struct app : tern::session::handler { ... };
//   app h;
//   tern::session::state st;
//   const tern::session::options opts;  // shared by the listener's connections, outlives them
//   tern::session::connection c(tern::session::role::server, h, opts, now,
//                               tern::session::shared_options);  // connect timer from `now`
//   c.receive(bytes, now);              // may call h.on_connect(), h.on_publish()...
//   write(c.output().buffers()); c.output().clear();
//   if (auto t = c.next_timeout()) arm_timer(*t);   // then c.on_timeout(now)
//   if (c.closing()) close_socket_after_flush();
//
// What it handles itself: decoding and the codec's validation; the first
// packet being CONNECT and no second CONNECT (MQTT-3.1.0-1/-2); a CONNECT of
// a protocol level it does not speak (the 3.1.1 CONNACK, return code 0x01);
// PINGREQ -> PINGRESP; keep alive (the server closes after 1.5 x Keep Alive
// without a packet, 0x8D; the client sends PINGREQ and closes when no
// PINGRESP comes); QoS 1/2 handshakes in both directions (PUBREC -> PUBREL ->
// PUBCOMP, a QoS 2 message delivered once even when resent; the wrong
// acknowledgement for a message in flight is a protocol error, see
// connection.cpp); packet identifiers; Receive Maximum both ways (inbound
// excess: DISCONNECT 0x93; outbound: messages wait in the state's queue);
// topic aliases both ways (inbound resolution and limits, 0x94; outbound
// assignment up to the peer's Topic Alias Maximum); Maximum Packet Size both
// ways (inbound: the decoder refuses, 0x95; outbound: a message too large for
// the peer is dropped and reported, other packets lose their Reason String
// and User Properties or are not sent, a server's CONNACK loses what the
// client can do without or becomes a refusal, 0x95); AUTH only with the
// CONNECT's Authentication Method (else a protocol error, 0x82); resending
// in-flight messages with DUP on a resumed session; Message Expiry
// of queued messages (dropped when expired, the interval decremented by the
// time waited); DISCONNECT with a reason code on 5.0 before closing for a
// protocol error.
//
// What it leaves to the handler: accepting or refusing a CONNECT (server),
// routing messages, subscriptions, authentication, session expiry, wills.
//
// Memory: an accepted server connection with no packet half received and
// its output taken holds no heap memory (96 bytes in all on x86-64, the
// options shared): what the handshake, the client role, QoS 1/2 flows or a
// packet split across reads need is allocated for them.
//
// Thread safety: none. A connection object may be moved to another thread
// between calls (the broker hands a connection to the thread that owns its
// client id after CONNECT).
//
// Handlers may call the connection's commands (accept, publish, acknowledge,
// disconnect...) from inside a callback, but must not destroy it there: close
// the socket and destroy the connection after the input call returns.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/codec/codec.hpp"
#include "tern/core/fifo.hpp"
#include "tern/core/string_hash.hpp"
#include "tern/session/state.hpp"

namespace tern::session {

enum class role : std::uint8_t { client, server };

// What this side announces and enforces.
struct options {
  // Largest packet this side accepts (announced as Maximum Packet Size).
  std::uint32_t maximum_packet_size = 268'435'460;
  // Inbound QoS 1/2 messages this side accepts at once (Receive Maximum).
  std::uint16_t receive_maximum = 65'535;
  // Inbound topic aliases this side accepts (Topic Alias Maximum).
  std::uint16_t topic_alias_maximum = 0;
  // Server: announced in CONNACK and enforced on inbound PUBLISH (0x9B, 0x9A).
  tern::qos maximum_qos = qos::exactly_once;
  bool retain_available = true;
  // Server: close a connection whose CONNECT has not arrived after this long.
  // Client: close when the CONNACK has not arrived this long after connect().
  // 0: no limit.
  std::chrono::milliseconds connect_timeout{10'000};
  // Client: how long to wait for PINGRESP (0: the keep alive interval).
  std::chrono::milliseconds ping_timeout{0};
  // Send PUBACK/PUBREC as soon as the handler's on_publish returns. When
  // false, the application calls acknowledge() (a broker does, once the
  // message is durable).
  bool auto_acknowledge = true;

  friend bool operator==(const options&, const options&) = default;
};

// What the peer announced, and the limits in force after CONNECT/CONNACK.
struct peer_limits {
  std::uint32_t maximum_packet_size = 268'435'460;  // largest packet we may send
  std::uint16_t receive_maximum = 65'535;      // outbound QoS 1/2 in flight at once
  std::uint16_t topic_alias_maximum = 0;       // outbound aliases we may use
  std::uint16_t keep_alive = 0;                // seconds, in force (server: possibly the Server Keep Alive)
  tern::qos maximum_qos = qos::exactly_once;   // client: the server's Maximum QoS
  bool retain_available = true;                // client: the server's Retain Available
};

// The server's answer to a CONNECT (see connection::accept).
struct accept_options {
  bool session_present = false;
  // The Server Keep Alive to impose (5.0: sent in CONNACK and in force); for
  // 3.x clients, which cannot be told, it is enforced silently when the
  // client asked for a larger one or for none (0).
  std::optional<std::uint16_t> server_keep_alive{};
  // Extra CONNACK properties (Assigned Client Identifier, limits, ...). The
  // connection adds Receive Maximum, Maximum Packet Size, Topic Alias Maximum
  // and Server Keep Alive from its options itself.
  properties props{};
  // The most QoS 1/2 messages this side keeps in flight to the client: the
  // smaller of this and the client's Receive Maximum (a broker's per-session
  // in-flight window).
  std::uint16_t max_inflight = 65'535;
};

class handler {
 public:
  virtual ~handler() = default;

  // Server: a CONNECT arrived. Answer with connection::accept() or refuse(),
  // now or later; packets the client sends meanwhile are held.
  virtual void on_connect(connect_packet&& /*c*/) {}
  // Client: the CONNACK arrived (accepted or not).
  virtual void on_connack(const connack_packet& /*a*/) {}

  // A new application message. QoS 2 messages arrive once even when the peer
  // resends. Topic aliases are resolved: topic() is never empty. Unless
  // options::auto_acknowledge, call acknowledge(packet_id) for QoS 1/2.
  virtual void on_publish(publish_packet&& /*m*/) {}
  // An outgoing QoS 1/2 message's flow ended: PUBACK or PUBCOMP arrived
  // (`code` < 0x80), or the peer refused it in PUBACK/PUBREC (`code` >= 0x80).
  // QoS 0 messages are not reported. The packet id is free again.
  virtual void on_delivered(const publish_packet& /*m*/, reason /*code*/) {}
  // An outgoing message was not sent: expired in the queue (`why` is
  // reason::success: the message ran its course, nobody failed), or larger
  // than the peer's Maximum Packet Size (reason::packet_too_large). A QoS 1/2
  // message's packet id is free again.
  virtual void on_dropped(const publish_packet& /*m*/, reason /*why*/) {}

  virtual void on_subscribe(subscribe_packet&& /*s*/) {}
  virtual void on_suback(suback_packet&& /*a*/) {}
  virtual void on_unsubscribe(unsubscribe_packet&& /*u*/) {}
  virtual void on_unsuback(unsuback_packet&& /*a*/) {}
  virtual void on_auth(auth_packet&& /*a*/) {}
  // The peer sent DISCONNECT (5.0 carries a reason, e.g. 0x04: send the will).
  virtual void on_disconnect(const disconnect_packet& /*d*/) {}
  // The connection is over: `why` is success after a DISCONNECT, else the
  // error (protocol violation, keep alive timeout, transport closed...).
  // Called once; output() may still hold a final DISCONNECT to flush.
  virtual void on_closed(const error& /*why*/) {}
};

// Tag for the constructor that refers to the caller's options instead of
// copying them.
struct shared_options_t {
  explicit shared_options_t() = default;
};
inline constexpr shared_options_t shared_options{};

class connection {
 public:
  // A connection whose connect timer (server) starts at the first receive().
  // The options are copied (to the heap unless they are the defaults).
  connection(role r, handler& h, options o = {});
  // A connection opened at `now`: a server's connect timer starts then, so
  // a peer that never sends a byte is closed too.
  connection(role r, handler& h, options o, time_point now);
  // The same, referring to `o`, which the caller keeps alive and unchanged
  // for the connection's lifetime: one options object serves every
  // connection of a listener (a broker), and no copy is made. Prefer this one
  // for servers. (A client whose CONNECT overrides an option gets a copy.)
  //   tern::session::connection c(role::server, h, listener_options, now, tern::session::shared_options);
  connection(role r, handler& h, const options& o, time_point now, shared_options_t);
  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // ---- inputs ----
  // Bytes from the peer. Handler calls happen inside. While a CONNECT awaits
  // accept()/refuse(), later packets are decoded and held (AUTH excepted,
  // which reaches on_auth at once, for enhanced authentication).
  void receive(bytes_view in, time_point now);
  // The deadline of next_timeout() has passed.
  void on_timeout(time_point now);
  // The transport closed (read error, EOF). Calls on_closed if not yet.
  void transport_closed(const error& why);

  // ---- server role ----
  // Accepts the CONNECT: sends CONNACK (success) with this side's limits,
  // works on `s` from now on (resending its in-flight messages in order,
  // PUBLISH with DUP or PUBREL, within the client's Receive Maximum, then its
  // queue), and processes held packets. The broker clears `s` itself when
  // the session is new. The connection may close inside, on_closed called
  // before this returns: a held packet broke a rule, or (5.0) the CONNACK
  // cannot be made to fit the client's Maximum Packet Size, when the CONNECT
  // is refused with 0x95 instead.
  void accept(state& s, const accept_options& a, time_point now);
  // Refuses the CONNECT with `code` (mapped to a 3.1.1 return code for 3.x
  // clients), then closes (on_closed(code)).
  void refuse(reason code, properties props = {});

  // ---- client role ----
  // Sends CONNECT; `s` is the session state to resume (cleared when
  // c.clean_start). For 5.0 the CONNECT announces options' Receive Maximum,
  // Maximum Packet Size and Topic Alias Maximum unless c.props has them (a
  // value in c.props then replaces the option). The CONNACK arrives through
  // on_connack; on success the in-flight messages are resent (DUP when the
  // session was present; without, the server knows none of them: PUBLISH
  // goes again as new) and the queue drained; on failure the connection closes.
  void connect(connect_packet c, state& s, time_point now);

  // ---- both roles ----
  // Sends a message. QoS 0 goes out at once (if connected). QoS 1/2 get a
  // packet id and go out while the peer's Receive Maximum allows, else wait
  // in the state's queue (enqueue_result says what happened: `queued` also
  // when it was written at once; `dropped` when it was too large for the
  // peer, reported through on_dropped too). Without a state (before
  // accept()/connect()) nothing can be sent or queued: dropped/refused. A
  // retained or QoS flag the peer does not support is the caller's business.
  // `origin` is an opaque tag kept with the message in the state (a broker
  // marks messages sent through a shared subscription, to hand them to
  // another member if this session ends before they are acknowledged).
  // With a journal on the state: `seq` is the message's number (0: a new
  // one), `stored` says the journal's copy holds it queued already.
  enqueue_result publish(publish_packet m, time_point now, std::uint32_t origin = 0, std::uint64_t seq = 0,
                         bool stored = false);
  // publish() of a message the caller keeps (a broker sends one message to
  // many): a QoS 0 message without DUP or packet id is written from `m`
  // without a copy; any other is copied and published.
  enqueue_result publish_ref(const publish_packet& m, time_point now, std::uint32_t origin = 0);
  // Acknowledges an inbound QoS 1/2 message (PUBACK or PUBREC with `code`)
  // when !options::auto_acknowledge (either role; also allowed inside
  // on_publish). A QoS 2 message acknowledged with a code below 0x80 is
  // recorded in the state even when the connection has closed meanwhile, so
  // that the peer's resend is not delivered again. Unknown ids are ignored.
  void acknowledge(std::uint16_t packet_id, reason code = reason::success, properties props = {});
  // Sends SUBSCRIBE/UNSUBSCRIBE (client; a packet id is assigned when 0 and
  // released when the SUBACK/UNSUBACK arrives) or SUBACK/UNSUBACK/AUTH
  // (either; a server may send AUTH before accept()). A PUBLISH goes through
  // publish(); other packets are written as given. Nothing is written before
  // connect()/accept() or once closing.
  void send(packet p);
  // Sends DISCONNECT (5.0: with `code`; 3.x: a plain DISCONNECT from a
  // client, nothing from a server; nothing before CONNACK) and closes
  // (on_closed(code)).
  void disconnect(reason code = reason::normal_disconnection, properties props = {});

  // ---- outputs ----
  // Bytes to write, in order. The driver writes them and calls clear().
  write_buffer& output() { return output_; }
  // When on_timeout must be called next, if ever.
  std::optional<time_point> next_timeout() const;
  // True once the connection is over: flush output() and close the socket.
  bool closing() const { return closing_; }

  // ---- what is known ----
  role side() const { return role_; }
  protocol_version version() const { return version_; }
  bool connected() const { return connected_; }  // CONNECT accepted / CONNACK success
  const peer_limits& peer() const { return peer_; }
  const options& local() const { return *options_; }
  state* session() const { return state_; }

 private:
  // Helpers; see connection.cpp.
  bool v5() const { return version_ == protocol_version::v5; }
  bool window_open() const { return (flows_ ? flows_->outbound_window.size() : 0) < peer_.receive_maximum; }
  bool resend_empty() const { return !flows_ || flows_->resend.empty(); }
  void on_decode_error(error e);
  void dispatch(packet& p);
  void on_connect_packet(connect_packet& c);
  // The CONNACK accept(a) sends, within the client's Maximum Packet Size;
  // nullopt when it cannot be made to fit.
  std::optional<packet> connack_for(const accept_options& a) const;
  void on_connack_packet(connack_packet& a);
  void on_publish_packet(publish_packet& m);
  bool admit(std::uint16_t id);
  void on_auth_packet(auth_packet& a);
  void note_auth_method(const properties& connect_props);
  void on_puback(const puback_packet& a);
  void on_pubrec(const pubrec_packet& a);
  void on_pubrel(const pubrel_packet& a);
  void on_pubcomp(const pubcomp_packet& a);
  void finish_outgoing(std::uint16_t id, reason code);
  void resume(bool dup);
  void resend(std::uint16_t id);
  void pump();
  bool send_message(publish_packet m, std::uint16_t id, std::uint32_t origin = 0, std::uint64_t seq = 0,
                    bool was_queued = false);
  bool write_publish(const publish_packet& m);
  void write(const packet& p);
  void fail(const error& e);
  void close(const error& e);

  void replace_options(const options& o);

  // Memory (the budget is in connection.cpp): what only some phase or role
  // needs is allocated for it and freed after, so that an accepted server
  // connection between packets, its output taken, holds no heap memory.
  handler* handler_;
  const options* options_;  // the owner's (shared_options), or a copy when owns_options_
  decoder_core decoder_;  // the version and maximum are version_ and options_'s
  write_buffer output_;
  state* state_ = nullptr;
  time_point now_{};            // the latest time given to any input
  time_point last_received_{};  // server: keep alive counts from here
  // What a server needs only until its CONNECT is answered, and what only a
  // client needs: allocated with the connection; a server frees it in
  // accept() (or when it closes), a client keeps it.
  struct extras {
    std::vector<packet> held;  // packets received while a CONNECT awaits its answer
    std::size_t held_bytes = 0;
    std::array<std::byte, 16> first_bytes{};  // server: the start of the CONNECT, to answer an unsupported level
    std::size_t first_size = 0;
    std::optional<time_point> opened;     // the connect timer starts here
    time_point last_sent{};               // client: keep alive counts from here
    std::optional<time_point> ping_sent;  // client: a PINGREQ awaits its PINGRESP
  };
  std::unique_ptr<extras> extras_;
  // The bookkeeping of QoS 1/2 flows, topic aliases and a client's SUBSCRIBE
  // ids: allocated on first use, so that an idle connection holds a pointer.
  struct flow_tables {
    // Outbound QoS 1/2 PUBLISH sent on this connection and not yet acknowledged:
    // what counts against the peer's Receive Maximum (a flow resumed from an
    // earlier connection at PUBREL takes no room).
    boost::unordered_flat_set<std::uint16_t> outbound_window;
    fifo<std::uint16_t> resend;  // in-flight ids to resend when the quota allows
    boost::unordered_flat_map<std::uint16_t, qos> pending_ack;  // inbound QoS 1/2 delivered, PUBACK/PUBREC not sent
    boost::unordered_flat_set<std::uint16_t> inbound_window;    // inbound QoS 1/2 counted against our Receive Maximum
    boost::unordered_flat_map<std::uint16_t, shared_bytes> inbound_aliases;
    std::unordered_map<std::string, std::uint16_t, tern::string_hash, std::equal_to<>> outbound_aliases;
    std::set<std::uint16_t> subscribe_ids;  // client: ids this connection allocated for SUBSCRIBE/UNSUBSCRIBE
    std::string auth_method;                 // the CONNECT's Authentication Method (enhanced_auth_)
  };
  flow_tables& flows() {
    if (!flows_) flows_ = std::make_unique<flow_tables>();
    return *flows_;
  }
  std::unique_ptr<flow_tables> flows_;
  peer_limits peer_;
  role role_;
  protocol_version version_ = protocol_version::unknown;
  bool connected_ : 1 = false;
  bool closing_ : 1 = false;
  bool closed_ : 1 = false;  // on_closed was called
  bool awaiting_accept_ : 1 = false;
  bool clean_start_ : 1 = false;  // client: the CONNECT's Clean Start
  bool resend_dup_ : 1 = true;    // DUP on the in-flight messages still to resend
  bool owns_options_ : 1 = false;  // options_ was allocated by this connection
  bool enhanced_auth_ : 1 = false;  // the CONNECT had an Authentication Method (flows_->auth_method)
};

}  // namespace tern::session
