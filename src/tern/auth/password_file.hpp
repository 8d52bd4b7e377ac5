// tern/auth/password_file.hpp: mosquitto's password file, read and written
// as it is: one "user:hash" per line, the hash one of
//
//   $7$ITER$SALT$HASH   PBKDF2-HMAC-SHA512 (mosquitto 2.x; what Debian's
//                       mosquitto_passwd 2.0.11 writes), 12-byte salt,
//                       64-byte hash, both base64 with padding
//   $6$SALT$HASH        SHA-512 of password then salt (mosquitto 1.x)
//   $6$[rounds=N$]SALT$HASH
//                       SHA-512-crypt (crypt(3), Drepper's SHA-crypt: what
//                       glibc and Python's passlib write, and so amqtt's
//                       password files), told from mosquitto's by its 86-character
//                       hash in crypt's alphabet; read and verified, not written
//   $argon2id$v=19$m=M,t=T,p=P$SALT$HASH
//                       Argon2id in the PHC string format (libargon2's
//                       encoding, base64 without padding); mosquitto 2.0
//                       does not read these
//
// Lines whose first character is '#' and blank lines are kept as they are.
//
//   auto f = tern::auth::password_file::load("/etc/ternd/passwd");
//   if (!f) return log(f.error().message);           // "passwd:3: ..." per problem
//   if (f->verify("alice", password)) accept();
//   f->set("bob", "s3cret");                         // add or replace (PBKDF2, 210,000 iterations)
//   f->remove("carol");
//   if (auto w = f->save("/etc/ternd/passwd"); !w) log(w.error().message);
//
// Hashing uses OpenSSL (PBKDF2, SHA-512, random salts) and libargon2; the
// comparison of a computed hash with the stored one is CRYPTO_memcmp (constant
// time). verify() costs what the hash costs (a PBKDF2 hash at the default cost
// takes tens of milliseconds): never call it on an io thread; the broker uses
// tern::auth::verifier (verifier.hpp), which also remembers recent successes.
//
// Thread safety: a value; const member functions may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/auth/text_file.hpp"
#include "tern/core/result.hpp"
#include "tern/core/string_hash.hpp"

namespace tern::auth {

enum class hash_kind : std::uint8_t {
  sha512,         // $6$ (mosquitto 1.x)
  pbkdf2_sha512,  // $7$
  argon2id,       // $argon2id$
  sha512_crypt,   // $6$ of crypt(3) (glibc, passlib: amqtt's files); read, never written
};

// The default cost of a $7$ hash: 210,000 iterations, OWASP's figure for
// PBKDF2-HMAC-SHA512 (Password Storage Cheat Sheet, 2023), which keeps an
// offline guess at about the cost of bcrypt at work factor 10. mosquitto_passwd
// 2.0.11 writes 101; mosquitto reads any count (up to 2^31 - 1), so files
// written with this default stay readable by mosquitto.
inline constexpr std::uint32_t default_pbkdf2_iterations = 210'000;

// Argon2id's cost: OWASP's first recommended setting (19 MiB, 2 passes, one lane).
struct argon2_cost {
  std::uint32_t memory_kib = 19 * 1024;
  std::uint32_t passes = 2;
  std::uint32_t lanes = 1;
};

// How set() and hash_password() hash a new password.
struct hash_options {
  hash_kind kind = hash_kind::pbkdf2_sha512;
  std::uint32_t iterations = default_pbkdf2_iterations;  // $7$ only; at least 1
  argon2_cost argon2;                                     // $argon2id$ only
};

// One stored password hash, parsed.
struct password_hash {
  hash_kind kind = hash_kind::pbkdf2_sha512;
  std::uint32_t iterations = 0;  // $7$: PBKDF2 iterations; $argon2id$: passes (t);
                                 // sha512_crypt: rounds, 0 when not written (5000)
  std::uint32_t memory_kib = 0;  // $argon2id$: m
  std::uint32_t lanes = 0;       // $argon2id$: p
  std::vector<std::uint8_t> salt;
  std::vector<std::uint8_t> hash;

  // Parses the part of a line after "user:". The error's detail names what is
  // wrong, never the text.
  [[nodiscard]] static result<password_hash> parse(std::string_view text);
  // The hash of `password` with a new random salt.
  [[nodiscard]] static result<password_hash> make(std::string_view password, const hash_options& options);

  // The encoded form parse() reads back to an equal value.
  [[nodiscard]] std::string to_string() const;
  // True when `password` hashes to `hash` (compared in constant time).
  [[nodiscard]] bool verify(std::string_view password) const;

  friend bool operator==(const password_hash&, const password_hash&) = default;
};

// nullopt when `user` can be written in a password file (mosquitto reads it
// back as the same name): 1 to 65535 bytes of UTF-8, no ':', no control
// character, no space or tab at either end, not starting with '#'.
[[nodiscard]] std::optional<error> check_user_name(std::string_view user) noexcept;

class password_file {
 public:
  // The accounts of `text`; `name` (usually the path) starts each problem of
  // the refusal: "<name>:<line>: <what>", every problem of the file.
  [[nodiscard]] static file_result<password_file> parse(std::string_view text, std::string_view name);
  [[nodiscard]] static file_result<password_file> load(const std::filesystem::path& path);
  // mosquitto_passwd -U: a file of "user:password" lines in plain text, each
  // password hashed with `options`. A line that already holds a hash ($6$,
  // $7$, $argon2id$) is refused, so a second run cannot hash hashes.
  [[nodiscard]] static file_result<password_file> parse_plain(std::string_view text, std::string_view name,
                                                              const hash_options& options = {});

  // True when `user` is in the file and `password` is theirs.
  [[nodiscard]] bool verify(std::string_view user, std::string_view password) const;
  // The stored hash of `user`, or nullptr.
  [[nodiscard]] const password_hash* find(std::string_view user) const;
  [[nodiscard]] bool contains(std::string_view user) const { return find(user) != nullptr; }
  // The number of accounts.
  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }

  // Adds `user`, or replaces their hash in place, with `password` hashed by
  // `options`. Refuses a user name check_user_name() refuses.
  [[nodiscard]] result<void> set(std::string_view user, std::string_view password, const hash_options& options = {});
  // Stores an already made hash for `user` (add or replace).
  [[nodiscard]] result<void> set_hash(std::string_view user, password_hash hash);
  // Removes `user`; false when they were not there.
  bool remove(std::string_view user);

  // The file's text: comments and blank lines where they were, one
  // "user:hash" line per account, each line ending in '\n'.
  [[nodiscard]] std::string to_text() const;
  // Writes to_text() to `path` (atomically; a new file gets mode 0600, an
  // existing one keeps its mode).
  [[nodiscard]] file_result<void> save(const std::filesystem::path& path) const;

 private:
  struct line {
    std::string text;                    // a comment or blank line, as it was
    std::string user;                    // empty for a comment or blank line
    std::optional<password_hash> hash;   // set for an account
  };
  void reindex();
  template <class HashOf>
  static file_result<password_file> read(std::string_view text, std::string_view name, HashOf hash_of);

  std::vector<line> lines_;
  std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>> index_;  // user -> lines_ index
};

}  // namespace tern::auth
