#include "message.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
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

bool native_token::wait(std::optional<double> timeout) const {
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

void message_info::check_rc() const {
  if (rc == 15) throw py::value_error("Message is not queued due to ERR_QUEUE_SIZE");
  if (rc > 0 && rc != 4) throw std::runtime_error("Message publish failed: error " + std::to_string(rc));
}

void message_info::wait_for_publish(py::object timeout) const {
  check_rc();
  std::optional<double> secs;
  if (!timeout.is_none()) {
    if (!py::isinstance<py::int_>(timeout) && !py::isinstance<py::float_>(timeout))
      throw py::type_error("timeout: must be a number of seconds or None");
    secs = timeout.cast<double>();
  }
  if (t) t->wait(secs);
}

bool message_info::is_published() const {
  check_rc();
  return t && t->is_complete() && !t->t.error();
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

  py::class_<message_info>(m, "MessageInfo", "paho's MQTTMessageInfo: mid, rc, wait_for_publish(), is_published()")
      .def(py::init([](int mid) {
             message_info i;
             i.mid = mid;
             return i;
           }),
           py::arg("mid"))
      .def_readwrite("mid", &message_info::mid)
      .def_readwrite("rc", &message_info::rc)
      .def("wait_for_publish", &message_info::wait_for_publish, py::arg("timeout") = py::none())
      .def("is_published", &message_info::is_published)
      .def("__getitem__",
           [](const message_info& i, int k) {
             if (k == 0) return i.rc;
             if (k == 1) return i.mid;
             throw py::index_error("index out of range");
           })
      .def("__iter__", [](const message_info& i) { return py::iter(py::make_tuple(i.rc, i.mid)); })
      .def("__str__", [](const message_info& i) { return py::str(py::make_tuple(i.rc, i.mid)); });

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
            if (m.info_.is_none()) {
              message_info i;
              i.mid = m.mid;
              m.info_ = py::cast(i);
            }
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
