// tern/server/config.hpp: the broker's configuration (what ternd reads from
// its TOML file, and what an embedding program fills in itself), and the TOML
// loader that refuses every mistake by file, line and key.
//
//   auto cfg = tern::server::load_config("ternd.toml");
//   if (!cfg) {                      // e.g. "ternd.toml:7: limits.max_keep_alive:
//     std::cerr << cfg.error().message;   //  expected an integer between 0 and 65535, got \"ten\""
//     return 2;
//   }
//   tern::server::config defaults;   // 127.0.0.1:1883, RocksDB in ./ternd-data, fsync
//
// The file's layout (etc/ternd.toml shows every key with its default):
//   top level   io_threads, log_level, sys_interval
//   [[listeners]]  address, port, protocol, cert_file, key_file, ca_file, require_certificate,
//               use_identity_as_username, handshake_timeout, allow_anonymous, max_connections
//               (one table per listener)
//   [limits]    max_connections, maximum_packet_size, receive_maximum, topic_alias_maximum,
//               max_queued_messages, max_queued_bytes, max_stored_messages, queue_full, max_inflight, maximum_qos,
//               retain_available,
//               max_keep_alive, max_session_expiry_interval, allow_zero_length_client_id,
//               denied_subscriptions, max_topic_levels, max_publish_rate
//   [storage]   backend, data_dir, durability, on_corruption
//   [auth]      allow_anonymous, password_file, acl_file
// Relative paths are relative to the working directory; an empty path means "none".
//
// Config is an application edge: unlike the sans-I/O layers it reports
// failures as a formatted message (config_error), not as a tern::error whose
// detail is a literal. Nothing here logs; nothing here holds a password.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>


#include "tern/conf/error.hpp"
#include "tern/log/log.hpp"

namespace tern::server {

// What a listener speaks. mqtt (plain TCP) and mqtts (TLS) are served; ws and
// wss are accepted so that configurations can be written ahead of them.
enum class listener_protocol : std::uint8_t { mqtt, mqtts, ws, wss };
// Where the broker keeps sessions, queued messages and retained messages.
enum class storage_backend : std::uint8_t { rocksdb, memory };
// When a QoS 1/2 PUBLISH is acknowledged relative to its record reaching disk:
// fsync: after an fsync that covers it (group commit); batch: after it is
// written, fsynced periodically; none: written, never fsynced by the broker.
enum class durability_mode : std::uint8_t { fsync, batch, none };
// What a clean session's QoS 1/2 message does when its client reads more
// slowly than messages arrive (max_queued_messages/max_queued_bytes reached):
// store: it waits in the store (up to max_stored_messages); hold_acks: it
// waits in memory and its publisher's PUBACK/PUBREC waits until the
// subscriber has room, slowing the publisher to the subscriber's pace.
enum class queue_full_mode : std::uint8_t { store, hold_acks };
// What the broker does when it finds its store damaged at start-up.
enum class corruption_policy : std::uint8_t { move_aside, refuse };

// The names used in the file: "mqtt", "rocksdb", "fsync", "move_aside"...
std::string_view to_string(listener_protocol p) noexcept;
std::string_view to_string(storage_backend b) noexcept;
std::string_view to_string(durability_mode d) noexcept;
std::string_view to_string(queue_full_mode q) noexcept;
std::string_view to_string(corruption_policy c) noexcept;

// True for mqtts and wss.
constexpr bool uses_tls(listener_protocol p) noexcept {
  return p == listener_protocol::mqtts || p == listener_protocol::wss;
}

struct listener_config {
  std::string address = "127.0.0.1";  // an IP address or a host name; "0.0.0.0" or "::" for all
  std::uint16_t port = 1883;          // 0: any free port. In a file: 1883 for mqtt, 8883 for mqtts,
                                      // required for ws and wss
  listener_protocol protocol = listener_protocol::mqtt;
  // TLS, for mqtts and wss only (required: cert_file and key_file). Re-read
  // by tern::Broker::reload() (ternd: SIGHUP) for the connections after.
  std::filesystem::path cert_file;  // PEM certificate chain
  std::filesystem::path key_file;   // PEM private key (unencrypted)
  std::filesystem::path ca_file;    // when set, clients are asked for a certificate it signed
  // With ca_file: a client without a certificate fails the handshake.
  bool require_certificate = true;
  // With ca_file: the client certificate's CN is the user name (mosquitto's
  // use_identity_as_username); the CONNECT's user name and password are dropped.
  bool use_identity_as_username = false;
  // Seconds a TLS (or WebSocket) handshake may take before the connection closes.
  std::uint32_t handshake_timeout = 10;
  // Clients without a user name. Unset: [auth] allow_anonymous on a loopback
  // address (127.0.0.0/8, ::1, localhost), refused on any other: a listener
  // other machines reach takes anonymous clients only when told so here.
  std::optional<bool> allow_anonymous = std::nullopt;
  // Connections of this listener at once; 0: no limit of its own (the
  // broker's limits.max_connections still holds). Past it, closed at once.
  std::uint32_t max_connections = 0;
  // ws and wss: the HTTP path clients must ask for ("/mqtt"); empty: any path.
  std::string path = {};

  friend bool operator==(const listener_config&, const listener_config&) = default;
};

struct limits_config {
  std::uint32_t max_connections = 0;              // 0: no limit but the process's file descriptors
  std::uint32_t maximum_packet_size = 1'048'576;  // bytes, 1..268435460; announced in CONNACK
  std::uint16_t receive_maximum = 1024;           // QoS 1/2 PUBLISHes a client may have unacknowledged
  std::uint16_t topic_alias_maximum = 64;         // 0: topic aliases refused
  std::uint32_t max_queued_messages = 1000;       // per session, waiting for a connection or room
  std::uint64_t max_queued_bytes = 16'777'216;    // per session, payload bytes
  std::uint64_t max_stored_messages = 1'000'000;  // per session, in the store beyond the above
  queue_full_mode queue_full = queue_full_mode::store;  // a clean session's QoS 1/2 past the memory queue
  std::uint16_t max_inflight = 1000;              // per session, QoS 1/2 sent and unacknowledged
  std::uint8_t maximum_qos = 2;                   // 0..2
  bool retain_available = true;
  std::uint16_t max_keep_alive = 0;                    // seconds; 0: none. Enforced, announced as
                                                       // Server Keep Alive when a client asks more
  std::uint32_t max_session_expiry_interval = 0xFFFF'FFFF;  // seconds; 4294967295: no cap
  bool allow_zero_length_client_id = true;             // the broker then assigns one
  std::vector<std::string> denied_subscriptions;       // valid topic filters no client may subscribe to
  std::uint32_t max_topic_levels = 200;                // levels of a topic name or filter, 1..65535
  std::uint32_t max_publish_rate = 0;                  // PUBLISHes per second per client; 0: no limit.
                                                       // Past it: DISCONNECT 0x96 (5.0), closed (3.1.1)

  friend bool operator==(const limits_config&, const limits_config&) = default;
};

struct storage_config {
  storage_backend backend = storage_backend::rocksdb;
  std::filesystem::path data_dir = "./ternd-data";  // rocksdb only
  durability_mode durability = durability_mode::fsync;
  corruption_policy on_corruption = corruption_policy::move_aside;

  friend bool operator==(const storage_config&, const storage_config&) = default;
};

// One password file and one ACL for the whole broker (mosquitto's default,
// per_listener_settings false); whether anonymous clients are let in is per
// listener (listener_config::allow_anonymous), this one its default on
// loopback addresses.
struct auth_config {
  bool allow_anonymous = true;           // clients without a user name, on loopback listeners
  std::filesystem::path password_file;   // mosquitto's format ($7$, $6$, $argon2id$); "": none
  std::filesystem::path acl_file;        // mosquitto's ACL syntax; "": everything allowed

  friend bool operator==(const auth_config&, const auth_config&) = default;
};

// True for an address only this machine reaches: 127.0.0.0/8, ::1, localhost.
[[nodiscard]] bool is_loopback(std::string_view address) noexcept;
struct config;
// Whether listener `l` of `c` lets clients in without a user name.
[[nodiscard]] bool allows_anonymous(const config& c, const listener_config& l) noexcept;

// Everything the broker is told. A default-constructed config is the
// default configuration. Thread safety: a plain value.
struct config {
  std::vector<listener_config> listeners{listener_config{}};  // may be empty when embedding
  std::uint32_t io_threads = 0;                    // 0: one per core
  log::level log_level = log::level::info;
  std::uint32_t sys_interval = 10;                 // seconds between $SYS updates; 0: no $SYS
  limits_config limits;
  storage_config storage;
  auth_config auth;

  friend bool operator==(const config&, const config&) = default;
};

// A refused configuration (tern/conf/error.hpp): one line per problem, in
// the order of the file, each "<file>:<line>: <key>: <what is wrong>", or for
// TOML syntax errors "<file>:<line>:<column>: <toml++'s description>". No
// trailing newline. config_result<T>::value() throws std::runtime_error.
using conf::config_error;
using conf::config_result;

// Parses `text`, a TOML document; `name` (usually the file's path) starts each
// refusal. Keys left out keep their defaults; unknown keys and sections are
// refused, with "did you mean" when a known one is close.
[[nodiscard]] config_result<config> parse_config(std::string_view text, std::string_view name);

// Reads and parses the file at `path` (named in refusals as written), and
// checks that the files a listener names (cert_file, key_file, ca_file) can
// be read now: "ternd.toml:30: listeners[1].key_file: cannot read
// \"/etc/ternd/server.key\": Permission denied". (What they hold is checked
// when the broker starts, naming the listener and the file.)
[[nodiscard]] config_result<config> load_config(const std::filesystem::path& path);

// `config` as a TOML document that parse_config() reads back to an equal
// value: every key, in the order of etc/ternd.toml. Holds no secret.
[[nodiscard]] std::string to_toml(const config& config);

}  // namespace tern::server
