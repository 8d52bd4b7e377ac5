// libFuzzer target for tern::auth::password_file, fed any text as a
// mosquitto password file.
//
// Invariants: parse() returns a file or a refusal and throws nothing; a
// refusal names the file and a line of the text on every line (file_refusal.hpp);
// a file it accepts is written back by to_text() as a text it reads to the
// same text again, with the same accounts; a cheap hash (SHA-512, PBKDF2 of a
// few iterations, Argon2 of little memory) verifies without fault and never
// accepts a password that differs from one it accepts; parse_plain() (-U)
// obeys the same refusal rule and its file verifies its own passwords.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "file_refusal.hpp"
#include "tern/auth/password_file.hpp"

using tern::fuzz::check;

namespace {

constexpr std::string_view file = "fuzz.passwd";

bool cheap(const tern::auth::password_hash& h) {
  switch (h.kind) {
    case tern::auth::hash_kind::sha512:
      return true;
    case tern::auth::hash_kind::pbkdf2_sha512:
      return h.iterations <= 8;
    case tern::auth::hash_kind::sha512_crypt:
      return h.iterations != 0 && h.iterations <= 1000;  // 0: crypt(3)'s default of 5,000 rounds
    case tern::auth::hash_kind::argon2id:
      return h.memory_kib <= 64 && h.iterations <= 2 && h.lanes <= 2;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::size_t lines = tern::fuzz::line_count(text);

  auto f = tern::auth::password_file::parse(text, file);
  if (!f) {
    tern::fuzz::check_refusal(f.error().message, file, lines);
  } else {
    const std::string again = f->to_text();
    auto back = tern::auth::password_file::parse(again, "again");
    check(back.has_value());
    check(back->to_text() == again);
    check(back->size() == f->size());
    // Verify a few cheap hashes with a password taken from the input.
    const std::string_view password = text.substr(0, std::min<std::size_t>(text.size(), 16));
    for (const auto [n, line] : tern::auth::text_lines(text)) {
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const auto user = tern::auth::trim(line.substr(0, colon));
      const auto* h = f->find(user);
      if (!h || !cheap(*h)) continue;
      if (h->verify(password)) check(!h->verify(std::string(password) + "x"));
      if (n > 4) break;
    }
  }

  // -U: every line a plain-text password, hashed at the lowest cost.
  if (size <= 512) {
    tern::auth::hash_options o;
    o.iterations = 1;
    auto plain = tern::auth::password_file::parse_plain(text, file, o);
    if (!plain) {
      tern::fuzz::check_refusal(plain.error().message, file, lines);
    } else {
      for (const auto [n, line] : tern::auth::text_lines(text)) {
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || line.starts_with('#')) continue;
        check(plain->verify(tern::auth::trim(line.substr(0, colon)), line.substr(colon + 1)));
        if (n > 4) break;
      }
    }
  }
  return 0;
}
