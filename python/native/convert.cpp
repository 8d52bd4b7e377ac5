#include "convert.hpp"

#include <string>

#include <boost/asio/error.hpp>

#include "tern/client/error.hpp"
#include "tern/core/error.hpp"

namespace tern::python {

using namespace std::chrono_literals;

py::tuple err_tuple(const boost::system::error_code& ec) {
  // tern's own categories are std::error_category: compare them as std.
  const std::error_code sec = ec;
  int kind = 6;
  if (!ec) kind = 0;
  else if (ec == boost::asio::error::operation_aborted) kind = 4;
  else if (sec.category() == tern::reason_category()) kind = 1;
  else if (sec.category() == tern::connect_return_code_category()) kind = 2;
  else if (sec.category() == tern::client_error_category()) kind = 3;
  else if (ec.category() == boost::system::system_category() || ec.category() == boost::system::generic_category())
    kind = 5;
  if (kind == 0) return py::make_tuple(0, 0, std::string());
  return py::make_tuple(kind, kind <= 3 ? sec.value() : ec.value(), ec.message());
}

tern::properties parse_props(const py::bytes& raw, tern::property_context ctx, const char* arg) {
  std::string_view s = raw;
  if (s.empty()) return {};
  auto r = tern::properties::parse(tern::shared_bytes::copy(s), ctx);
  if (!r) throw py::value_error(std::string(arg) + ": not a valid MQTT 5 property block for this packet");
  return std::move(r).value();
}

tern::qos to_qos(int q, const char* arg) {
  if (q < 0 || q > 2) throw py::value_error(std::string(arg) + ": QoS must be 0, 1 or 2");
  return static_cast<tern::qos>(q);
}

py::object option(const py::dict& o, const char* key) {
  PyObject* v = PyDict_GetItemString(o.ptr(), key);  // borrowed
  if (!v) throw py::value_error(std::string("options: no '") + key + "'");
  return py::reinterpret_borrow<py::object>(v);
}

py::object props_or_none(const tern::properties& p) {
  if (p.empty()) return py::none();
  auto r = p.raw();
  return py::bytes(reinterpret_cast<const char*>(r.data()), r.size());
}

std::chrono::milliseconds to_ms(double seconds) {
  if (!(seconds >= 0)) return 0ms;
  if (seconds > 1e9) return std::chrono::seconds(1'000'000'000);
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0 + 0.5));
}

py::str text(std::string_view s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

}  // namespace tern::python
