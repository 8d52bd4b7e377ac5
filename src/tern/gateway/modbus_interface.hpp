// tern/gateway/modbus_interface.hpp: the built-in "modbus" interface: a
// Modbus TCP device (libmodbus) seen through a register map. It polls every
// point, publishes a status when a value changes (every value once at
// start), and turns commands into writes.
//
//   [interface]
//   name = "modbus"
//   host = "192.168.1.20"      # required
//   port = 502
//   unit = 1                   # the slave / unit id
//   poll_ms = 500              # the poll period
//   timeout_ms = 1000          # a request's response timeout
//   location = "plant"         # the location of every message (default: empty)
//   points = [                 # "DEVICE NAME KIND ADDRESS [SCALE [OFFSET]]"
//     "boiler temperature input 0 0.1 -40",    # input register 0: value = raw * 0.1 - 40
//     "boiler setpoint holding 1 0.5",         # holding register 1: read and written
//     "pump running coil 0",                   # coil 0: read and written, "1"/"0"
//     "door open discrete 3",                  # discrete input 3: read only
//   ]
//
// KIND is coil, discrete, holding or input; registers are unsigned 16-bit
// (value = raw * SCALE + OFFSET; integers when SCALE is 1 and OFFSET 0).
// A status: device DEVICE, action NAME, arguments {"value": "..."}. A
// command for DEVICE with action NAME and the argument "value" writes it
// (coil: 1/0, true/false, on/off; holding: (value - OFFSET) / SCALE,
// rounded, 0..65535) and is answered "OK", or "ERROR" with why (unknown
// point, read-only kind, bad value, the write failed); the new value's
// status follows from the next poll. A bad setting, a connection or a read
// failure is logged with its details and ends run() with the error: the
// runner starts it again with its backoff.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "tern/gateway/config.hpp"
#include "tern/gateway/interface.hpp"

namespace tern::gateway {

struct modbus_point {
  enum class kind : std::uint8_t { coil, discrete, holding, input };
  std::string device, name;
  kind type = kind::holding;
  int address = 0;
  double scale = 1, offset = 0;
  friend bool operator==(const modbus_point&, const modbus_point&) = default;
};

// One "DEVICE NAME KIND ADDRESS [SCALE [OFFSET]]" entry of `points`; a
// refusal naming what is wrong.
[[nodiscard]] config_result<modbus_point> parse_modbus_point(std::string_view entry);

// A raw value as its status says it (scale and offset applied).
[[nodiscard]] std::string modbus_value_text(const modbus_point& p, std::uint16_t raw);

class modbus_interface final : public interface {
 public:
  result<void> run(interface_context& io) override;
  void stop() override { stopping_ = true; }

 private:
  std::atomic<bool> stopping_{false};
};

}  // namespace tern::gateway
