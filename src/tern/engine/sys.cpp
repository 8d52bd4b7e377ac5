// $SYS/broker/...: the broker's statistics as retained messages, every sys_interval.
#include "tern/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <new>

#include "tern/engine/client_session.hpp"
#include "tern/engine/rules.hpp"

namespace tern::engine {

using namespace rules;

void worker::publish_sys(time_point now) {
  auto& st = engine_.stats();
  const auto store = engine_.store().stats();
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - engine_.started()).count();
  const std::pair<std::string_view, std::string> values[] = {
      {"$SYS/broker/version", engine_.config().version},
      {"$SYS/broker/uptime", std::to_string(uptime) + " seconds"},
      {"$SYS/broker/clients/connected", std::to_string(st.clients_connected.load())},
      {"$SYS/broker/clients/total", std::to_string(st.clients_total.load())},
      {"$SYS/broker/messages/received", std::to_string(st.messages_received.load())},
      {"$SYS/broker/messages/sent", std::to_string(st.messages_sent.load())},
      {"$SYS/broker/messages/dropped", std::to_string(st.messages_dropped.load())},
      {"$SYS/broker/messages/dropped/stored", std::to_string(st.stored_dropped.load())},
      {"$SYS/broker/messages/held", std::to_string(st.acknowledgements_held.load())},
      {"$SYS/broker/bytes/received", std::to_string(st.bytes_received.load())},
      {"$SYS/broker/bytes/sent", std::to_string(st.bytes_sent.load())},
      {"$SYS/broker/subscriptions/count", std::to_string(st.subscriptions.load())},
      {"$SYS/broker/retained messages/count", std::to_string(engine_.store().retained().size())},
      {"$SYS/broker/store/commits", std::to_string(store.commits)},
      {"$SYS/broker/store/syncs", std::to_string(store.synced_commits)},
      {"$SYS/broker/store/disk syncs", std::to_string(store.disk_syncs)},
      {"$SYS/broker/store/operations", std::to_string(store.operations)},
  };
  const client_info sys{"$SYS", std::nullopt, protocol_version::v5, nullptr};
  for (const auto& [t, v] : values) {
    publish_packet m(t, shared_bytes::copy(v), qos::at_most_once, true);
    batch_.put_retained(m, now);
    route(sys, std::move(m), now);
  }
}

}  // namespace tern::engine
