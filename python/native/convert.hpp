// Values between tern and Python: bytes, errors, properties, QoS, durations.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "tern/codec/packet.hpp"
#include "tern/codec/properties.hpp"
#include "tern/core/bytes.hpp"

namespace tern::python {

namespace py = pybind11;

inline std::string_view view(const tern::shared_bytes& b) { return b.view(); }
inline py::bytes to_bytes(std::string_view s) { return py::bytes(s.data(), s.size()); }

// An error_code as (kind, value, message): kind 0 none; 1 an MQTT 5 reason
// code (value: its byte); 2 an MQTT 3.x CONNACK return code; 3 a
// tern.client error (value: tern::client_error); 4 aborted (the client
// stopped); 5 an OS error (value: errno); 6 anything else (TLS, ...).
py::tuple err_tuple(const boost::system::error_code& ec);

// A raw MQTT 5 property block (bytes) for a packet of kind `ctx`;
// ValueError naming `arg` when it is not one.
tern::properties parse_props(const py::bytes& raw, tern::property_context ctx, const char* arg);

// The raw block, or None when there are no properties.
py::object props_or_none(const tern::properties& p);

tern::qos to_qos(int q, const char* arg);

// Seconds (a Python float) to milliseconds: negative is 0, huge is max.
std::chrono::milliseconds to_ms(double seconds);

}  // namespace tern::python
