#include "tern/server/broker.hpp"

#include "tern/engine/engine.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "tern/net/admission.hpp"
#include "tern/net/runtime.hpp"
#include "tern/server/auth.hpp"
#include "tern/net/tls_filter.hpp"
#include "tern/net/ws_filter.hpp"
#include "tern/storage/rocksdb_store.hpp"

namespace tern {
namespace {

std::size_t thread_count(const server::config& c) {
  if (c.io_threads != 0) return c.io_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

// Threads that verify passwords: one, so that a storm of CONNECTs with
// wrong passwords takes one core at most, whatever the io threads do.
constexpr std::size_t verifier_threads = 1;

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
  o.max_publish_rate = l.max_publish_rate;
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
        passwords(load_passwords(config.auth, auth_error)),
        acl(load_acl(config.auth, auth_error)),
        hooks(user_hooks ? *user_hooks : no_hooks),
        engine(
            [&] {
              auto o = engine_options(config);
              o.log = l.with_channel("broker");
              o.access = acl.get();
              return o;
            }(),
            hooks, store, thread_count(config), std::chrono::steady_clock::now()),
        tls(make_tls(config, tls_error)),
        runtime(engine, [&] {
          net::runtime_options o;
          for (std::size_t i = 0; i < config.listeners.size(); ++i) {
            const auto& x = config.listeners[i];
            auto gate = std::make_shared<net::listener_gate>();
            gate->check = std::make_shared<server::listener_admission>(passwords, server::allows_anonymous(config, x));
            gate->max_connections = x.max_connections;
            o.listeners.push_back({x.address, x.port, layers(config, i, tls[i]), std::move(gate)});
          }
          o.max_connections = config.limits.max_connections;
          o.log = l.with_channel("net");
          return o;
        }()) {}

  // Stops the io threads, then the password verification that answers them.
  ~impl() {
    runtime.stop();
    if (passwords) passwords->stop();
  }

  // The password file [auth] names, or nullptr (none, or unusable: then
  // `error` says why, naming the file and line, and start() fails).
  static std::shared_ptr<server::password_check> load_passwords(const server::auth_config& a, std::string& error) {
    if (a.password_file.empty()) return nullptr;
    auto p = server::password_check::load(a.password_file, verifier_threads);
    if (!p) {
      if (error.empty()) error = "auth.password_file: " + p.error().message;
      return nullptr;
    }
    return std::move(*p);
  }
  static std::unique_ptr<server::acl_policy> load_acl(const server::auth_config& a, std::string& error) {
    if (a.acl_file.empty()) return nullptr;
    auto p = server::acl_policy::load(a.acl_file);
    if (!p) {
      if (error.empty()) error = "auth.acl_file: " + p.error().message;
      return nullptr;
    }
    return std::move(*p);
  }

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
  // What the configuration asks for that cannot be had (an auth or TLS file
  // that does not load); empty when nothing.
  std::string config_error() const {
    if (!auth_error.empty()) return auth_error;
    if (!tls_error.empty()) return tls_error;
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
  std::string auth_error;  // the password file or ACL cannot be used: start() fails
  std::shared_ptr<server::password_check> passwords;  // nullptr: no password file
  std::unique_ptr<server::acl_policy> acl;  // nullptr: no ACL (everything allowed)
  engine::hooks& hooks;
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
  if (auto what = b.config_error(); !what.empty()) {
    b.log.error("cannot start: {}", what);
    ec = std::make_error_code(std::errc::invalid_argument);
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

namespace {

// A std::system_error whose what() is `what` as it stands: the runtime's
// message already ends with the error's own text, which std::system_error
// would append a second time.
class start_failed : public std::system_error {
 public:
  start_failed(std::error_code ec, std::string what) : std::system_error(ec), what_(std::move(what)) {}
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

}  // namespace

void Broker::start() {
  auto& b = *impl_;
  if (auto what = b.config_error(); !what.empty())
    throw start_failed(std::make_error_code(std::errc::invalid_argument), what);
  if (std::string why; !b.recover(why)) throw start_failed(std::make_error_code(std::errc::io_error), why);
  std::error_code ec;
  start(ec);
  if (ec) throw start_failed(ec, b.runtime.start_error());
}

void Broker::stop() {
  auto& b = *impl_;
  if (!b.runtime.running()) return;
  b.log.info("stopping");
  b.runtime.stop();
  if (b.passwords) b.passwords->stop();
  b.log.info("stopped");
}

bool Broker::reload() {
  auto& b = *impl_;
  bool ok = true;
  const auto& a = b.config.auth;
  // Re-reads one of the [auth] files through `file` (null: not configured).
  auto re_read = [&](auto* file, const std::filesystem::path& path, std::string_view what, std::string_view after) {
    if (!file) return;
    if (auto r = file->reload(path); !r) {
      b.log.error("keeping the {} in force: {}", what, r.error().message);
      ok = false;
    } else {
      b.log.info("{} {} re-read{}", what, path.string(), after);
    }
  };
  re_read(b.passwords.get(), a.password_file, "password file", "");
  re_read(b.acl.get(), a.acl_file, "ACL", "; remembered decisions dropped");
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
