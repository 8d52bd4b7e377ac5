#include "tern/client/backoff.hpp"

#include <algorithm>

namespace tern {

reconnect_backoff::reconnect_backoff(const reconnect_options& o)
    : min_(std::max(o.min_delay, std::chrono::milliseconds(1))),
      max_(std::max(o.max_delay, min_)),
      jitter_(std::clamp(o.jitter, 0.0, 1.0)),
      rng_(o.seed != 0 ? o.seed : std::random_device{}()) {}

std::chrono::milliseconds reconnect_backoff::next() {
  // min * 2^attempts, without overflowing: stop doubling at max.
  auto d = min_;
  for (unsigned i = 0; i < attempts_ && d < max_; ++i) d = d > max_ / 2 ? max_ : std::min(d * 2, max_);
  ++attempts_;
  if (jitter_ <= 0.0) return d;
  std::uniform_real_distribution<double> cut(0.0, jitter_);
  const auto ms = static_cast<double>(d.count());
  const auto drawn = static_cast<std::chrono::milliseconds::rep>(ms - ms * cut(rng_));
  return std::chrono::milliseconds(std::max<std::chrono::milliseconds::rep>(drawn, 1));
}

}  // namespace tern
