// tern.Broker's native half (_tern.Broker): tern::Broker for Python,
// configured from ternd's TOML, with hooks written in Python.
//
// Threads and the GIL:
// - start(), stop(), reload() and the destructor release the GIL while they
//   work, so that the io threads can run hooks meanwhile; the accessors
//   (ports(), stats(), ...) release it before they take the broker's lock.
// - Hooks run on the broker's io threads and take the GIL for the time of
//   the Python call. A broker made without Python hooks gets no hooks object
//   at all (tern::Broker's defaults), so its io threads never take the GIL on
//   their publish path. tern's own log records reach Python logging
//   ("tern.broker") only at the levels that logger had enabled when the
//   broker was made (by default warnings and errors).
// - A hook that raises, or returns what it may not, is logged on
//   "tern.broker" and the default verdict applies; the broker goes on.
// - At interpreter exit (atexit) every broker is stopped; from then on
//   (`finalizing`) no hook calls Python.
// - A broker collected on one of its own io threads (its last reference
//   dropped inside a hook) is destroyed on a helper thread.
#include "broker.hpp"

#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "convert.hpp"
#include "gil.hpp"
#include "message.hpp"
#include "tern/engine/hooks.hpp"
#include "tern/server/broker.hpp"
#include "tern/server/config.hpp"
#include "tern/topic/topic.hpp"

namespace tern::python {

namespace {

py::object broker_logger() { return py::module_::import("logging").attr("getLogger")("tern.broker"); }

// Logs what a hook raised, with its traceback, on "tern.broker".
void log_raised(const char* hook, py::error_already_set& e) {
  try {
    py::object tb = e.trace() ? py::reinterpret_borrow<py::object>(e.trace()) : py::object(py::none());
    broker_logger().attr("error")("tern.Broker: %s raised; the default verdict applies", hook,
                                  py::arg("exc_info") = py::make_tuple(e.type(), e.value(), tb));
  } catch (py::error_already_set& again) {
    again.discard_as_unraisable(hook);
  }
}

// Logs a hook's unusable answer (what a C++ check threw) on "tern.broker".
void log_refused(const char* hook, const std::exception& e) {
  try {
    broker_logger().attr("error")("tern.Broker: %s: %s; the default verdict applies", hook, text(e.what()));
  } catch (py::error_already_set& again) {
    again.discard_as_unraisable(hook);
  }
}

// tern's log records into Python logging, on the io threads (with the GIL).
class python_sink final : public log::sink {
 public:
  void write(const log::record& r) override {
    if (finalizing.load()) return;
    gil g;
    try {
      const int level = r.lvl <= log::level::debug ? 10 : r.lvl == log::level::info ? 20 : r.lvl == log::level::warn ? 30 : 40;
      broker_logger().attr("log")(level, "%s: %s", text(r.channel), text(r.message));
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("tern.broker log");
    }
  }
};

// The tern level for what "tern.broker" has enabled now.
log::level enabled_level() {
  const int l = broker_logger().attr("getEffectiveLevel")().cast<int>();
  return l <= 10 ? log::level::debug : l <= 20 ? log::level::info : l <= 30 ? log::level::warn : log::level::error;
}

// Who a hook is about: made for each call, all values (nothing points into
// the broker once the hook returns).
struct broker_client {
  std::string client_id;
  std::optional<std::string> username;
  std::optional<std::string> password;  // on_connect only
  std::string peer;
  int protocol = 5;       // 3 (3.1), 4 (3.1.1) or 5
  bool clean_start = false;  // on_connect only
};

py::object client_of(const engine::client_info& i) {
  broker_client c;
  c.client_id = std::string(i.client_id);
  if (i.username) c.username = std::string(*i.username);
  c.peer = i.peer();
  c.protocol = static_cast<int>(i.version);
  return py::cast(std::move(c));
}

// MQTT 3.x CONNACK return codes (what paho users know) as MQTT 5 reason codes.
reason connect_code(long n) {
  switch (n) {
    case 0: return reason::success;
    case 1: return reason::unsupported_protocol_version;
    case 2: return reason::client_identifier_not_valid;
    case 3: return reason::server_unavailable;
    case 4: return reason::bad_user_name_or_password;
    case 5: return reason::not_authorized;
    default: break;
  }
  if (n >= 0x80 && n <= 0xFF) return static_cast<reason>(n);
  throw py::value_error("on_connect returned " + std::to_string(n) + ": not a CONNACK reason code");
}

bool is_int(py::handle v) { return PyLong_Check(v.ptr()) && !PyBool_Check(v.ptr()); }

// A hook's answer of a type it may not give.
[[noreturn]] void bad_answer(const char* hook, py::handle v, const char* expected) {
  throw py::type_error(std::string(hook) + " returned a " + Py_TYPE(v.ptr())->tp_name + ": not " + expected);
}

std::string topic_of(py::handle v, const char* what) {
  auto s = v.cast<std::string>();
  if (auto e = topic::validate_name(s)) throw py::value_error(std::string(what) + ": not a valid topic name: " + s);
  return s;
}

// The hooks the Python side gave (None for the others).
class python_hooks final : public engine::hooks {
 public:
  python_hooks(py::object on_connect, py::object on_publish, py::object on_subscribe, py::object on_disconnect)
      : connect_(std::move(on_connect)), publish_(std::move(on_publish)), subscribe_(std::move(on_subscribe)),
        disconnect_(std::move(on_disconnect)), has_connect_(!connect_.is_none()), has_publish_(!publish_.is_none()),
        has_subscribe_(!subscribe_.is_none()), has_disconnect_(!disconnect_.is_none()) {}

  // With the GIL: drops the Python callables; the hooks answer the defaults.
  void clear() {
    cleared_ = true;
    connect_ = publish_ = subscribe_ = disconnect_ = py::object();  // null: nothing to release later
  }

  reason on_connect(const engine::connect_request& r) override {
    return call(has_connect_, connect_, "on_connect", reason::success, [&](py::object& f) {
      broker_client c;
      c.client_id = std::string(r.client_id);
      c.username = r.username;
      c.password = r.password;
      c.peer = std::string(r.peer);
      c.protocol = static_cast<int>(r.version);
      c.clean_start = r.clean_start;
      py::object v = f(py::cast(std::move(c)));
      if (v.is_none() || v.is(py::bool_(true))) return reason::success;
      if (v.is(py::bool_(false))) return reason::not_authorized;
      if (is_int(v)) return connect_code(v.cast<long>());
      bad_answer("on_connect", v, "True, False, None or a reason code");
    });
  }

  engine::publish_verdict on_publish(const engine::client_info& who, publish_packet& m) override {
    return call(has_publish_, publish_, "on_publish", engine::publish_verdict{}, [&](py::object& f) {
      py::object msg = make_message(m, who.version == protocol_version::v5);
      auto& native = msg.cast<message&>();
      py::object topic0 = native.topic_, payload0 = native.payload;
      py::object v = f(client_of(who), msg);
      // What the hook changed in the message: its topic, its payload.
      if (!native.topic_.is(topic0)) m.set_topic(topic_of(native.topic_, "on_publish: message.topic"));
      if (!native.payload.is(payload0)) {
        py::object p = native.payload;
        if (PyUnicode_Check(p.ptr())) p = p.attr("encode")("utf-8");
        else if (!PyBytes_Check(p.ptr())) p = py::reinterpret_steal<py::object>(PyBytes_FromObject(p.ptr()));
        if (!p) throw py::error_already_set();
        m.set_payload(shared_bytes::copy(std::string_view(p.cast<py::bytes>())));
      }
      if (v.is_none() || v.is(py::bool_(true))) return engine::publish_verdict{};
      if (v.is(py::bool_(false))) return engine::publish_verdict{engine::publish_action::discard};
      if (PyUnicode_Check(v.ptr())) {
        m.set_topic(topic_of(v, "on_publish returned a redirect"));
        return engine::publish_verdict{};
      }
      if (is_int(v)) {
        const long n = v.cast<long>();
        if (n == 0) return engine::publish_verdict{};
        if (n >= 0x80 && n <= 0xFF) return engine::publish_verdict{engine::publish_action::refuse, static_cast<reason>(n)};
        throw py::value_error("on_publish returned " + std::to_string(n) + ": not a PUBACK reason code");
      }
      bad_answer("on_publish", v, "True, False, None, a topic or a reason code");
    });
  }

  reason on_subscribe(const engine::client_info& who, subscription& s) override {
    return call(has_subscribe_, subscribe_, "on_subscribe", reason::success, [&](py::object& f) {
      py::object v = f(client_of(who), s.filter, static_cast<int>(s.options.max_qos));
      if (v.is_none() || v.is(py::bool_(true))) return reason::success;
      if (v.is(py::bool_(false))) return reason::not_authorized;
      if (is_int(v)) {
        const long n = v.cast<long>();
        if (n >= 0 && n <= 2) {
          if (n < static_cast<long>(s.options.max_qos)) s.options.max_qos = static_cast<qos>(n);
          return reason::success;
        }
        if (n >= 0x80 && n <= 0xFF) return static_cast<reason>(n);
        throw py::value_error("on_subscribe returned " + std::to_string(n) + ": not a QoS or a SUBACK reason code");
      }
      bad_answer("on_subscribe", v, "True, False, None, a QoS or a reason code");
    });
  }

  void on_disconnect(const engine::client_info& who, const error& why) override {
    call(has_disconnect_, disconnect_, "on_disconnect", true, [&](py::object& f) {
      f(client_of(who), why.code ? why.message() : std::string());
      return true;
    });
  }

 private:
  // Calls `run` with the hook (when given and Python may be called), with
  // the GIL; what it raises is logged and `fallback` answered.
  template <class T, class F>
  T call(bool has, const py::object& hook, const char* name, T fallback, F&& run) {
    if (!has || finalizing.load()) return fallback;
    gil g;
    if (cleared_) return fallback;
    py::object f = hook;  // ours for the call, whatever clear() does meanwhile
    try {
      return run(f);
    } catch (py::error_already_set& e) {
      log_raised(name, e);
    } catch (const std::exception& e) {
      log_refused(name, e);
    }
    return fallback;
  }

  // Read and changed with the GIL held only.
  py::object connect_, publish_, subscribe_, disconnect_;
  bool cleared_ = false;
  // Fixed at construction: read without the GIL.
  const bool has_connect_, has_publish_, has_subscribe_, has_disconnect_;
};

// A tern.Broker's tern::Broker and its lock, shared by the Python object and
// the exit list: at exit every broker is stopped through its slot, without
// holding the list's lock, so that a hook running meanwhile may drop the
// last reference to another broker (its destructor takes the list's lock).
struct broker_slot {
  std::mutex m;               // b; taken with the GIL released
  std::unique_ptr<Broker> b;  // made by start(), gone after stop()
};
std::mutex g_brokers_m;
std::set<std::shared_ptr<broker_slot>> g_brokers;

// tern::Broker's start failure as OSError(errno, message): EADDRINUSE for a
// listener's port (as socket.bind gives), EINVAL for a password, ACL or TLS
// file that does not load, EIO for the store.
[[noreturn]] void raise_start_error(const std::system_error& e) {
  PyErr_SetObject(PyExc_OSError, py::make_tuple(e.code().value(), text(e.what())).ptr());
  throw py::error_already_set();
}

class native_broker {
 public:
  native_broker(const std::string& toml, const std::string& name, std::optional<std::string> storage,
                std::optional<std::string> data_dir, py::object on_connect, py::object on_publish,
                py::object on_subscribe, py::object on_disconnect) {
    auto parsed = server::parse_config(toml, name);
    if (!parsed) throw py::value_error(parsed.error().message);
    config_ = std::move(*parsed);
    if (storage) {
      if (*storage == "memory") config_.storage.backend = server::storage_backend::memory;
      else if (*storage == "rocksdb") config_.storage.backend = server::storage_backend::rocksdb;
      else throw py::value_error("storage: must be \"rocksdb\" or \"memory\", not \"" + *storage + "\"");
    }
    if (data_dir) {
      if (data_dir->empty()) throw py::value_error("data_dir: must not be empty");
      config_.storage.data_dir = *data_dir;
    }
    for (auto* f : {&on_connect, &on_publish, &on_subscribe, &on_disconnect})
      if (!f->is_none() && !PyCallable_Check(f->ptr()))
        throw py::type_error(std::string("hooks: must be callables or None, not ") + Py_TYPE(f->ptr())->tp_name);
    if (!on_connect.is_none() || !on_publish.is_none() || !on_subscribe.is_none() || !on_disconnect.is_none())
      hooks_ = std::make_shared<python_hooks>(std::move(on_connect), std::move(on_publish), std::move(on_subscribe),
                                              std::move(on_disconnect));
    log_ = log::logger{std::make_shared<python_sink>(), "broker", enabled_level()};
    std::lock_guard lk(g_brokers_m);
    g_brokers.insert(slot_);
  }

  ~native_broker() {
    if (on_foreign_thread()) {
      // Collected on an io thread (inside a hook): tern::Broker's destructor
      // must not run there. The hooks let go of Python now (GIL held).
      if (hooks_) hooks_->clear();
      py::gil_scoped_release r;
      forget();
      std::thread([slot = std::move(slot_), h = std::move(hooks_)]() mutable {
        std::lock_guard lk(slot->m);
        slot->b.reset();
      }).detach();
      return;
    }
    {
      py::gil_scoped_release r;
      forget();
      std::lock_guard lk(slot_->m);  // the exit's stop may be stopping it
      slot_->b.reset();
    }
  }  // hooks_ goes with the GIL held

  // Binds the listeners and starts the io threads; again after stop(), on a
  // new tern::Broker over the same store (which the old one let go of).
  void start() {
    py::gil_scoped_release r;
    std::lock_guard lk(slot_->m);
    auto& b = slot_->b;
    if (b && b->running()) return;
    b.reset();
    try {
      b = hooks_ ? std::make_unique<Broker>(config_, *hooks_, log_) : std::make_unique<Broker>(config_, log_);
      b->start();
    } catch (const std::system_error& e) {
      b.reset();
      py::gil_scoped_acquire a;
      raise_start_error(e);
    }
  }

  // Stops and lets the store go (another broker may open it). Idempotent.
  void stop() {
    py::gil_scoped_release r;
    std::lock_guard lk(slot_->m);
    if (!slot_->b) return;
    try {
      slot_->b->stop();
    } catch (const std::logic_error& e) {
      throw std::runtime_error(std::string("stop(): not from a hook (") + e.what() + ")");
    }
    slot_->b.reset();
  }

  bool reload() {
    py::gil_scoped_release r;
    std::lock_guard lk(slot_->m);
    return slot_->b && slot_->b->reload();
  }

  bool running() { return with_broker(false, [](const Broker& b) { return b.running(); }); }
  std::vector<std::uint16_t> ports() { return with_broker(std::vector<std::uint16_t>{}, [](const Broker& b) { return b.ports(); }); }
  std::vector<std::string> addresses() {
    return with_broker(std::vector<std::string>{}, [](const Broker& b) { return b.addresses(); });
  }
  std::size_t connections() { return with_broker(std::size_t{0}, [](const Broker& b) { return b.connections(); }); }

  py::dict stats() {
    std::vector<std::pair<const char*, std::uint64_t>> v;
    with_broker(0, [&](const Broker& b) {
      const auto& s = b.stats();
      v = {{"clients_connected", s.clients_connected.load()},  {"clients_total", s.clients_total.load()},
           {"messages_received", s.messages_received.load()},  {"messages_sent", s.messages_sent.load()},
           {"bytes_received", s.bytes_received.load()},        {"bytes_sent", s.bytes_sent.load()},
           {"messages_dropped", s.messages_dropped.load()},    {"stored_dropped", s.stored_dropped.load()},
           {"acknowledgements_held", s.acknowledgements_held.load()}, {"subscriptions", s.subscriptions.load()}};
      return 0;
    });
    py::dict d;
    for (auto& [k, n] : v) d[k] = n;
    return d;
  }

  // atexit: stop (hooks no longer call Python).
  static void stop_for_exit(broker_slot& slot) {
    std::lock_guard lk(slot.m);
    if (!slot.b) return;
    try {
      slot.b->stop();
    } catch (const std::exception&) {
      return;  // on an io thread: leave it
    }
    slot.b.reset();
  }

 private:
  template <class T, class F>
  T with_broker(T none, F f) {
    py::gil_scoped_release r;
    std::lock_guard lk(slot_->m);
    return slot_->b ? f(*slot_->b) : none;
  }

  void forget() {
    std::lock_guard lk(g_brokers_m);
    g_brokers.erase(slot_);
  }

  server::config config_;
  log::logger log_;
  std::shared_ptr<python_hooks> hooks_;  // nullptr: no Python hooks, tern::Broker's defaults
  std::shared_ptr<broker_slot> slot_ = std::make_shared<broker_slot>();
};

void stop_all_brokers() {
  finalizing = true;
  py::gil_scoped_release r;
  std::vector<std::shared_ptr<broker_slot>> all;
  {
    std::lock_guard lk(g_brokers_m);
    all.assign(g_brokers.begin(), g_brokers.end());
  }
  for (auto& slot : all) native_broker::stop_for_exit(*slot);
}

}  // namespace

void bind_broker(py::module_& m) {
  py::class_<broker_client>(m, "BrokerClient", "The client a broker hook is about")
      .def_readonly("client_id", &broker_client::client_id)
      .def_readonly("username", &broker_client::username)
      .def_property_readonly("password",
                             [](const broker_client& c) -> py::object {
                               if (!c.password) return py::none();
                               return to_bytes(*c.password);
                             })
      .def_readonly("peer", &broker_client::peer)
      .def_readonly("protocol", &broker_client::protocol)
      .def_readonly("clean_start", &broker_client::clean_start)
      .def("__repr__", [](const broker_client& c) {
        return "<BrokerClient client_id=" + py::repr(py::str(c.client_id)).cast<std::string>() +
               " username=" + (c.username ? py::repr(py::str(*c.username)).cast<std::string>() : "None") +
               " peer=" + c.peer + " protocol=" + std::to_string(c.protocol) + ">";
      });

  py::class_<native_broker>(m, "Broker", "tern::Broker: an MQTT broker in this process (use tern.Broker)")
      .def(py::init<const std::string&, const std::string&, std::optional<std::string>, std::optional<std::string>,
                    py::object, py::object, py::object, py::object>(),
           py::arg("toml") = "", py::arg("name") = "<config>", py::arg("storage") = py::none(),
           py::arg("data_dir") = py::none(), py::arg("on_connect") = py::none(), py::arg("on_publish") = py::none(),
           py::arg("on_subscribe") = py::none(), py::arg("on_disconnect") = py::none())
      .def("start", &native_broker::start)
      .def("stop", &native_broker::stop)
      .def("reload", &native_broker::reload)
      .def("running", &native_broker::running)
      .def("ports", &native_broker::ports)
      .def("addresses", &native_broker::addresses)
      .def("connections", &native_broker::connections)
      .def("stats", &native_broker::stats);

  m.def("_gil_acquisitions", &gil_acquisitions, "How many times tern's threads took the GIL (tests)");
  m.def("_stop_all_brokers", &stop_all_brokers);
  py::module_::import("atexit").attr("register")(m.attr("_stop_all_brokers"));
}

}  // namespace tern::python
