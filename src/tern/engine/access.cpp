// The access policy's answers for a session, remembered per topic
// (engine/access.hpp).
#include <memory>

#include "tern/engine/client_session.hpp"
#include "tern/engine/engine.hpp"

namespace tern::engine {

bool worker::ask_policy(client_session& s, std::string_view topic, access what, const endpoint* via) {
  const auto generation = engine_access_->generation();
  auto& x = s.ext();
  if (!x.decisions || x.decisions_generation != generation) {
    if (x.decisions) x.decisions->clear();
    else x.decisions = std::make_unique<auth::decision_cache>();
    x.decisions_generation = generation;
  }
  if (auto known = x.decisions->find(topic, what)) return *known;
  const bool ok = engine_access_->allowed(s.info(via), topic, what);
  x.decisions->insert(topic, what, ok);
  return ok;
}

}  // namespace tern::engine
