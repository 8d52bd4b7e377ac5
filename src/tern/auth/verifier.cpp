#include "tern/auth/verifier.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace tern::auth {

verifier::verifier(password_file file, std::size_t capacity)
    : capacity_(capacity), file_(std::make_shared<const password_file>(std::move(file))) {
  if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1)
    throw std::runtime_error("tern::auth::verifier: no random bytes for its key (OpenSSL RAND_bytes)");
}

std::size_t verifier::key_hash::operator()(const key& k) const noexcept {
  std::size_t h;
  std::memcpy(&h, k.data(), sizeof h);  // already uniformly random
  return h;
}

verifier::key verifier::key_of(std::string_view user, std::string_view password) const {
  // HMAC(secret, len(user) as 8 bytes, user, password): the length keeps
  // ("ab", "c") and ("a", "bc") apart.
  std::string message(8, '\0');
  std::uint64_t n = user.size();
  for (int i = 0; i < 8; ++i) message[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  message.append(user);
  message.append(password);
  key k{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), k.data(), &len);
  OPENSSL_cleanse(message.data(), message.size());
  return k;
}

bool verifier::remembered(const key& k) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(k);
  if (it == entries_.end()) return false;
  order_.splice(order_.begin(), order_, it->second);
  ++counters_.remembered;
  return true;
}

void verifier::remember(const key& k, std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (generation != generation_ || capacity_ == 0) return;  // the file changed while we hashed
  if (entries_.contains(k)) return;
  order_.push_front(k);
  entries_.emplace(k, order_.begin());
  if (entries_.size() > capacity_) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
}

bool verifier::verify(std::string_view user, std::string_view password) {
  const key k = key_of(user, password);
  if (remembered(k)) return true;
  std::shared_ptr<const password_file> file;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    file = file_;
    generation = generation_;
    ++counters_.hashed;
  }
  if (!file->verify(user, password)) return false;
  remember(k, generation);
  return true;
}

void verifier::replace(password_file file) {
  auto next = std::make_shared<const password_file>(std::move(file));
  std::lock_guard lock(mutex_);
  file_ = std::move(next);
  ++generation_;
  entries_.clear();
  order_.clear();
}

verifier::counters verifier::stats() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace tern::auth
