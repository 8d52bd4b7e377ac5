// paho's message objects, made in C++: a request's outcome (Token, over
// tern::token), MQTTMessageInfo (what publish() returns) and MQTTMessage
// (each message received, or handed to a broker hook).
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "tern/client/client.hpp"
#include "tern/codec/packet.hpp"

namespace tern::python {

namespace py = pybind11;

// Waits (GIL released) until `t` completes or `timeout` seconds pass (None:
// for ever); true when it completed. Ctrl-C on the main thread interrupts it.
bool wait_token(const tern::token& t, std::optional<double> timeout);

// A request's outcome (tern::token), what the Python-side handles wait on.
struct native_token {
  tern::token t;
  int mid() const { return t.mid(); }
  bool is_complete() const { return t.is_complete(); }
  // Waits (GIL released) until complete or `timeout` seconds (None: for
  // ever); Ctrl-C on the main thread interrupts it. In a callback on the
  // client's own loop (which cannot run while it waits), or once the client
  // stopped, it returns at once: false unless already complete.
  bool wait(std::optional<double> timeout) const { return wait_token(t, timeout); }
  py::tuple error() const;
  std::vector<int> reason_codes() const;
  py::object connack() const;
};

// paho's MQTTMessageInfo, what publish() returns: mid, rc, the (rc, mid)
// pair of older paho, wait_for_publish(timeout), is_published(). One is made
// per publish, so it is a CPython type of its own (tern._tern.MessageInfo),
// not a pybind11 class: making one costs an allocation, not a registration
// in pybind11's table of instances. A new reference; `t`: the publish's
// outcome (without one, wait_for_publish() returns at once and
// is_published() is False).
PyObject* new_message_info(int mid, int rc, std::optional<tern::token> t = std::nullopt);

// paho's MQTTMessage, made in C++ for each received message; its
// properties (MQTT 5) are read from the raw block only when asked for.
struct message {
  double timestamp = 0;
  int state = 0;
  bool dup = false;
  int mid = 0;
  py::bytes topic_;
  py::object payload = py::bytes();
  int qos = 0;
  bool retain = false;
  py::object info_;         // a MessageInfo, made on first use
  py::object properties_;   // None, a Properties, or ...
  py::object props_raw_;    // ... the raw block it is read from
  bool v5 = false;

  py::object properties();
};

// A Message for `m`; `v5`: it carries properties.
py::object make_message(const tern::publish_packet& m, bool v5);

// Token, MessageInfo, Message and _set_properties_factory into `m`.
void bind_messages(py::module_& m);

}  // namespace tern::python
