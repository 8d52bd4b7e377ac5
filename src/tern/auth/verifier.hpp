// tern/auth/verifier.hpp: checks a CONNECT's user name and password against
// a password file, for the broker, and remembers recent successes so that a
// client coming back is not hashed again.
//
//   auto file = tern::auth::password_file::load(path).value();
//   tern::auth::verifier v(std::move(file));
//   // on a worker thread, never on an io thread: a miss costs one PBKDF2 or
//   // Argon2 hash (tens of milliseconds at the default cost)
//   if (v.verify(user, password)) accept(); else refuse(0x86);
//   v.replace(tern::auth::password_file::load(path).value());   // SIGHUP
//
// The memory of successes is keyed by HMAC-SHA256(user, password) under a
// random key the verifier draws when it is made: a hit needs the right
// password as much as a hash does, and the table never holds a password or
// anything an offline guess could be checked against without that key.
// Failures are not remembered (a storm of wrong passwords costs a hash each:
// run verify() on a bounded pool). The memory holds at most `capacity`
// entries, forgets the least recently used, and is emptied by replace().
//
// Thread safety: every member function may be called from any number of
// threads at once. Hashing runs outside any lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "tern/auth/password_file.hpp"

namespace tern::auth {

class verifier {
 public:
  explicit verifier(password_file file, std::size_t capacity = 4096);

  // True when `user` is in the file and `password` is theirs.
  [[nodiscard]] bool verify(std::string_view user, std::string_view password);
  // Puts `file` in force and forgets every remembered success.
  void replace(password_file file);

  // How many verify() calls were answered from memory, and how many hashed.
  struct counters {
    std::uint64_t remembered = 0;
    std::uint64_t hashed = 0;
  };
  [[nodiscard]] counters stats() const;

 private:
  using key = std::array<std::uint8_t, 32>;
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept;
  };
  key key_of(std::string_view user, std::string_view password) const;
  bool remembered(const key& k);
  void remember(const key& k, std::uint64_t generation);

  std::array<std::uint8_t, 32> secret_{};
  const std::size_t capacity_;

  mutable std::mutex mutex_;
  std::shared_ptr<const password_file> file_;
  std::uint64_t generation_ = 0;  // counts replace() calls
  std::list<key> order_;          // most recently used first
  std::unordered_map<key, std::list<key>::iterator, key_hash> entries_;
  counters counters_;
};

}  // namespace tern::auth
