// tern/client/options.hpp: what a client is configured with: the CONNECT it
// sends (connect_options, per async_connect), and how it behaves
// (client_options, per client): reconnect backoff, the offline queue, the
// queue of received messages, the session's limits, TLS, logging, and the
// store that keeps the session across restarts of the process (persistence).
//
//   tern::client_options o;
//   o.reconnect = {.min_delay = 200ms, .max_delay = 10s};
//   o.offline_queue = {.max_messages = 500, .on_full = tern::offline_queue_options::overflow::drop_oldest};
//   tern::AsyncClient c(io.get_executor(), o);
//   c.async_connect("mqtt://127.0.0.1:1883", {.client_id = "sensor-7", .keep_alive = 30}, token);
//
//   // TLS (mqtts://): the server is verified against ca_file, by default
//   // against the system's CAs, and its certificate must name the URI's host.
//   o.tls = {.ca_file = "/etc/tern/ca.pem", .cert_file = "me.crt", .key_file = "me.key"};
//   c.async_connect("mqtts://broker.example", {}, token);   // port 8883
//
//   // The session on disk: in-flight and queued messages survive a restart.
//   o.persistence = {.dir = "/var/lib/sensor-7/mqtt"};
//   c.async_connect(uri, {.client_id = "sensor-7", .clean_start = false, .session_expiry = 86400}, token);
//
// No Asio here: the threaded facade and the command-line tools share it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tern/codec/packet.hpp"
#include "tern/log/log.hpp"
#include "tern/net/tls_options.hpp"
#include "tern/session/connection.hpp"
#include "tern/storage/rocksdb_store.hpp"

namespace tern {

// The CONNECT a client sends (again on every reconnect).
// Extra HTTP headers of a WebSocket upgrade: {name, value}.
using ws_header_list = std::vector<std::pair<std::string, std::string>>;

struct connect_options {
  protocol_version version = protocol_version::v5;  // v3_1_1 or v5 (v3_1 works too)
  // Empty: 5.0 lets the server assign one (the client keeps it for its
  // reconnects); 3.1.1 requires clean_start then.
  std::string client_id{};
  // The first connection's Clean Start / Clean Session. Reconnects: 5.0 sends
  // Clean Start 0 so that a session the server kept (session_expiry > 0)
  // resumes; 3.x sends this flag again (Clean Session 0 asks the server to
  // keep the session forever, which a reconnect must not start doing).
  bool clean_start = true;
  std::uint16_t keep_alive = 60;  // seconds; 0: no keep alive
  std::optional<std::string> username{};
  std::optional<std::string> password{};  // never logged
  std::optional<will_message> will{};
  // 5.0 Session Expiry Interval, seconds (absent: 0, the session ends with the
  // connection; 0xFFFFFFFF: never).
  std::optional<std::uint32_t> session_expiry{};
  // More CONNECT properties (5.0): user properties, authentication method,
  // Receive Maximum, Maximum Packet Size, Topic Alias Maximum (these three
  // override client_options::session's values), Request Problem Information...
  properties props{};
};

// Automatic reconnection after a connection that had been accepted is lost.
// Delays grow from min_delay, doubling per failed attempt, up to max_delay;
// each is shortened by a random part of up to `jitter` of itself, so clients
// that lost the same broker do not all come back at the same instant.
struct reconnect_options {
  bool enabled = true;
  std::chrono::milliseconds min_delay{500};
  std::chrono::milliseconds max_delay{30'000};
  double jitter = 0.5;     // 0: none; 0.5: each delay is drawn from [d/2, d]
  std::uint64_t seed = 0;  // of the jitter's random generator; 0: std::random_device
};

// Publishes the client holds until it can send them: while disconnected
// (made before the first CONNACK or between connections) and while the
// broker's Receive Maximum window is full. Both bounds apply at once.
struct offline_queue_options {
  enum class overflow : std::uint8_t {
    refuse,       // a new publish that does not fit completes with client_error::queue_full
    drop_oldest,  // the oldest queued publishes complete with client_error::dropped to make room
  };
  std::size_t max_messages = 1000;
  std::size_t max_bytes = 16 * 1024 * 1024;  // topic + payload + properties bytes
  overflow on_full = overflow::refuse;
};

// Keeping the client's side of the MQTT session in a store (RocksDB in
// `dir`), so that it survives a restart of the process: QoS 1/2 messages in
// flight both ways, the offline queue, and the received messages not yet
// handed to the application. What is guaranteed, and in what order things
// are written, is in docs/client.md ("Persistence").
struct persistence_options {
  // The store's directory, created if missing. Empty: nothing is stored
  // (the default). Records are keyed by the client id, which must then be
  // set (not assigned by the server). One process at a time may open a
  // directory: a second AsyncClient on it fails async_connect with
  // storage::errc::locked. A damaged store is moved aside (logged) and a
  // new one started. While it is open, RocksDB runs background threads of
  // its own (flushes, compactions).
  std::filesystem::path dir{};
  // fsync (the default): a record is synced to disk before the packet it
  // covers leaves (one sync per loop turn, whatever the number of messages):
  // it survives a kill of the process and a power cut. batch: written, not
  // synced: it survives a kill of the process, not of the machine. none:
  // not even written until RocksDB flushes: a kill loses recent changes.
  storage::durability durability = storage::durability::fsync;
  // Exactly once to the application across a crash needs its help: the
  // highest delivery number (AsyncClient::on_delivery) whose processing the
  // application has made durable itself. Called when async_connect() loads
  // the store; stored messages up to it are not handed over again. Empty: a
  // message handed over just before a crash, whose handing over the client
  // had not recorded yet, is handed over again (delivery::redelivered).
  std::function<std::uint64_t()> processed{};
};

struct client_options {
  reconnect_options reconnect{};
  offline_queue_options offline_queue{};
  // Received messages that no on_message() handler takes wait for
  // async_receive() in a queue of this many; when it is full the client
  // stops reading from the broker until the application takes one (TCP
  // holds the broker back; nothing is dropped). 0: no queue, such messages
  // are dropped (counted in AsyncClient::received_dropped()).
  std::size_t receive_queue = 1000;
  // What this side announces and enforces (Receive Maximum, Maximum Packet
  // Size, Topic Alias Maximum), the CONNACK timeout (connect_timeout) and the
  // PINGRESP timeout. auto_acknowledge is always on for the client.
  session::options session{};
  // Outbound QoS 1/2 publishes in flight at once, at most (paho's
  // max_inflight_messages); the rest wait in the offline queue. 0: as many
  // as the broker's Receive Maximum allows.
  std::uint16_t max_inflight = 0;
  // How long async_disconnect() waits for the DISCONNECT to be written.
  std::chrono::milliseconds close_timeout{2'000};
  // For mqtts:// and wss:// URIs (TLS 1.2 or newer).
  tls_options tls{};
  // ws:// and wss://: extra headers of the HTTP upgrade request (amqtt's
  // additional_headers), as {name, value}: {{"Authorization", "Bearer x"}}.
  ws_header_list ws_headers{};
  // Channel "client" is a good choice; a default logger logs nothing.
  log::logger log{};
  // The session on disk (off by default).
  persistence_options persistence{};
};

}  // namespace tern
