// tern.Client's native half (_tern.Client): tern::Client for Python, with
// paho's callbacks.
//
// Threads and the GIL:
// - Every call that may block (connect, reconnect, loop, loop_forever,
//   loop_stop, Token.wait, the destructor) releases the GIL while it waits,
//   so the client's loop thread can run callbacks meanwhile.
// - Callbacks run on the thread driving tern::Client's loop and take the GIL
//   for the time of the Python call. They reach the Python object through a
//   weak reference (no cycle: the Python client owns this object), and only
//   the events the Python side asked for (set_callbacks) cross into Python.
// - loop_forever() and the blocking waits look at signals every 100 ms on
//   the main thread, so Ctrl-C (KeyboardInterrupt) ends them.
// - At interpreter exit (atexit) every client's loop thread is stopped and
//   callbacks stop taking the GIL; a client collected on its own loop thread
//   (inside one of its callbacks) is destroyed on a helper thread.
// Errors cross as tuples (kind, value, message): see err_tuple().
#include "client.hpp"

#include <pybind11/stl.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "convert.hpp"
#include "gil.hpp"
#include "message.hpp"
#include "tern/client/client.hpp"

namespace tern::python {

using namespace std::chrono_literals;

namespace {

// What callbacks reach: shared with them, so that it outlives a
// native_client collected while its loop thread is inside a callback.
// `owner` (a weakref.ref to the Python client) and `pending` are touched
// with the GIL held only.
struct shared_state {
  tern::Client* client = nullptr;
  PyObject* owner = nullptr;  // a strong reference to the weakref; nullptr once dead
  std::unique_ptr<py::error_already_set> pending;  // for loop_forever's caller
};

thread_local shared_state* tl_in_callback = nullptr;

// Calls owner.<name>(*args()) with the GIL, unless the owner is gone.
template <class Args>
void call(shared_state& s, const char* name, Args args) {
  if (finalizing.load()) return;
  gil g;
  if (!s.owner) return;
  auto prev = tl_in_callback;
  tl_in_callback = &s;
  try {
    py::object owner = py::reinterpret_borrow<py::object>(s.owner)();
    if (!owner.is_none()) owner.attr(name)(*args());
  } catch (py::error_already_set& e) {
    // The Python side logs what user callbacks raise; what reaches here is
    // KeyboardInterrupt/SystemExit, or a fault of the layer itself.
    if (e.matches(PyExc_KeyboardInterrupt) || e.matches(PyExc_SystemExit)) {
      s.pending = std::make_unique<py::error_already_set>(std::move(e));
      s.client->loop_stop();
    } else {
      e.discard_as_unraisable(name);
    }
  }
  tl_in_callback = prev;
}

class native_client;
std::mutex g_clients_m;
std::set<native_client*> g_clients;

// Which events cross into Python (set_callbacks' mask).
enum callback_bit : unsigned {
  cb_connect = 1, cb_message = 2, cb_publish = 4, cb_subscribe = 8, cb_unsubscribe = 16, cb_disconnect = 32,
  cb_log = 64,
};

class native_client {
 public:
  native_client(py::object owner, bool reconnect, double reconnect_min, double reconnect_max,
                std::size_t max_queued, std::size_t max_inflight, std::string persistence_dir, py::dict tls,
                int log_level, std::vector<std::pair<std::string, std::string>> ws_headers)
      : s_(std::make_shared<shared_state>()) {
    tern::client_options o;
    o.reconnect.enabled = reconnect;
    if (reconnect_min <= 0 || reconnect_max < reconnect_min)
      throw py::value_error("reconnect delays: need 0 < min_delay <= max_delay");
    o.reconnect.min_delay = to_ms(reconnect_min);
    o.reconnect.max_delay = to_ms(reconnect_max);
    o.offline_queue.max_messages = max_queued == 0 ? SIZE_MAX : max_queued;
    o.offline_queue.max_bytes = SIZE_MAX;
    if (max_inflight > 65535) throw py::value_error("max_inflight: at most 65535");
    o.max_inflight = static_cast<std::uint16_t>(max_inflight);
    // receive_queue stays: tern::Client's pump takes messages from it; when
    // callbacks fall behind the network it fills and the client stops
    // reading (the broker is held back; nothing is dropped).
    o.persistence.dir = persistence_dir;
    auto str = [&](const char* k) { return tls.contains(k) ? cast_arg<std::string>(tls[k], k) : std::string(); };
    o.tls.ca_file = str("ca_file");
    o.tls.ca_path = str("ca_path");
    o.tls.cert_file = str("cert_file");
    o.tls.key_file = str("key_file");
    o.tls.ca_pem = str("ca_pem");            // tern.AsyncClient's ca_data (amqtt's cadata)
    o.tls.server_name = str("server_name");
    if (tls.contains("insecure")) o.tls.insecure = cast_arg<bool>(tls["insecure"], "insecure");
    if (tls.contains("verify_host_name"))
      o.tls.verify_host_name = cast_arg<bool>(tls["verify_host_name"], "verify_host_name");
    for (auto& [name, value] : ws_headers)
      if (name.empty() || name.find_first_of(":\r\n") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
        throw py::value_error("headers: not a valid HTTP header: " + name);
    o.ws_headers = std::move(ws_headers);
    if (log_level < 0 || log_level > 5) throw py::value_error("log_level: 0 (trace) to 5 (off)");
    o.log = tern::log::logger{nullptr, "client", static_cast<tern::log::level>(log_level)};
    c_ = std::make_unique<tern::Client>(std::move(o));
    s_->client = c_.get();
    s_->owner = py::module_::import("weakref").attr("ref")(owner).release().ptr();
    std::lock_guard lk(g_clients_m);
    g_clients.insert(this);
  }

  ~native_client() {
    {
      std::lock_guard lk(g_clients_m);
      g_clients.erase(this);
    }
    Py_CLEAR(s_->owner);  // callbacks see no owner from now on
    if (!c_) return;
    if (tl_in_callback || on_foreign_thread()) {
      // Collected on a loop thread (inside a callback, or when a callback's
      // last reference went): tern::Client's destructor must not run there.
      std::thread([c = std::move(c_)]() mutable { c.reset(); }).detach();
      return;
    }
    py::gil_scoped_release r;
    c_.reset();
  }

  // ---- callbacks: which ones cross into Python
  void set_callbacks(unsigned mask) {
    auto changed = mask ^ mask_;
    mask_ = mask;
    if (changed & cb_connect) {
      if (mask & cb_connect)
        c_->on_connect([s = s_](boost::system::error_code ec, const tern::connack_packet& a) {
          call(*s, "_native_connect", [&] {
            return py::make_tuple(err_tuple(ec), a.session_present, static_cast<int>(a.reason_code), props_or_none(a.props));
          });
        });
      else c_->on_connect({});
    }
    if (changed & cb_message) {
      if (mask & cb_message)
        c_->on_message([s = s_, v5 = v5_](const tern::publish_packet& m) {
          call(*s, "_native_message", [&] { return py::make_tuple(make_message(m, *v5)); });
        });
      else c_->on_message({});
    }
    if (changed & cb_publish) {
      if (mask & cb_publish)
        c_->on_publish([s = s_](int mid, boost::system::error_code ec, tern::reason rc) {
          call(*s, "_native_publish", [&] { return py::make_tuple(mid, err_tuple(ec), static_cast<int>(rc)); });
        });
      else c_->on_publish({});
    }
    auto sub = [this](const char* name) {
      return [s = s_, name](int mid, boost::system::error_code ec, const std::vector<tern::reason>& codes) {
        call(*s, name, [&] {
          py::list l;
          for (auto r : codes) l.append(static_cast<int>(r));
          return py::make_tuple(mid, err_tuple(ec), l);
        });
      };
    };
    if (changed & cb_subscribe) c_->on_subscribe(mask & cb_subscribe ? sub("_native_subscribe") : tern::Client::subscribe_callback{});
    if (changed & cb_unsubscribe)
      c_->on_unsubscribe(mask & cb_unsubscribe ? sub("_native_unsubscribe") : tern::Client::subscribe_callback{});
    if (changed & cb_disconnect) {
      if (mask & cb_disconnect)
        c_->on_disconnect([s = s_](boost::system::error_code ec) { call(*s, "_native_disconnect", [&] { return py::make_tuple(err_tuple(ec)); }); });
      else c_->on_disconnect({});
    }
    if (changed & cb_log) {
      if (mask & cb_log)
        c_->on_log([s = s_](tern::log::level l, std::string_view msg) {
          call(*s, "_native_log", [&] { return py::make_tuple(static_cast<int>(l), text(msg)); });
        });
      else c_->on_log({});
    }
  }

  void message_callback_add(std::string filter) {
    c_->message_callback_add(filter, [s = s_, filter, v5 = v5_](const tern::publish_packet& m) {
      call(*s, "_native_filtered", [&] { return py::make_tuple(filter, make_message(m, *v5)); });
    });
  }
  void message_callback_remove(std::string filter) { c_->message_callback_remove(std::move(filter)); }

  // ---- the connection
  native_token connect_async(std::string uri, py::dict o) { return {c_->connect_async(std::move(uri), connect_opts(o))}; }

  py::tuple connect(std::string uri, py::dict o) {
    auto opts = connect_opts(o);
    boost::system::error_code ec;
    {
      py::gil_scoped_release r;
      ec = c_->connect(std::move(uri), std::move(opts));
    }
    return err_tuple(ec);
  }

  py::tuple reconnect() {
    boost::system::error_code ec;
    {
      py::gil_scoped_release r;
      ec = c_->reconnect();
    }
    return err_tuple(ec);
  }

  native_token disconnect(int code, const py::bytes& props) {
    if (code < 0 || code > 255) throw py::value_error("reasoncode: not a byte");
    return {c_->disconnect(static_cast<tern::reason>(code), parse_props(props, tern::property_context::disconnect, "properties"))};
  }

  bool connected() const { return c_->connected(); }
  std::string client_id() const { return c_->client_id(); }

  // ---- messages
  native_token publish(std::string_view topic, std::string_view payload, int q, bool retain, const py::bytes& props) {
    tern::publish_packet m(topic, tern::shared_bytes::copy(payload), to_qos(q, "qos"), retain,
                           parse_props(props, tern::property_context::publish, "properties"));
    return {c_->publish(std::move(m))};
  }

  // paho's publish(topic, payload=None, qos=0, retain=False,
  // properties=None), checked as paho checks it, in one call from Python
  // (see fast_publish below). The topic and the payload are copied once,
  // into one block; the MessageInfo is a new reference.
  PyObject* publish_paho(PyObject* topic, PyObject* payload, PyObject* qos, PyObject* retain, PyObject* properties) {
    const char* tp = nullptr;
    Py_ssize_t tn = 0;
    if (PyUnicode_Check(topic)) {
      tp = PyUnicode_AsUTF8AndSize(topic, &tn);
      if (!tp) throw py::error_already_set();
    } else if (PyBytes_Check(topic)) {
      tp = PyBytes_AS_STRING(topic);
      tn = PyBytes_GET_SIZE(topic);
    } else {
      throw py::type_error(std::string("topic: must be a str, not ") + Py_TYPE(topic)->tp_name);
    }
    const std::string_view topic_s(tp, static_cast<std::size_t>(tn));
    if (topic_s.empty() && !*v5_) throw py::value_error("Invalid topic.");
    if (topic_s.find_first_of("+#") != std::string_view::npos)
      throw py::value_error("Publish topic cannot contain wildcards.");
    if (!PyLong_Check(qos) || PyBool_Check(qos))
      throw py::type_error(std::string("qos: must be an int 0, 1 or 2, not ") + Py_TYPE(qos)->tp_name);
    const long q = PyLong_AsLong(qos);
    if (q < 0 || q > 2) {
      PyErr_Clear();  // an overflow is "invalid" too
      throw py::value_error("Invalid QoS level.");
    }
    std::string_view data;
    py::object keep;
    if (payload == Py_None) {
    } else if (PyBytes_Check(payload)) {
      data = std::string_view(PyBytes_AS_STRING(payload), static_cast<std::size_t>(PyBytes_GET_SIZE(payload)));
    } else if (PyUnicode_Check(payload)) {
      Py_ssize_t n = 0;
      const char* p = PyUnicode_AsUTF8AndSize(payload, &n);
      if (!p) throw py::error_already_set();
      data = std::string_view(p, static_cast<std::size_t>(n));
    } else if (PyByteArray_Check(payload) || PyMemoryView_Check(payload)) {
      keep = py::reinterpret_steal<py::object>(PyBytes_FromObject(payload));
      if (!keep) throw py::error_already_set();
      data = std::string_view(PyBytes_AS_STRING(keep.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(keep.ptr())));
    } else if ((PyLong_Check(payload) || PyFloat_Check(payload)) && !PyBool_Check(payload)) {
      keep = py::str(payload).attr("encode")("ascii");
      data = std::string_view(PyBytes_AS_STRING(keep.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(keep.ptr())));
    } else {
      throw py::type_error("payload must be a string, bytearray, int, float or None.");
    }
    if (data.size() > 268435455) throw py::value_error("Payload too large.");
    tern::properties props;
    if (properties != Py_None && *v5_) {
      if (PyObject_HasAttrString(properties, "_body") != 1)
        throw py::type_error(std::string("properties: must be a Properties instance, not ") +
                             Py_TYPE(properties)->tp_name);
      props = parse_props(py::handle(properties).attr("_body")().cast<py::bytes>(), tern::property_context::publish,
                          "properties");
    }
    const int r = PyObject_IsTrue(retain);
    if (r < 0) throw py::error_already_set();
    // One block: the topic, then the payload.
    std::byte* out = nullptr;
    auto block = tern::shared_bytes::allocate(topic_s.size() + data.size(), out);
    if (!topic_s.empty()) std::memcpy(out, topic_s.data(), topic_s.size());
    if (!data.empty()) std::memcpy(out + topic_s.size(), data.data(), data.size());
    tern::publish_packet m(block.slice(0, topic_s.size()), block.slice(topic_s.size(), data.size()), std::move(props),
                           static_cast<tern::qos>(q), r == 1, false, 0);
    auto t = c_->publish(std::move(m));
    const int mid = t.mid();
    return new_message_info(mid, c_->connected() ? 0 : 4, std::move(t));
  }

  void set_protocol(int v) { *v5_ = v == 5; }

  // subs: [(filter, qos, no_local, retain_as_published, retain_handling)]
  native_token subscribe(const std::vector<std::tuple<std::string, int, bool, bool, int>>& subs, const py::bytes& props) {
    std::vector<tern::subscription> v;
    for (auto& [f, q, nl, rap, rh] : subs) {
      if (rh < 0 || rh > 2) throw py::value_error("retainHandling: must be 0, 1 or 2");
      v.push_back({f, {.max_qos = to_qos(q, "qos"), .no_local = nl, .retain_as_published = rap,
                       .retain_handling = static_cast<tern::retain_handling>(rh)}});
    }
    return {c_->subscribe(std::move(v), parse_props(props, tern::property_context::subscribe, "properties"))};
  }

  native_token unsubscribe(std::vector<std::string> filters, const py::bytes& props) {
    return {c_->unsubscribe(std::move(filters), parse_props(props, tern::property_context::unsubscribe, "properties"))};
  }

  native_token ping() { return {c_->ping()}; }

  // ---- the loop
  bool loop_start() { return c_->loop_start(); }
  void loop_stop() {
    py::gil_scoped_release r;
    c_->loop_stop();
  }
  // Runs the loop for `timeout` seconds; on the main thread in slices of
  // 100 ms, so that Ctrl-C (any exception from a signal handler) ends it
  // within one and is raised, as it ends paho's select().
  void loop(double timeout) {
    const bool main = on_main_thread();
    const auto end = std::chrono::steady_clock::now() + to_ms(timeout);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      {
        py::gil_scoped_release r;
        c_->loop(main ? std::min<std::chrono::milliseconds>(left, 100ms) : left);
      }
      if (main && PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!main || std::chrono::steady_clock::now() >= end) return;
    }
  }

  // Runs the loop until disconnect()/loop_stop()/the end of the session;
  // Ctrl-C (any exception from a signal handler) stops it and is raised.
  py::tuple loop_forever() {
    const bool main = on_main_thread();
    const auto me = std::this_thread::get_id();
    tern::Client::event_id watch = 0;
    if (main)
      watch = c_->new_event(100ms, [s = s_, me] {
        if (std::this_thread::get_id() != me || finalizing.load()) return true;
        gil g;
        if (PyErr_CheckSignals() == 0) return true;
        s->pending = std::make_unique<py::error_already_set>();
        s->client->loop_stop();
        return false;
      });
    boost::system::error_code ec;
    {
      py::gil_scoped_release r;
      ec = c_->loop_forever();
    }
    if (watch) c_->remove_event(watch);
    rethrow_pending();
    return err_tuple(ec);
  }

  // Calls `f` once on the loop after `delay` seconds (on whichever thread
  // drives it then).
  void call_later(double delay, py::object f) {
    if (!PyCallable_Check(f.ptr())) throw py::type_error(std::string("f: must be callable, not ") + Py_TYPE(f.ptr())->tp_name);
    // Dropped with the GIL held, wherever the timer goes (at exit: leaked).
    std::shared_ptr<py::object> holder(new py::object(std::move(f)), [](py::object* p) {
      if (finalizing.load() || !Py_IsInitialized()) {
        p->release();
      } else {
        gil g;
        p->release().dec_ref();
      }
      delete p;
    });
    c_->new_event(std::max(to_ms(delay), std::chrono::milliseconds(1)), [s = s_, holder] {
      if (finalizing.load()) return false;
      gil g;
      auto prev = tl_in_callback;
      tl_in_callback = s.get();
      try {
        (*holder)();
      } catch (py::error_already_set& e) {
        e.discard_as_unraisable("tern: call_later");
      }
      *holder = py::none();  // its references go while tl_in_callback says where we are
      tl_in_callback = prev;
      return false;
    });
  }

  // atexit: stop the loop thread (callbacks no longer take the GIL).
  void stop_for_exit() {
    if (!c_) return;
    py::gil_scoped_release r;
    c_->loop_stop();
  }

 private:
  tern::connect_options connect_opts(py::dict o) {
    tern::connect_options c;
    auto v = cast_arg<int>(option(o, "version"), "version");
    if (v != 3 && v != 4 && v != 5) throw py::value_error("protocol: must be MQTTv31, MQTTv311 or MQTTv5");
    c.version = static_cast<tern::protocol_version>(v);
    c.client_id = cast_arg<std::string>(option(o, "client_id"), "client_id");
    c.clean_start = cast_arg<bool>(option(o, "clean_start"), "clean_start");
    auto ka = cast_arg<long>(option(o, "keep_alive"), "keepalive");
    if (ka < 0 || ka > 65535) throw py::value_error("keepalive: must be 0..65535");
    c.keep_alive = static_cast<std::uint16_t>(ka);
    if (auto u = option(o, "username"); !u.is_none()) c.username = cast_arg<std::string>(u, "username");
    if (auto p = option(o, "password"); !p.is_none()) c.password = cast_arg<std::string>(p, "password");
    if (auto will = option(o, "will"); !will.is_none()) {
      if (!PyTuple_Check(will.ptr()) || PyTuple_GET_SIZE(will.ptr()) != 5)
        throw py::type_error("will: must be a (topic, payload, qos, retain, properties) tuple");
      auto w = will.cast<py::tuple>();
      tern::will_message m;
      m.topic = cast_arg<std::string>(w[0], "will topic");
      m.payload = tern::shared_bytes::copy(std::string_view(cast_arg<py::bytes>(w[1], "will payload")));
      m.qos = to_qos(cast_arg<int>(w[2], "will qos"), "will qos");
      m.retain = cast_arg<bool>(w[3], "will retain");
      m.props = parse_props(cast_arg<py::bytes>(w[4], "will properties"), tern::property_context::will, "properties");
      c.will = std::move(m);
    }
    if (auto se = option(o, "session_expiry"); !se.is_none())
      c.session_expiry = cast_arg<std::uint32_t>(se, "session_expiry");
    auto props = cast_arg<py::bytes>(option(o, "props"), "props");
    if (!std::string_view(props).empty()) {
      // The Session Expiry Interval travels in session_expiry (the client
      // sends it itself); the rest as given.
      auto p = parse_props(props, tern::property_context::connect, "properties");
      if (auto se = p.get<tern::property_id::session_expiry_interval>()) {
        c.session_expiry = *se;
        p = p.without(tern::property_id::session_expiry_interval);
      }
      c.props = std::move(p);
    }
    return c;
  }

  void rethrow_pending() {
    if (!s_->pending) return;
    auto e = std::move(s_->pending);
    e->restore();
    throw py::error_already_set();
  }

  std::shared_ptr<shared_state> s_;
  std::shared_ptr<bool> v5_ = std::make_shared<bool>(false);  // MQTT 5: messages carry properties
  std::unique_ptr<tern::Client> c_;
  unsigned mask_ = 0;
};

// publish_paho as a builtin function (METH_FASTCALL) bound to a capsule that
// holds the native_client (and a reference to its Python object): a call
// costs what a call of a C function does, without pybind11's dispatcher.
PyObject* fast_publish(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"topic", "payload", "qos", "retain", "properties"};
  static PyObject* const zero = PyLong_FromLong(0);  // immortal in effect
  PyObject* a[5] = {nullptr, Py_None, zero, Py_False, Py_None};
  if (nargs > 5) {
    PyErr_Format(PyExc_TypeError, "publish() takes at most 5 arguments (%zd given)", nargs);
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) a[i] = args[i];
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    PyObject* name = PyTuple_GET_ITEM(kwnames, k);
    int at = -1;
    for (int i = 0; i < 5; ++i)
      if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0) at = i;
    if (at < 0) {
      PyErr_Format(PyExc_TypeError, "publish() got an unexpected keyword argument '%U'", name);
      return nullptr;
    }
    if (at < nargs) {
      PyErr_Format(PyExc_TypeError, "publish() got multiple values for argument '%s'", names[at]);
      return nullptr;
    }
    a[at] = args[nargs + k];
  }
  if (!a[0]) {
    PyErr_SetString(PyExc_TypeError, "publish() missing required argument 'topic'");
    return nullptr;
  }
  auto* c = static_cast<native_client*>(PyCapsule_GetPointer(self, nullptr));
  if (!c) return nullptr;
  try {
    return c->publish_paho(a[0], a[1], a[2], a[3], a[4]);
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (py::builtin_exception& e) {
    e.set_error();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

PyMethodDef fast_publish_def = {
    "publish", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_publish)),
    METH_FASTCALL | METH_KEYWORDS,
    "publish(topic, payload=None, qos=0, retain=False, properties=None) -> MessageInfo (paho's checks)"};

py::object make_fast_publish(py::object self) {
  auto* c = &self.cast<native_client&>();
  PyObject* cap = PyCapsule_New(c, nullptr, [](PyObject* cap) {
    Py_XDECREF(static_cast<PyObject*>(PyCapsule_GetContext(cap)));
  });
  if (!cap) throw py::error_already_set();
  if (PyCapsule_SetContext(cap, self.release().ptr()) != 0) {
    Py_DECREF(cap);
    throw py::error_already_set();
  }
  PyObject* f = PyCFunction_NewEx(&fast_publish_def, cap, nullptr);
  Py_DECREF(cap);
  if (!f) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(f);
}

void shutdown_all() {
  finalizing = true;
  std::vector<native_client*> all;
  {
    std::lock_guard lk(g_clients_m);
    all.assign(g_clients.begin(), g_clients.end());
  }
  for (auto* c : all) c->stop_for_exit();
}

}  // namespace

void bind_client(py::module_& m) {
  py::class_<native_client>(m, "Client")
      .def(py::init<py::object, bool, double, double, std::size_t, std::size_t, std::string, py::dict, int,
                    std::vector<std::pair<std::string, std::string>>>(),
           py::arg("owner"), py::arg("reconnect") = true, py::arg("reconnect_min") = 1.0,
           py::arg("reconnect_max") = 120.0, py::arg("max_queued") = 0, py::arg("max_inflight") = 0,
           py::arg("persistence_dir") = "", py::arg("tls") = py::dict(),
           py::arg("log_level") = 2, py::arg("ws_headers") = std::vector<std::pair<std::string, std::string>>{})
      .def("set_callbacks", &native_client::set_callbacks)
      .def("message_callback_add", &native_client::message_callback_add)
      .def("message_callback_remove", &native_client::message_callback_remove)
      .def("connect_async", &native_client::connect_async)
      .def("connect", &native_client::connect)
      .def("reconnect", &native_client::reconnect)
      .def("disconnect", &native_client::disconnect)
      .def("connected", &native_client::connected)
      .def("client_id", &native_client::client_id)
      .def("publish", &native_client::publish)
      // A builtin function (fast_publish), made at each access: keep it (the
      // paho layer makes it the instance's publish).
      .def_property_readonly("publish_paho", &make_fast_publish)
      .def("set_protocol", &native_client::set_protocol)
      .def("subscribe", &native_client::subscribe)
      .def("unsubscribe", &native_client::unsubscribe)
      .def("ping", &native_client::ping)
      .def("loop_start", &native_client::loop_start)
      .def("loop_stop", &native_client::loop_stop)
      .def("loop", &native_client::loop)
      .def("loop_forever", &native_client::loop_forever)
      .def("call_later", &native_client::call_later);

  m.attr("CB_CONNECT") = static_cast<int>(cb_connect);
  m.attr("CB_MESSAGE") = static_cast<int>(cb_message);
  m.attr("CB_PUBLISH") = static_cast<int>(cb_publish);
  m.attr("CB_SUBSCRIBE") = static_cast<int>(cb_subscribe);
  m.attr("CB_UNSUBSCRIBE") = static_cast<int>(cb_unsubscribe);
  m.attr("CB_DISCONNECT") = static_cast<int>(cb_disconnect);
  m.attr("CB_LOG") = static_cast<int>(cb_log);
  m.def("_shutdown_all", &shutdown_all);
  py::module_::import("atexit").attr("register")(m.attr("_shutdown_all"));
}

}  // namespace tern::python
