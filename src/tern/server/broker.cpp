#include "tern/server/broker.hpp"

#include "tern/engine/engine.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "tern/net/runtime.hpp"
#include "tern/net/tls_filter.hpp"
#include "tern/net/ws_filter.hpp"
#include "tern/storage/rocksdb_store.hpp"

namespace tern {
namespace {

std::size_t thread_count(const server::config& c) {
  if (c.io_threads != 0) return c.io_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

// The program's hooks, behind what the configuration itself enforces.
class config_hooks final : public engine::hooks {
 public:
  config_hooks(engine::hooks& next, const server::auth_config& auth) : next_(next), anonymous_(auth.allow_anonymous) {}

  reason on_connect(const engine::connect_request& r) override {
    if (!anonymous_ && !r.username) return reason::not_authorized;
    return next_.on_connect(r);
  }
  engine::publish_verdict on_publish(const engine::client_info& c, publish_packet& m) override {
    return next_.on_publish(c, m);
  }
  reason on_subscribe(const engine::client_info& c, subscription& s) override { return next_.on_subscribe(c, s); }
  void on_disconnect(const engine::client_info& c, const error& why) override { next_.on_disconnect(c, why); }

 private:
  engine::hooks& next_;
  bool anonymous_;
};

}  // namespace

engine::options Broker::engine_options(const server::config& config) {
  const auto& l = config.limits;
  engine::options o;
  o.connection.maximum_packet_size = l.maximum_packet_size;
  o.connection.receive_maximum = l.receive_maximum;
  o.connection.topic_alias_maximum = l.topic_alias_maximum;
  o.connection.maximum_qos = static_cast<qos>(std::min<std::uint8_t>(l.maximum_qos, 2));
  o.connection.retain_available = l.retain_available;
  o.max_keep_alive = l.max_keep_alive;
  o.max_session_expiry_interval = l.max_session_expiry_interval;
  o.allow_zero_length_client_id = l.allow_zero_length_client_id;
  o.queue.max_messages = l.max_queued_messages;
  o.queue.max_bytes = static_cast<std::size_t>(l.max_queued_bytes);
  o.max_stored_messages = l.max_stored_messages;
  o.queue_full = l.queue_full == server::queue_full_mode::hold_acks ? engine::queue_full_policy::hold_acks
                                                                    : engine::queue_full_policy::store;
  o.max_inflight = l.max_inflight;
  o.denied_filters = l.denied_subscriptions;
  o.max_topic_levels = l.max_topic_levels;
  o.sys_interval = std::chrono::seconds(config.sys_interval);
  // durability batch: acknowledged once written; made durable every second.
  if (config.storage.durability == server::durability_mode::batch) o.store_sync_interval = std::chrono::seconds(1);
  return o;
}

namespace {

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The store the configuration asks for. On failure: a memory store (so the
// engine has one) and the reason, which makes start() fail.
std::unique_ptr<storage::store> open_store(const server::storage_config& c, const log::logger& log,
                                           std::string& error) {
  if (c.backend == server::storage_backend::memory) return storage::make_memory_store();
  storage::rocksdb_options o;
  o.dir = c.data_dir;
  o.durability = c.durability == server::durability_mode::fsync   ? storage::durability::fsync
                 : c.durability == server::durability_mode::batch ? storage::durability::batch
                                                                  : storage::durability::none;
  o.on_corruption = c.on_corruption == server::corruption_policy::refuse ? storage::corruption_policy::refuse
                                                                        : storage::corruption_policy::move_aside;
  o.clock = {std::chrono::steady_clock::now(), unix_ms_now()};
  o.log = [log](storage::log_level l, std::string_view m) {
    switch (l) {
      case storage::log_level::info: log.info("{}", m); break;
      case storage::log_level::warning: log.warn("{}", m); break;
      case storage::log_level::error: log.error("{}", m); break;
    }
  };
  auto store = storage::make_rocksdb_store(o);
  if (!store) {
    error = "store " + c.data_dir.string() + ": " + store.error().message;
    return storage::make_memory_store();
  }
  return std::move(*store);
}

}  // namespace

struct Broker::impl {
  impl(server::config c, engine::hooks* user_hooks, storage::store* user_store, log::logger l)
      : config(std::move(c)),
        log(l.with_channel("broker")),
        own_store(user_store ? nullptr : open_store(config.storage, l.with_channel("storage"), store_error)),
        store(user_store ? *user_store : *own_store),
        hooks(user_hooks ? *user_hooks : no_hooks, config.auth),
        engine(
            [&] {
              auto o = engine_options(config);
              o.log = l.with_channel("broker");
              return o;
            }(),
            hooks, store, thread_count(config), std::chrono::steady_clock::now()),
        tls(make_tls(config, tls_error)),
        runtime(engine, [&] {
          net::runtime_options o;
          for (std::size_t i = 0; i < config.listeners.size(); ++i)
            o.listeners.push_back({config.listeners[i].address, config.listeners[i].port, layers(config, i, tls[i])});
          o.max_connections = config.limits.max_connections;
          o.log = l.with_channel("net");
          return o;
        }()) {}

  // The TLS contexts of the listeners (nullptr for a plain one), in their
  // order; on failure `error` names the first listener and file that failed.
  static std::vector<std::shared_ptr<net::tls_server>> make_tls(const server::config& c, std::string& error) {
    std::vector<std::shared_ptr<net::tls_server>> out;
    for (const auto& x : c.listeners) {
      auto& tls = out.emplace_back();
      if (x.protocol != server::listener_protocol::mqtts && x.protocol != server::listener_protocol::wss) continue;
      std::string why;
      tls = net::tls_server::make(tls_options(x), why);
      if (!tls && error.empty()) error = "listener " + listener_name(x) + ": " + why;
    }
    return out;
  }

  // A listener's filters: TLS (mqtts), WebSocket over TCP (ws) or over TLS
  // (wss); nullptr for plain TCP.
  static std::shared_ptr<const net::byte_filter_maker> layers(const server::config& c, std::size_t i,
                                                              std::shared_ptr<net::tls_server> tls) {
    const auto& x = c.listeners[i];
    if (x.protocol != server::listener_protocol::ws && x.protocol != server::listener_protocol::wss) return tls;
    net::ws_server_options o;
    o.path = x.path;
    o.handshake_timeout = std::chrono::seconds(x.handshake_timeout);
    // Room for a packet of the largest size with the frame of a few more.
    o.max_frame_size = std::uint64_t{c.limits.maximum_packet_size} + 64 * 1024;
    if (x.protocol == server::listener_protocol::wss && !tls) return nullptr;  // start() refuses it (tls_error)
    return std::make_shared<net::ws_server>(std::move(o), std::move(tls));
  }

  static net::tls_server_options tls_options(const server::listener_config& x) {
    net::tls_server_options o;
    o.cert_file = x.cert_file.string();
    o.key_file = x.key_file.string();
    o.ca_file = x.ca_file.string();
    o.require_certificate = x.require_certificate;
    o.use_identity_as_username = x.use_identity_as_username;
    o.handshake_timeout = std::chrono::seconds(x.handshake_timeout);
    return o;
  }

  static std::string listener_name(const server::listener_config& x) {
    return x.address + ":" + std::to_string(x.port) + " (" + std::string(server::to_string(x.protocol)) + ")";
  }

  // What the configuration asks for and this broker cannot do (yet), or
  // cannot do with the files given.
  std::string unsupported() const {
    if (!tls_error.empty()) return tls_error;
    if (!config.auth.password_file.empty()) return "auth.password_file is not supported yet";
    if (!config.auth.acl_file.empty()) return "auth.acl_file is not supported yet";
    return {};
  }

  // Rebuilds the sessions the store holds; once, before listening.
  bool recover(std::string& error) {
    if (!store_error.empty()) {
      error = store_error;
      return false;
    }
    if (recovered) return true;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = engine.recover(t0);
    if (!r) {
      error = "store: " + r.error().message;
      return false;
    }
    recovered = true;
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (r->sessions || r->discarded || store.retained().size())
      log.info("recovered {} sessions ({} subscriptions, {} queued and {} in-flight messages, {} wills), {} "
               "retained messages in {:.0f} ms; {} expired sessions forgotten",
               r->sessions, r->subscriptions, r->queued, r->inflight, r->wills, store.retained().size(), ms,
               r->discarded);
    return true;
  }

  server::config config;
  log::logger log;
  std::string store_error;  // opening the configured store failed: start() fails
  bool recovered = false;
  engine::hooks no_hooks;
  std::unique_ptr<storage::store> own_store;
  storage::store& store;
  config_hooks hooks;
  engine::engine engine;
  std::string tls_error;  // a listener's certificate or key cannot be used: start() fails
  std::vector<std::shared_ptr<net::tls_server>> tls;  // per listener; nullptr: plain TCP
  net::runtime runtime;  // last: stopped and destroyed before the engine
};

Broker::Broker(server::config config, log::logger log)
    : impl_(std::make_unique<impl>(std::move(config), nullptr, nullptr, std::move(log))) {}

Broker::Broker(server::config config, engine::hooks& hooks, log::logger log)
    : impl_(std::make_unique<impl>(std::move(config), &hooks, nullptr, std::move(log))) {}

Broker::Broker(server::config config, engine::hooks& hooks, storage::store& store, log::logger log)
    : impl_(std::make_unique<impl>(std::move(config), &hooks, &store, std::move(log))) {}

Broker::~Broker() = default;  // the runtime's destructor stops it

void Broker::start(std::error_code& ec) {
  auto& b = *impl_;
  if (auto what = b.unsupported(); !what.empty()) {
    b.log.error("cannot start: {}", what);
    ec = std::make_error_code(std::errc::operation_not_supported);
    return;
  }
  if (std::string why; !b.recover(why)) {
    b.log.error("cannot start: {}", why);
    ec = std::make_error_code(std::errc::io_error);
    return;
  }
  ec = b.runtime.start();
  if (ec) {
    b.log.error("cannot start: {}", b.runtime.start_error());
    return;
  }
  for (const auto& a : b.runtime.bound()) b.log.info("listening on {}", a.to_string());
  b.log.info("{} io thread{}", b.engine.workers(), b.engine.workers() == 1 ? "" : "s");
}

void Broker::start() {
  auto& b = *impl_;
  if (auto what = b.unsupported(); !what.empty())
    throw std::system_error(std::make_error_code(std::errc::operation_not_supported), what);
  if (std::string why; !b.recover(why)) throw std::system_error(std::make_error_code(std::errc::io_error), why);
  std::error_code ec;
  start(ec);
  if (ec) throw std::system_error(ec, b.runtime.start_error());
}

void Broker::stop() {
  auto& b = *impl_;
  if (!b.runtime.running()) return;
  b.log.info("stopping");
  b.runtime.stop();
  b.log.info("stopped");
}

bool Broker::reload() {
  auto& b = *impl_;
  bool ok = true;
  for (std::size_t i = 0; i < b.tls.size(); ++i) {
    if (!b.tls[i]) continue;
    const auto name = impl::listener_name(b.config.listeners[i]);
    if (std::string why; !b.tls[i]->reload(why)) {
      b.log.error("listener {}: keeping the certificate in force: {}", name, why);
      ok = false;
    } else {
      b.log.info("listener {}: certificate and key re-read for new connections", name);
    }
  }
  return ok;
}

bool Broker::running() const { return impl_->runtime.running(); }

std::vector<std::uint16_t> Broker::ports() const {
  std::vector<std::uint16_t> out;
  for (const auto& a : impl_->runtime.bound()) out.push_back(a.port);
  return out;
}

std::vector<std::string> Broker::addresses() const {
  std::vector<std::string> out;
  for (const auto& a : impl_->runtime.bound()) out.push_back(a.to_string());
  return out;
}

std::size_t Broker::connections() const { return impl_->runtime.connections(); }

std::size_t Broker::io_threads() const { return impl_->engine.workers(); }

const engine::statistics& Broker::stats() const { return impl_->engine.stats(); }

void Broker::external_connected(int native_socket) { impl_->runtime.adopt(native_socket); }

}  // namespace tern
