// _tern.Client: tern::Client for Python (client.cpp).
#pragma once

#include <pybind11/pybind11.h>

namespace tern::python {

// Client, the CB_* event bits and _shutdown_all (registered with atexit)
// into `m`.
void bind_client(pybind11::module_& m);

}  // namespace tern::python
