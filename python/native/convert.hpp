// Values between tern and Python: bytes, errors, properties, QoS, durations.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/system/error_code.hpp>

#include "tern/codec/packet.hpp"
#include "tern/codec/properties.hpp"
#include "tern/core/bytes.hpp"

namespace tern::python {

namespace py = pybind11;

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_same_v<T, std::string>) return "str";
  else if constexpr (std::is_same_v<T, py::bytes>) return "bytes";
  else if constexpr (std::is_same_v<T, py::tuple>) return "tuple";
  else return "value of the right type";
}

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

// v as a T, or TypeError naming `arg` (ValueError for an int out of T's
// range), where pybind11's own cast says RuntimeError ("Unable to cast").
template <class T>
T cast_arg(py::handle v, const char* arg) {
  if constexpr (std::is_base_of_v<py::object, T>) {
    if (!py::isinstance<T>(v))
      throw py::type_error(std::string(arg) + ": not a " + type_name<T>() + " but a " + Py_TYPE(v.ptr())->tp_name);
    return py::reinterpret_borrow<T>(v);
  }
  try {
    return v.cast<T>();
  } catch (const py::cast_error&) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (PyLong_Check(v.ptr())) throw py::value_error(std::string(arg) + ": out of range");
    }
    throw py::type_error(std::string(arg) + ": not a " + type_name<T>() + " but a " + Py_TYPE(v.ptr())->tp_name);
  }
}

// The value of `key` in the options dict `o`, or ValueError naming it.
py::object option(const py::dict& o, const char* key);

// Seconds (a Python float) to milliseconds: negative and NaN are 0; more
// than 1e9 s (inf, 2**64...) is 1e9 s, 31 years: for ever in effect, and
// still a duration the clocks can add to now() (milliseconds::max() as
// nanoseconds overflows).
std::chrono::milliseconds to_ms(double seconds);

// Text from tern (log records, error messages that quote what a peer or a
// hook sent) as a str: bytes that are not UTF-8 are \x escapes, not a
// UnicodeDecodeError that loses the record.
py::str text(std::string_view s);

}  // namespace tern::python
