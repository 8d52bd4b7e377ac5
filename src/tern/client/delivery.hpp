// tern/client/delivery.hpp: tern::delivery, how a received message reached
// the application (AsyncClient::on_delivery()). A header of its own so that
// the client's sans-I/O session (client_session.hpp) names it without Asio.
//
//   c.on_delivery("jobs/#", [](const tern::publish_packet& m, const tern::delivery& d) {
//     if (d.number <= checkpoint) return;   // done before a restart (persistence.processed)
//   });
#pragma once

#include <cstdint>

namespace tern {

// How a received message reached the application (on_delivery()).
struct delivery {
  // With persistence, for QoS 1/2 messages: the message's number in the
  // client's store, 1, 2, 3..., increasing across runs and handed over in
  // this order. 0 for QoS 0 messages and without persistence.
  std::uint64_t number = 0;
  // An earlier run of the client stored the message and may have handed it
  // to the application already (it was killed before recording that).
  bool redelivered = false;
};

}  // namespace tern
