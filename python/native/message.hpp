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

// A request's outcome (tern::token), what MQTTMessageInfo and the other
// Python-side handles wait on.
struct native_token {
  tern::token t;
  int mid() const { return t.mid(); }
  bool is_complete() const { return t.is_complete(); }
  // Waits (GIL released) until complete or `timeout` seconds (None: for
  // ever); Ctrl-C on the main thread interrupts it. In a callback on the
  // client's own loop (which cannot run while it waits), or once the client
  // stopped, it returns at once: false unless already complete.
  bool wait(std::optional<double> timeout) const;
  py::tuple error() const;
  std::vector<int> reason_codes() const;
  py::object connack() const;
};

// paho's MQTTMessageInfo: what publish() returns. mid, rc, the (rc, mid)
// pair of older paho, and the publish's outcome (a tern::token).
struct message_info {
  int mid = 0;
  int rc = 0;
  std::optional<native_token> t;

  void check_rc() const;
  void wait_for_publish(py::object timeout) const;
  bool is_published() const;
};

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
  py::object info_;         // a message_info, made on first use
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
