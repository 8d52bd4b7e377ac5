// `tern passwd`: manage a password file in mosquitto's format, with
// mosquitto_passwd's flags. What it writes mosquitto reads (the $7$ lines),
// and ternd will read too.
//
//   tern passwd -c /etc/ternd/passwd alice          # create (or overwrite) with alice; asks twice
//   tern passwd /etc/ternd/passwd bob               # add bob, or change his password
//   tern passwd -b /etc/ternd/passwd carol s3cret   # password on the command line (visible in ps!)
//   tern passwd -D /etc/ternd/passwd bob            # delete bob
//   tern passwd -U /etc/ternd/passwd                # "user:password" plain text -> hashes
//   tern passwd -I 600000 ... / -H argon2id ...     # a higher $7$ cost / Argon2id (not read by mosquitto 2.0)
//
// Hashes: $7$ (PBKDF2-HMAC-SHA512) with 210,000 iterations unless -I says
// otherwise (see default_pbkdf2_iterations in tern/auth/password_file.hpp for
// why); -H sha512 writes mosquitto 1.x's $6$; -H argon2id (or --argon2id)
// Argon2id at OWASP's 19 MiB, 2 passes, 1 lane. A new file gets mode 0600;
// an existing one keeps its mode (the broker's user must be able to read it).
//
// Without -b the password is read twice from the terminal with echo off (or
// twice, one per line, from a standard input that is not a terminal).
//
// Exit status: 0 on success; 1 when the file cannot be read or written, is
// malformed (every problem is printed with its line), the passwords differ or
// the user to delete is not there; 2 for a usage error.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.hpp"
#include "tern/auth/password_file.hpp"

namespace tern::cli {
namespace {

struct passwd_settings {
  bool create = false;   // -c
  bool batch = false;    // -b
  bool remove = false;   // -D
  bool upgrade = false;  // -U
  bool argon2id = false;
  std::string hash = "sha512-pbkdf2";  // -H
  std::uint32_t iterations = auth::default_pbkdf2_iterations;
  std::string file;
  std::optional<std::string> user;
  std::optional<std::string> password;
};

// One line from standard input, with echo off when it is a terminal. nullopt at end of input.
std::optional<std::string> read_secret(const char* prompt) {
  std::fputs(prompt, stderr);
  std::fflush(stderr);
  termios saved{};
  const bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<std::string> ask_password() {
  auto first = read_secret("Password: ");
  if (!first) {
    std::cerr << "tern passwd: no password given\n";
    return std::nullopt;
  }
  auto second = read_secret("Reenter password: ");
  if (!second || *first != *second) {
    std::cerr << "tern passwd: the passwords do not match\n";
    return std::nullopt;
  }
  return first;
}

int fail(std::string_view what) {
  std::cerr << "tern passwd: " << what << '\n';
  return 1;
}

int run_passwd(const passwd_settings& s) {
  auth::hash_options options;
  options.iterations = s.iterations;
  if (s.argon2id || s.hash == "argon2id") options.kind = auth::hash_kind::argon2id;
  else if (s.hash == "sha512") options.kind = auth::hash_kind::sha512;

  if (s.upgrade) {
    auto text = auth::read_text(s.file);
    if (!text) return fail(text.error().message);
    auto f = auth::password_file::parse_plain(*text, s.file, options);
    if (!f) return fail(f.error().message);
    auto w = f->save(s.file);
    return w ? 0 : fail(w.error().message);
  }

  auth::password_file f;
  if (!s.create) {
    auto loaded = auth::password_file::load(s.file);
    if (!loaded) return fail(loaded.error().message);
    f = std::move(*loaded);
  }
  if (s.remove) {
    if (!f.remove(*s.user)) return fail(fmt::format("user \"{}\" is not in {}", *s.user, s.file));
  } else {
    if (auto e = auth::check_user_name(*s.user)) return fail(e->message());
    std::optional<std::string> password = s.batch ? s.password : ask_password();
    if (!password) return 1;
    if (password->empty()) return fail("empty password");
    if (auto r = f.set(*s.user, *password, options); !r) return fail(r.error().message());
  }
  auto w = f.save(s.file);
  return w ? 0 : fail(w.error().message);
}

}  // namespace

void add_passwd(CLI::App& app, int& status) {
  auto s = std::make_shared<passwd_settings>();
  auto* cmd = app.add_subcommand("passwd", "Manage a password file in mosquitto's format (mosquitto_passwd's flags)");
  cmd->add_flag("-c", s->create, "Create the file, overwriting one that exists");
  cmd->add_flag("-b", s->batch, "Batch mode: the password is the last argument (visible to other users!)");
  cmd->add_flag("-D", s->remove, "Delete the user");
  cmd->add_flag("-U", s->upgrade, "Convert a file of plain-text 'user:password' lines to hashes");
  cmd->add_option("-H", s->hash, "Hash: sha512-pbkdf2 ($7$, the default), sha512 ($6$, mosquitto 1.x) or argon2id")
      ->check(CLI::IsMember({"sha512-pbkdf2", "sha512", "argon2id"}))
      ->capture_default_str();
  cmd->add_flag("--argon2id", s->argon2id, "Hash with Argon2id (same as -H argon2id; mosquitto 2.0 cannot read it)");
  cmd->add_option("-I", s->iterations, "PBKDF2 iterations of a $7$ hash")
      ->check(CLI::Range(1u, 2'147'483'647u))
      ->capture_default_str();
  cmd->add_option("passwordfile", s->file, "The password file")->required();
  cmd->add_option("username", s->user, "The user to add, change or delete");
  cmd->add_option("password", s->password, "The password (with -b only)");
  cmd->callback([s, &status] {
    if (s->create && s->remove) throw CLI::ValidationError("-c and -D cannot be used together");
    if (s->upgrade) {
      if (s->user || s->create || s->remove || s->batch)
        throw CLI::ValidationError("-U takes only the password file");
    } else if (!s->user) {
      throw CLI::ValidationError("a user name is needed");
    } else if (s->batch != s->password.has_value() || (s->remove && s->password)) {
      throw CLI::ValidationError(s->batch ? "-b needs the password as the last argument"
                                          : "a password on the command line needs -b");
    }
    status = run_passwd(*s);
  });
}

}  // namespace tern::cli
