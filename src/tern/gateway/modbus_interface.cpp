#include "tern/gateway/modbus_interface.hpp"

#include <modbus.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>
#include <variant>

#include <fmt/format.h>

namespace tern::gateway {

namespace {

using namespace std::chrono_literals;

config_error invalid(std::string detail) { return config_error{std::move(detail)}; }

// Logs `text` and returns an error with a fixed detail (error's detail is a view).
error failed(const interface_context& io, std::error_code code, std::string_view fixed, const std::string& text) {
  io.log.error("modbus interface: {}", text);
  return error{code, fixed};
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string setting_text(const interface_context& io, std::string_view key, std::string fallback) {
  const auto it = io.settings.find(key);
  if (it == io.settings.end()) return fallback;
  if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
  return fallback;
}

struct context_deleter {
  void operator()(modbus_t* m) const {
    modbus_close(m);
    modbus_free(m);
  }
};
using context_ptr = std::unique_ptr<modbus_t, context_deleter>;

error modbus_failure(const interface_context& io, std::string_view fixed, std::string_view what) {
  const int e = errno;
  return failed(io, std::error_code(e, std::generic_category()), fixed, fmt::format("{}: {}", what, modbus_strerror(e)));
}

std::string_view kind_name(modbus_point::kind k) {
  switch (k) {
    case modbus_point::kind::coil: return "coil";
    case modbus_point::kind::discrete: return "discrete input";
    case modbus_point::kind::holding: return "holding register";
    case modbus_point::kind::input: return "input register";
  }
  return "?";
}

// Reads one point's raw value.
result<std::uint16_t> read_point(const interface_context& io, modbus_t* m, const modbus_point& p) {
  int rc = -1;
  std::uint16_t reg = 0;
  std::uint8_t bit = 0;
  switch (p.type) {
    case modbus_point::kind::coil: rc = modbus_read_bits(m, p.address, 1, &bit); break;
    case modbus_point::kind::discrete: rc = modbus_read_input_bits(m, p.address, 1, &bit); break;
    case modbus_point::kind::holding: rc = modbus_read_registers(m, p.address, 1, &reg); break;
    case modbus_point::kind::input: rc = modbus_read_input_registers(m, p.address, 1, &reg); break;
  }
  if (rc != 1)
    return modbus_failure(io, "modbus interface: a read failed",
                          fmt::format("reading {} {} ({} {})", p.device, p.name, kind_name(p.type), p.address));
  return p.type == modbus_point::kind::coil || p.type == modbus_point::kind::discrete ? std::uint16_t{bit} : reg;
}

// Carries out one command; the reply's response and reason.
std::pair<std::string, std::string> write_point(modbus_t* m, const std::vector<modbus_point>& points,
                                                const message& c) {
  const modbus_point* p = nullptr;
  for (const auto& q : points)
    if (q.device == c.device && q.name == c.action) p = &q;
  if (!p) return {"ERROR", fmt::format("no point {} {}", c.device, c.action)};
  if (p->type == modbus_point::kind::discrete || p->type == modbus_point::kind::input)
    return {"ERROR", fmt::format("{} {} is a {}: read only", p->device, p->name, kind_name(p->type))};
  const auto v = c.arguments.find("value");
  if (v == c.arguments.end()) return {"ERROR", "no argument \"value\""};
  int rc = -1;
  if (p->type == modbus_point::kind::coil) {
    const std::string& s = v->second;
    const bool on = s == "1" || s == "true" || s == "on";
    if (!on && s != "0" && s != "false" && s != "off") return {"ERROR", fmt::format("not a coil value: \"{}\"", s)};
    rc = modbus_write_bit(m, p->address, on ? 1 : 0);
  } else {
    const auto x = number<double>(v->second);
    const double raw = x ? std::round((*x - p->offset) / p->scale) : -1;
    if (!x || !std::isfinite(raw) || raw < 0 || raw > 65535)
      return {"ERROR", fmt::format("\"{}\" is not a value of {} {} (0..65535 raw)", v->second, p->device, p->name)};
    rc = modbus_write_register(m, p->address, static_cast<std::uint16_t>(raw));
  }
  if (rc != 1) return {"ERROR", fmt::format("the write failed: {}", modbus_strerror(errno))};
  return {"OK", ""};
}

}  // namespace

config_result<modbus_point> parse_modbus_point(std::string_view entry) {
  std::istringstream in{std::string(entry)};
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  if (w.size() < 4 || w.size() > 6)
    return invalid(fmt::format("\"{}\": not DEVICE NAME KIND ADDRESS [SCALE [OFFSET]]", entry));
  modbus_point p{.device = w[0], .name = w[1]};
  if (w[2] == "coil")
    p.type = modbus_point::kind::coil;
  else if (w[2] == "discrete")
    p.type = modbus_point::kind::discrete;
  else if (w[2] == "holding")
    p.type = modbus_point::kind::holding;
  else if (w[2] == "input")
    p.type = modbus_point::kind::input;
  else
    return invalid(fmt::format("\"{}\": the kind is coil, discrete, holding or input, not \"{}\"", entry, w[2]));
  const auto a = number<int>(w[3]);
  if (!a || *a < 0 || *a > 65535) return invalid(fmt::format("\"{}\": the address is 0..65535", entry));
  p.address = *a;
  if (w.size() > 4) {
    const auto s = number<double>(w[4]);
    if (!s || *s == 0 || !std::isfinite(*s)) return invalid(fmt::format("\"{}\": the scale is a number, not 0", entry));
    p.scale = *s;
  }
  if (w.size() > 5) {
    const auto o = number<double>(w[5]);
    if (!o || !std::isfinite(*o)) return invalid(fmt::format("\"{}\": the offset is a number", entry));
    p.offset = *o;
  }
  return p;
}

std::string modbus_value_text(const modbus_point& p, std::uint16_t raw) {
  if (p.scale == 1 && p.offset == 0) return std::to_string(raw);
  return fmt::format("{}", raw * p.scale + p.offset);
}

result<void> modbus_interface::run(interface_context& io) {
  const std::string host = setting_text(io, "host", "");
  const auto bad = [&](const std::string& text) {
    return failed(io, std::make_error_code(std::errc::invalid_argument), "modbus interface: a bad setting", text);
  };
  if (host.empty()) return bad("interface.host is required");
  const auto port = number<int>(setting_text(io, "port", "502"));
  const auto unit = number<int>(setting_text(io, "unit", "1"));
  const auto poll = number<int>(setting_text(io, "poll_ms", "500"));
  const auto timeout = number<int>(setting_text(io, "timeout_ms", "1000"));
  if (!port || !unit || !poll || !timeout || *poll <= 0 || *timeout <= 0)
    return bad("interface.port, unit, poll_ms and timeout_ms are positive integers");
  const std::string location = setting_text(io, "location", "");
  std::vector<modbus_point> points;
  if (const auto it = io.settings.find("points"); it != io.settings.end()) {
    const auto* list = std::get_if<std::vector<std::string>>(&it->second);
    if (!list) return bad("interface.points is an array of strings");
    for (const auto& e : *list) {
      auto p = parse_modbus_point(e);
      if (!p) return bad("interface.points: " + p.error().message);
      points.push_back(std::move(*p));
    }
  }

  context_ptr m(modbus_new_tcp(host.c_str(), *port));
  if (!m) return modbus_failure(io, "modbus interface: cannot connect", "cannot make a context");
  modbus_set_slave(m.get(), *unit);
  modbus_set_response_timeout(m.get(), static_cast<std::uint32_t>(*timeout / 1000),
                              static_cast<std::uint32_t>(*timeout % 1000) * 1000);
  if (modbus_connect(m.get()) != 0)
    return modbus_failure(io, "modbus interface: cannot connect", fmt::format("cannot connect to {}:{}", host, *port));
  io.log.info("modbus interface: connected to {}:{} unit {}, {} point(s) every {} ms", host, *port, *unit,
              points.size(), *poll);

  std::vector<std::optional<std::uint16_t>> last(points.size());
  auto next_poll = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (std::chrono::steady_clock::now() >= next_poll) {
      for (std::size_t i = 0; i < points.size(); ++i) {
        auto raw = read_point(io, m.get(), points[i]);
        if (!raw) return raw.error();
        if (last[i] == *raw) continue;
        last[i] = *raw;
        io.statuses.push(message{.type = kind::status,
                                 .location = location,
                                 .device = points[i].device,
                                 .action = points[i].name,
                                 .arguments = {{"value", modbus_value_text(points[i], *raw)}}});
      }
      next_poll += std::chrono::milliseconds(*poll);
      if (next_poll < std::chrono::steady_clock::now()) next_poll = std::chrono::steady_clock::now();
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - std::chrono::steady_clock::now());
    auto c = io.commands.pop_for(std::max(wait, 0ms));
    if (!c) {
      if (io.commands.closed() && io.commands.size() == 0) return {};
      continue;
    }
    auto [response, reason] = write_point(m.get(), points, *c);
    if (response != "OK") io.log.warn("modbus interface: {} {}: {}", c->device, c->action, reason);
    io.statuses.push(c->reply(response, reason));
    if (response == "OK") next_poll = std::chrono::steady_clock::now();  // its new value at once
  }
  return {};
}

}  // namespace tern::gateway
