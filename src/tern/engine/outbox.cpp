// Routing to another worker's clients: the outbox batch (outbox_target).
#include <algorithm>

#include "tern/engine/delivery_target.hpp"
#include "tern/engine/engine.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

void outbox_target::deliver(std::uint64_t route, const publish_packet& m, const route_target& t,
                            std::string_view client_id, std::span<const std::uint32_t> ids, time_point now) {
  auto& b = batch_;
  b.from = static_cast<std::uint32_t>(from_->index());
  delivery d;
  d.options = t.options;
  d.origin = t.origin;
  if (stored_by_router(m, t)) {
    // Stored here, committed before the batch is posted: the publisher's
    // acknowledgement waits for the routing worker's commit only.
    auto out = rules::prepare(m, t.options, ids);
    d.seq = from_->next_seq();
    from_->store_batch().append(client_id, d.seq, out, now);
    b.messages.push_back(std::move(out));
    d.message = static_cast<std::uint32_t>(b.messages.size() - 1);
    b.client_ids.emplace_back(client_id);
    d.client = static_cast<std::uint32_t>(b.client_ids.size() - 1);
  } else {
    if (route_ != route || b.messages.empty()) {  // the message once per batch, however many get it
      b.messages.push_back(m);
      message_ = static_cast<std::uint32_t>(b.messages.size() - 1);
      route_ = route;
    }
    d.message = message_;
    d.slot = t.session.slot;
    d.serial = t.session.serial;
    d.ids_begin = static_cast<std::uint32_t>(b.identifiers.size());
    d.ids_count = static_cast<std::uint32_t>(ids.size());
    b.identifiers.insert(b.identifiers.end(), ids.begin(), ids.end());
    // A clean subscriber at QoS 1/2: whether it is full is known over
    // there, so the publisher's acknowledgement waits for its answer.
    if (!t.persistent && std::min(m.qos, t.options.max_qos) != qos::at_most_once) d.hold = from_->hold_remote();
  }
  b.deliveries.push_back(d);
}

}  // namespace tern::engine
