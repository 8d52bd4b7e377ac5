// tern/net/runtime.hpp: runs an engine::engine over TCP: io threads (one
// reactor and one engine worker each), listeners, and the driver of every
// connection (reads into the engine, gathered writes out of it, its
// deadlines, moving a connection to the thread that owns its client id after
// CONNECT, batches between threads, the workers' periodic tick).
//
//   tern::engine::engine eng(opts, hooks, *store, /*workers=*/2, std::chrono::steady_clock::now());
//   tern::net::runtime rt(eng, {.listeners = {{"127.0.0.1", 0}}});
//   if (auto ec = rt.start(); ec) { ... rt.start_error() says which listener ... }
//   std::uint16_t port = rt.bound()[0].port;
//   ...
//   rt.stop();   // graceful: stop accepting, DISCONNECT 0x8B (5.0), flush, close, join
//
// Most programs use tern::Broker (tern/server/broker.hpp), which owns an
// engine, a store and one of these. This header does not include Asio: Asio
// lives in this folder's .cpp files only, compiled once (separate compilation).
//
// Thread safety: start() and stop() from one controlling thread, never from an
// io thread (a hook); bound(), connections() and adopt() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "tern/engine/engine.hpp"
#include "tern/log/log.hpp"

namespace tern::net {

class byte_filter_maker;  // byte_filter.hpp
struct listener_gate;     // admission.hpp

// An address to listen on: an IP address ("0.0.0.0", "::", "127.0.0.1") or a
// host name (every address it resolves to is bound); port 0 picks a free port
// (the same one for every address of a host name).
struct listen_address {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  // The byte layers of its connections over TCP (a net::tls_server for
  // mqtts); nullptr: plain TCP.
  std::shared_ptr<const byte_filter_maker> layers = nullptr;
  // Its connection limit and the check of a CONNECT before the engine
  // admits it (admission.hpp); nullptr: neither.
  std::shared_ptr<listener_gate> gate = nullptr;
};

// A socket the runtime listens on.
struct bound_address {
  std::string address;  // numeric, e.g. "127.0.0.1" or "::1"
  std::uint16_t port = 0;
  // "127.0.0.1:1883" or "[::1]:1883".
  std::string to_string() const;
};

struct runtime_options {
  std::vector<listen_address> listeners;
  // Open connections at most (0: no limit); past it new ones are closed at once.
  std::uint32_t max_connections = 0;
  // How long stop() lets connections flush their last bytes (DISCONNECT 0x8B).
  std::chrono::milliseconds stop_grace{1000};
  // Channel "net" is a good choice; a default logger logs nothing.
  log::logger log;
};

class runtime {
 public:
  // One io thread per engine worker. The engine must outlive the runtime.
  runtime(engine::engine& e, runtime_options o);
  // Stops (as stop()) if running.
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // Binds every listener and starts the io threads. On failure nothing is
  // left open or running, the error is returned and start_error() names the
  // listener ("bind 127.0.0.1:1883: Address already in use"). Call once.
  [[nodiscard]] std::error_code start();
  const std::string& start_error() const;

  // Stops accepting, sends every connected client the engine's shutdown
  // (DISCONNECT 0x8B for 5.0), closes every connection once its output is
  // written (at most stop_grace later), then joins the io threads. Idempotent.
  void stop();
  bool running() const;

  // The sockets listened on, in the order of the listeners (after start()).
  std::vector<bound_address> bound() const;
  // Connections open now (accepted or adopted, not yet closed).
  std::size_t connections() const;

  // Hands the runtime a connected TCP socket accepted elsewhere; the runtime
  // owns (and eventually closes) it from now on. Closed at once when the
  // runtime is not running or the descriptor is not a TCP socket.
  void adopt(int native_socket);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tern::net
