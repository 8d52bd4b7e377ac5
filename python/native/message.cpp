#include "message.hpp"

#include <chrono>
#include <climits>
#include <cmath>
#include <memory>
#include <new>
#include <string>

#include "convert.hpp"
#include "gil.hpp"

namespace tern::python {

using namespace std::chrono_literals;

namespace {

// tern.paho.mqtt.properties._from_native, set at import; never released
// (it would be after the interpreter is gone).
py::object* g_properties_factory = nullptr;

}  // namespace

bool wait_token(const tern::token& t, std::optional<double> timeout) {
  if (t.is_complete()) return true;
  const auto deadline = timeout ? std::chrono::steady_clock::now() + to_ms(*timeout)
                                : std::chrono::steady_clock::time_point::max();
  const bool main = on_main_thread();
  for (;;) {
    bool done = false;
    bool early = false;
    {
      py::gil_scoped_release r;
      const auto now = std::chrono::steady_clock::now();
      const auto left = deadline - now;
      auto step = main ? std::min<std::chrono::steady_clock::duration>(left, 100ms) : left;
      if (step < 0ms) step = 0ms;
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(step);
      done = t.wait(ms);
      // tern::token::wait gives up before its time only where it must not
      // block: in a callback on the client's own loop, or once the client
      // stopped. Asking again would spin until the deadline.
      early = !done && std::chrono::steady_clock::now() < now + ms;
    }
    if (done) return true;
    if (early) return false;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (main && PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

py::tuple native_token::error() const { return err_tuple(t.error()); }
std::vector<int> native_token::reason_codes() const {
  std::vector<int> v;
  for (auto r : t.reason_codes()) v.push_back(static_cast<int>(r));
  return v;
}

py::object native_token::connack() const {
  auto a = t.connack();
  if (!a) return py::none();
  return py::make_tuple(a->session_present, static_cast<int>(a->reason_code), props_or_none(a->props));
}

// ---------------------------------------------------------------- MessageInfo

namespace {

struct info_object {
  PyObject_HEAD
  int mid;
  int rc;
  bool has_token;
  alignas(tern::token) unsigned char token_storage[sizeof(tern::token)];  // a tern::token when has_token

  tern::token& token() { return *std::launder(reinterpret_cast<tern::token*>(token_storage)); }
};

PyTypeObject* g_info_type = nullptr;

info_object* make_info(PyTypeObject* type, int mid, int rc) {
  auto* o = PyObject_New(info_object, type);
  if (!o) return nullptr;
  o->mid = mid;
  o->rc = rc;
  o->has_token = false;
  return o;
}

void info_dealloc(PyObject* self) {
  auto* o = reinterpret_cast<info_object*>(self);
  if (o->has_token) o->token().~token();
  auto* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);  // a heap type
}

// `v` as a C int: TypeError naming `arg` for what is not an int, ValueError
// for one out of range (where "i" and T_INT say OverflowError).
bool int_arg(PyObject* v, const char* arg, int& out) {
  if (!v) {
    PyErr_Format(PyExc_TypeError, "%s: cannot be deleted", arg);
    return false;
  }
  if (!PyLong_Check(v)) {
    PyErr_Format(PyExc_TypeError, "%s: must be an int, not %s", arg, Py_TYPE(v)->tp_name);
    return false;
  }
  int overflow = 0;
  const long x = PyLong_AsLongAndOverflow(v, &overflow);
  if (x == -1 && PyErr_Occurred()) return false;
  if (overflow != 0 || x < INT_MIN || x > INT_MAX) {
    PyErr_Format(PyExc_ValueError, "%s: out of range", arg);
    return false;
  }
  out = static_cast<int>(x);
  return true;
}

PyObject* info_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"mid", nullptr};
  PyObject* mid_arg = nullptr;
  int mid = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:MessageInfo", const_cast<char**>(kwlist), &mid_arg) ||
      !int_arg(mid_arg, "mid", mid))
    return nullptr;
  // tp_alloc: a Python subclass may be a GC type (a __dict__); publish makes
  // the exact type, with make_info().
  auto* o = reinterpret_cast<info_object*>(type->tp_alloc(type, 0));
  if (!o) return nullptr;
  o->mid = mid;
  o->rc = 0;
  o->has_token = false;
  return reinterpret_cast<PyObject*>(o);
}

// paho raises for a publish that was not queued.
bool check_rc(const info_object* o) {
  if (o->rc == 15) {
    PyErr_SetString(PyExc_ValueError, "Message is not queued due to ERR_QUEUE_SIZE");
    return false;
  }
  if (o->rc > 0 && o->rc != 4) {
    PyErr_Format(PyExc_RuntimeError, "Message publish failed: error %d", o->rc);
    return false;
  }
  return true;
}

// wait_for_publish(timeout=None)
PyObject* info_wait_for_publish(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* o = reinterpret_cast<info_object*>(self);
  PyObject* timeout = Py_None;
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  if (nargs + nkw > 1) {
    PyErr_SetString(PyExc_TypeError, "wait_for_publish() takes at most 1 argument (timeout)");
    return nullptr;
  }
  if (nargs == 1) timeout = args[0];
  if (nkw == 1) {
    if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "timeout") != 0) {
      PyErr_SetString(PyExc_TypeError, "wait_for_publish() got an unexpected keyword argument");
      return nullptr;
    }
    timeout = args[0];
  }
  if (!check_rc(o)) return nullptr;
  std::optional<double> secs;
  if (timeout != Py_None) {
    if (!PyLong_Check(timeout) && !PyFloat_Check(timeout)) {
      PyErr_SetString(PyExc_TypeError, "timeout: must be a number of seconds or None");
      return nullptr;
    }
    secs = PyFloat_AsDouble(timeout);
    if (PyErr_Occurred()) return nullptr;
    if (std::isnan(*secs)) {
      PyErr_SetString(PyExc_ValueError, "timeout: must be a number of seconds or None, not nan");
      return nullptr;
    }
  }
  if (o->has_token) {
    try {
      wait_token(o->token(), secs);
    } catch (py::error_already_set& e) {
      e.restore();
      return nullptr;
    }
  }
  Py_RETURN_NONE;
}

PyObject* info_is_published(PyObject* self, PyObject*) {
  auto* o = reinterpret_cast<info_object*>(self);
  if (!check_rc(o)) return nullptr;
  const bool yes = o->has_token && o->token().is_complete() && !o->token().error();
  return PyBool_FromLong(yes ? 1 : 0);
}

PyObject* info_item(PyObject* self, Py_ssize_t k) {
  auto* o = reinterpret_cast<info_object*>(self);
  if (k == 0) return PyLong_FromLong(o->rc);
  if (k == 1) return PyLong_FromLong(o->mid);
  PyErr_SetString(PyExc_IndexError, "index out of range");
  return nullptr;
}

PyObject* info_pair(PyObject* self) {
  auto* o = reinterpret_cast<info_object*>(self);
  return Py_BuildValue("(ii)", o->rc, o->mid);
}

PyObject* info_iter(PyObject* self) {
  PyObject* t = info_pair(self);
  if (!t) return nullptr;
  PyObject* it = PyObject_GetIter(t);
  Py_DECREF(t);
  return it;
}

PyObject* info_str(PyObject* self) {
  PyObject* t = info_pair(self);
  if (!t) return nullptr;
  PyObject* s = PyObject_Str(t);
  Py_DECREF(t);
  return s;
}

PyMethodDef info_methods[] = {
    {"wait_for_publish", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&info_wait_for_publish)),
     METH_FASTCALL | METH_KEYWORDS, "Blocks until the message is published (QoS 0: written; 1: PUBACK; 2: PUBCOMP) "
     "or `timeout` seconds pass."},
    {"is_published", &info_is_published, METH_NOARGS, "True once the message is published without error."},
    {nullptr, nullptr, 0, nullptr}};

template <int info_object::*field>
PyObject* info_get(PyObject* self, void*) {
  return PyLong_FromLong(reinterpret_cast<info_object*>(self)->*field);
}

template <int info_object::*field>
int info_set(PyObject* self, PyObject* v, void* name) {
  return int_arg(v, static_cast<const char*>(name), reinterpret_cast<info_object*>(self)->*field) ? 0 : -1;
}

PyGetSetDef info_getset[] = {
    {"mid", &info_get<&info_object::mid>, &info_set<&info_object::mid>, "The message id.", const_cast<char*>("mid")},
    {"rc", &info_get<&info_object::rc>, &info_set<&info_object::rc>,
     "MQTT_ERR_SUCCESS, or why it was not sent now (MQTT_ERR_NO_CONN: queued).", const_cast<char*>("rc")},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot info_slots[] = {
    {Py_tp_doc, const_cast<char*>("paho's MQTTMessageInfo: mid, rc, wait_for_publish(), is_published()")},
    {Py_tp_new, reinterpret_cast<void*>(&info_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(&info_dealloc)},
    {Py_tp_methods, info_methods},
    {Py_tp_getset, info_getset},
    {Py_tp_iter, reinterpret_cast<void*>(&info_iter)},
    {Py_tp_str, reinterpret_cast<void*>(&info_str)},
    {Py_sq_item, reinterpret_cast<void*>(&info_item)},
    {0, nullptr}};

PyType_Spec info_spec = {"tern._tern.MessageInfo", sizeof(info_object), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
                         info_slots};

}  // namespace

PyObject* new_message_info(int mid, int rc, std::optional<tern::token> t) {
  auto* o = make_info(g_info_type, mid, rc);
  if (!o) throw py::error_already_set();
  if (t) {
    new (o->token_storage) tern::token(std::move(*t));
    o->has_token = true;
  }
  return reinterpret_cast<PyObject*>(o);
}

py::object message::properties() {
  if (!props_raw_.is_none() || (v5 && properties_.is_none())) {
    properties_ = g_properties_factory ? (*g_properties_factory)(3, props_raw_) : py::none();
    props_raw_ = py::none();
  }
  return properties_;
}

py::object make_message(const tern::publish_packet& m, bool v5) {
  auto msg = std::make_unique<message>();
  msg->topic_ = to_bytes(m.topic());
  msg->payload = to_bytes(view(m.payload()));
  msg->qos = static_cast<int>(m.qos);
  msg->retain = m.retain;
  msg->dup = m.dup;
  msg->mid = m.packet_id;
  msg->timestamp = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  msg->v5 = v5;
  msg->info_ = py::none();
  msg->properties_ = py::none();
  msg->props_raw_ = v5 ? props_or_none(m.props()) : py::none();
  return py::cast(std::move(msg));
}

void bind_messages(py::module_& m) {
  py::class_<native_token>(m, "Token")
      .def_property_readonly("mid", &native_token::mid)
      .def("is_complete", &native_token::is_complete)
      .def("wait", &native_token::wait, py::arg("timeout") = py::none())
      .def("error", &native_token::error)
      .def("reason_codes", &native_token::reason_codes)
      .def("connack", &native_token::connack);

  g_info_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&info_spec));  // kept for ever
  if (!g_info_type) throw py::error_already_set();
  m.attr("MessageInfo") = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(g_info_type));

  py::class_<message>(m, "Message", "paho's MQTTMessage: topic, payload, qos, retain, mid, dup, properties")
      .def(py::init([](int mid, py::object topic) {
             auto msg = std::make_unique<message>();
             msg->mid = mid;
             msg->topic_ = PyUnicode_Check(topic.ptr()) ? py::bytes(topic.attr("encode")("utf-8")) : py::bytes(topic);
             msg->info_ = py::none();
             msg->properties_ = py::none();
             msg->props_raw_ = py::none();
             return msg;
           }),
           py::arg("mid") = 0, py::arg("topic") = py::bytes())
      .def_readwrite("timestamp", &message::timestamp)
      .def_readwrite("state", &message::state)
      .def_readwrite("dup", &message::dup)
      .def_readwrite("mid", &message::mid)
      .def_readwrite("payload", &message::payload)
      .def_readwrite("qos", &message::qos)
      .def_readwrite("retain", &message::retain)
      .def_property(
          "topic", [](const message& m) { return py::str(m.topic_.attr("decode")("utf-8")); },
          [](message& m, py::object t) {
            m.topic_ = PyUnicode_Check(t.ptr()) ? py::bytes(t.attr("encode")("utf-8")) : py::bytes(t);
          })
      .def_property(
          "_topic", [](const message& m) { return m.topic_; }, [](message& m, py::bytes t) { m.topic_ = t; })
      .def_property(
          "properties", [](message& m) { return m.properties(); },
          [](message& m, py::object p) {
            m.properties_ = p;
            m.props_raw_ = py::none();
          })
      .def_property(
          "info",
          [](message& m) {
            if (m.info_.is_none()) m.info_ = py::reinterpret_steal<py::object>(new_message_info(m.mid, 0));
            return m.info_;
          },
          [](message& m, py::object i) { m.info_ = i; })
      .def("__eq__", [](const message& a, py::object b) {
        return py::isinstance<message>(b) && a.mid == b.cast<const message&>().mid;
      })
      .def("__ne__", [](const message& a, py::object b) {
        return !(py::isinstance<message>(b) && a.mid == b.cast<const message&>().mid);
      })
      .def("__hash__", [](const message& a) { return a.mid; });
  m.def("_set_properties_factory", [](py::object f) {
    if (!g_properties_factory) g_properties_factory = new py::object();
    *g_properties_factory = std::move(f);
  });
}

}  // namespace tern::python
