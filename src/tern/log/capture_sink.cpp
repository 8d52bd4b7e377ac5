#include "tern/log/capture_sink.hpp"

namespace tern::log {

void capture_sink::write(const record& r) {
  entry e{r.lvl, std::string(r.channel), std::string(r.message)};
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(e));
}

std::vector<capture_sink::entry> capture_sink::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

std::string capture_sink::text() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& e : entries_) {
    out += to_string(e.lvl);
    out += ' ';
    out += e.channel;
    out += ": ";
    out += e.message;
    out += '\n';
  }
  return out;
}

void capture_sink::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

}  // namespace tern::log
