// tern/server/broker.hpp: tern::Broker, the MQTT broker as an object a program
// embeds: the engine (sessions, routing, retained messages, wills, expiry),
// listeners and io threads, configured by a tern::server::config, with
// the program's hooks and store.
//
//   struct gate : tern::engine::hooks {               // optional: accept, refuse, filter
//     tern::reason on_connect(const tern::engine::connect_request& r) override {
//       return r.username == "alice" ? tern::reason::success : tern::reason::not_authorized;
//     }
//   } hooks;
//   tern::server::config config;
//   config.listeners[0].port = 0;                     // 127.0.0.1, any free port
//   tern::Broker broker(config, hooks);
//   broker.start();                                   // throws std::system_error naming the listener
//   std::uint16_t port = broker.ports()[0];
//   ...
//   broker.stop();                                    // graceful; also done by the destructor
//
// Several brokers may live in one process: a Broker holds no global state.
//
// What the configuration means here: listeners (protocols "mqtt" and "mqtts":
// TLS on the same io threads, its certificate and key read by the
// constructor, re-read by reload(); an IPv6 wildcard is made IPv6-only when
// an IPv4 listener has the same port),
// io_threads (0: one per core), sys_interval, the limits (the outbound
// window is the smaller of max_inflight and the client's Receive Maximum),
// auth (server/auth.hpp): the password file, verified on a thread of its
// own (never on an io thread), then the hooks' on_connect; anonymous clients
// per listener (allows_anonymous: refused off loopback unless the listener
// says so); the ACL file as the engine's access policy (engine/access.hpp);
// max_connections per listener; limits.max_publish_rate. A password file or
// ACL that cannot be used makes start() fail naming the file and line. A
// listener of another protocol (ws, wss) makes start() fail (not implemented
// yet) rather than run without it, as does a certificate or key that cannot
// be used (the message names the listener and the file). Storage: the store given to the constructor, else the one
// `storage` configures: by default RocksDB in storage.data_dir
// ("./ternd-data"), opened by the constructor (a damaged store is moved
// aside, or with on_corruption = refuse makes start() fail, as does a store
// another process holds); storage.backend = memory keeps everything in
// memory (tests, throwaway brokers). start() first recovers the sessions,
// subscriptions, queued and in-flight messages and wills the store holds.
// With durability fsync a QoS 1/2 PUBLISH is acknowledged once it is on disk.
//
// Thread safety (each method says it too): construction, start(), stop() and
// destruction from one controlling thread, never from a hook (hooks run on the
// io threads); ports(), addresses(), running(), connections(), stats(), io_threads() and
// external_connected() from any thread, at any time.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "tern/engine/hooks.hpp"
#include "tern/engine/options.hpp"
#include "tern/log/log.hpp"
#include "tern/server/config.hpp"
#include "tern/storage/storage.hpp"

namespace tern {

class Broker {
 public:
  // A broker with no hooks (everything allowed) and the store `config`
  // names (by default RocksDB in ./ternd-data; storage.backend = memory
  // keeps nothing).
  // `log` gets the broker's records (channels "broker" and "net"); a default
  // logger logs nothing.
  explicit Broker(server::config config = {}, log::logger log = {});
  // With the program's hooks, which must outlive the broker.
  Broker(server::config config, engine::hooks& hooks, log::logger log = {});
  // With the program's hooks and store, which must outlive the broker.
  Broker(server::config config, engine::hooks& hooks, storage::store& store, log::logger log = {});
  // Stops the broker (as stop()) if it runs. Not on an io thread.
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Binds every listener and starts the io threads. Throws std::system_error
  // whose what() names what failed, once: the listener ("bind
  // 127.0.0.1:1883: Address already in use"), the store (std::errc::io_error),
  // or a file the configuration names that does not load: a password, ACL or
  // TLS file (std::errc::invalid_argument). Then nothing runs. A Broker
  // starts once.
  void start();
  // The same, reporting failure in `ec` (the listener in the log).
  void start(std::error_code& ec);

  // Graceful stop: stops accepting, sends every connected MQTT 5 client
  // DISCONNECT 0x8B (Server shutting down; 3.x clients are just closed),
  // lets connections write their last bytes for up to a second, closes them,
  // joins the io threads. Sessions stay in the store. Idempotent. Blocks; not
  // from an io thread (a hook): that throws std::logic_error.
  void stop();

  // Re-reads the files the configuration names: the certificates and keys
  // of the mqtts listeners (for the connections that come after; those open
  // keep what they started with), the password file (for the CONNECTs after;
  // remembered successes are forgotten) and the ACL (for every client at once;
  // remembered decisions are dropped). A file that cannot be used is logged
  // (naming the file, and the line or the listener) and the one in force
  // stays; then false. ternd calls it on SIGHUP. Any thread but an io thread.
  bool reload();

  // True between a successful start() and stop(). Any thread.
  bool running() const;
  // The ports listened on, one per bound socket, in the order of the
  // configuration's listeners (a host name may bind several). Any thread.
  std::vector<std::uint16_t> ports() const;
  // The same as text: "127.0.0.1:1883", "[::1]:1883". Any thread.
  std::vector<std::string> addresses() const;
  // Network connections open now (before and after CONNECT). Any thread.
  std::size_t connections() const;
  // The number of io threads (and engine workers). Any thread.
  std::size_t io_threads() const;
  // The engine's counters ($SYS reads the same). Any thread.
  const engine::statistics& stats() const;

  // Hands the broker a connected TCP socket the program accepted itself; the
  // broker owns it from now on and closes it when done (at once when it is not
  // running or not a TCP socket). Any thread, hooks included.
  void external_connected(int native_socket);
  // The same for a socket object that can give up its descriptor, such as
  // boost::asio::ip::tcp::socket (which must have no pending operation):
  //   broker.external_connected(std::move(socket));
  template <class Socket>
    requires requires(Socket& s) {
      { s.release() } -> std::convertible_to<int>;
    }
  void external_connected(Socket&& socket) {
    external_connected(static_cast<int>(socket.release()));
  }

  // The engine options a configuration stands for (the limits, $SYS interval).
  static engine::options engine_options(const server::config& config);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tern
