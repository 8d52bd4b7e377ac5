// _tern.Broker: tern::Broker for Python, with hooks in Python (broker.cpp).
#pragma once

#include <pybind11/pybind11.h>

namespace tern::python {

// Broker, BrokerClient, _gil_acquisitions and _stop_all_brokers (registered
// with atexit) into `m`.
void bind_broker(pybind11::module_& m);

}  // namespace tern::python
