// tern._tern: the native half of the tern Python package (pybind11).
// The pure-Python layers (python/tern/paho/...) give it paho-mqtt's shape.
//   gil:      the GIL from tern's own threads, and the interpreter's exit
//   convert:  bytes, errors, properties, QoS and durations both ways
//   message:  Token, MessageInfo and Message (paho's message objects)
//   client:   Client, over tern::Client
//   broker:   Broker, over tern::Broker, with hooks in Python
#include <pybind11/pybind11.h>

#include "broker.hpp"
#include "client.hpp"
#include "message.hpp"

PYBIND11_MODULE(_tern, m) {
  m.doc() = "tern's native client and broker (tern::Client, tern::Broker); use tern.paho.mqtt.client, tern.Broker";
  tern::python::bind_messages(m);
  tern::python::bind_client(m);
  tern::python::bind_broker(m);
}
