#include "tern/auth/password_file.hpp"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <limits>
#include <system_error>

#include <fmt/format.h>

#include "tern/core/utf8.hpp"

namespace tern::auth {
namespace {

// What mosquitto 2.0 requires of $6$ and $7$ hashes (unpwd__decode_passwords).
constexpr std::size_t mosquitto_salt_size = 12;
constexpr std::size_t sha512_size = 64;
// Argon2id: a 16-byte salt and a 32-byte hash, libargon2's and the PHC's usual sizes.
constexpr std::size_t argon2_salt_size = 16;
constexpr std::size_t argon2_hash_size = 32;
// Bounds on what a file may ask of verify(): mosquitto reads iterations with
// atoi (an int); 4 GiB of memory is more than any sane Argon2 setting.
constexpr std::uint32_t max_iterations = std::numeric_limits<std::int32_t>::max();
constexpr std::uint32_t max_argon2_memory_kib = 4u * 1024 * 1024;
constexpr std::uint32_t max_argon2_lanes = 255;

error invalid(std::string_view detail) { return {std::make_error_code(std::errc::invalid_argument), detail}; }

// ---- base64 (RFC 4648, standard alphabet) over OpenSSL's block coder --------

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// Decodes `text`; `padded`: its length is a multiple of 4 with '=' padding
// (mosquitto), else no padding at all (PHC strings). nullopt when malformed.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text, bool padded) {
  std::size_t pad = 0;
  if (padded) {
    if (text.size() % 4 != 0) return std::nullopt;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  }
  const std::string_view body = text.substr(0, text.size() - pad);
  for (const char c : body)
    if (!is_base64_char(c)) return std::nullopt;
  if (body.size() % 4 == 1) return std::nullopt;
  std::string block(body);
  const std::size_t missing = (4 - body.size() % 4) % 4;
  block.append(missing, '=');
  if (block.empty()) return std::vector<std::uint8_t>{};
  std::vector<std::uint8_t> out(block.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(block.data()),
                                static_cast<int>(block.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - missing);
  return out;
}

std::string base64_encode(const std::vector<std::uint8_t>& bytes, bool padded) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  if (!padded)
    while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// A decimal count from 1 to `max`, digits only.
std::optional<std::uint32_t> parse_count(std::string_view s, std::uint32_t max) {
  std::uint64_t v = 0;
  if (s.empty() || s.size() > 10) return std::nullopt;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v < 1 || v > max) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

// Splits "a$b$c" at '$' into at most `n` fields (the last keeps any rest).
std::vector<std::string_view> split_dollar(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto d = s.find('$');
    out.push_back(s.substr(0, d));
    if (d == std::string_view::npos) return out;
    s.remove_prefix(d + 1);
  }
}

// ---- SHA-512-crypt (Drepper, "Unix crypt using SHA-256 and SHA-512") ----------

constexpr std::string_view crypt_alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::size_t crypt_hash_chars = 86;
constexpr std::size_t crypt_max_salt = 16;
constexpr std::uint32_t crypt_default_rounds = 5000;

// "$6$[rounds=N$]SALT$HASH" as crypt(3) writes it; nullopt when it is not
// one (then it may be mosquitto's $6$).
std::optional<password_hash> parse_sha512_crypt(const std::vector<std::string_view>& f) {
  password_hash h;
  h.kind = hash_kind::sha512_crypt;
  std::size_t i = 1;
  if (f.size() == 4 && f[1].starts_with("rounds=")) {
    const auto n = parse_count(f[1].substr(7), 999'999'999);
    if (!n) return std::nullopt;
    h.iterations = std::max<std::uint32_t>(*n, 1000);
    i = 2;
  } else if (f.size() != 3) {
    return std::nullopt;
  }
  const auto salt = f[i], hash = f[i + 1];
  if (salt.size() > crypt_max_salt || hash.size() != crypt_hash_chars) return std::nullopt;
  for (const char c : hash)
    if (crypt_alphabet.find(c) == std::string_view::npos) return std::nullopt;
  h.salt.assign(salt.begin(), salt.end());
  h.hash.assign(hash.begin(), hash.end());
  return h;
}

// SHA-512 over the parts, into `out` (64 bytes).
class sha512_ctx {
 public:
  sha512_ctx() : ctx_(EVP_MD_CTX_new()) { ok_ = ctx_ && EVP_DigestInit_ex(ctx_, EVP_sha512(), nullptr) == 1; }
  ~sha512_ctx() { EVP_MD_CTX_free(ctx_); }
  sha512_ctx(const sha512_ctx&) = delete;
  sha512_ctx& operator=(const sha512_ctx&) = delete;
  void add(const void* p, std::size_t n) { ok_ = ok_ && EVP_DigestUpdate(ctx_, p, n) == 1; }
  void add(std::string_view s) { add(s.data(), s.size()); }
  bool finish(unsigned char* out) {
    unsigned int n = 0;
    return ok_ && EVP_DigestFinal_ex(ctx_, out, &n) == 1 && n == sha512_size;
  }

 private:
  EVP_MD_CTX* ctx_;
  bool ok_ = false;
};

// The 86 characters of SHA-512-crypt's hash of `key` with `salt` and `rounds`.
// Longer keys are refused (the hash costs the square of the key's length;
// passlib's limit too).
bool sha512_crypt(std::string_view key, std::string_view salt, std::uint32_t rounds, std::vector<std::uint8_t>& out) {
  if (key.size() > 4096) return false;
  unsigned char a[64], b[64], dp[64], ds[64];
  bool ok = true;
  {
    sha512_ctx alt;  // B = SHA512(key salt key)
    alt.add(key);
    alt.add(salt);
    alt.add(key);
    ok = alt.finish(b) && ok;
  }
  {
    sha512_ctx ctx;  // A
    ctx.add(key);
    ctx.add(salt);
    std::size_t n = key.size();
    for (; n > 64; n -= 64) ctx.add(b, 64);
    ctx.add(b, n);
    for (n = key.size(); n > 0; n >>= 1) {
      if (n & 1) ctx.add(b, 64);
      else ctx.add(key);
    }
    ok = ctx.finish(a) && ok;
  }
  {
    sha512_ctx ctx;  // DP = SHA512(key repeated key.size() times)
    for (std::size_t i = 0; i < key.size(); ++i) ctx.add(key);
    ok = ctx.finish(dp) && ok;
  }
  std::string p(key.size(), '\0');
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>(dp[i % 64]);
  {
    sha512_ctx ctx;  // DS = SHA512(salt repeated 16 + A[0] times)
    for (std::size_t i = 0; i < 16u + a[0]; ++i) ctx.add(salt);
    ok = ctx.finish(ds) && ok;
  }
  std::string s(salt.size(), '\0');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(ds[i % 64]);
  for (std::uint32_t r = 0; r < rounds && ok; ++r) {
    sha512_ctx ctx;
    if (r & 1) ctx.add(p);
    else ctx.add(a, 64);
    if (r % 3 != 0) ctx.add(s);
    if (r % 7 != 0) ctx.add(p);
    if (r & 1) ctx.add(a, 64);
    else ctx.add(p);
    ok = ctx.finish(a);
  }
  OPENSSL_cleanse(dp, sizeof dp);
  OPENSSL_cleanse(p.data(), p.size());
  if (!ok) return false;
  out.clear();
  const auto put = [&](unsigned b2, unsigned b1, unsigned b0, int n) {
    unsigned w = (b2 << 16) | (b1 << 8) | b0;
    for (; n > 0; --n, w >>= 6) out.push_back(static_cast<std::uint8_t>(crypt_alphabet[w & 0x3f]));
  };
  for (int i = 0; i < 21; ++i) {
    // Drepper's byte order: (0,21,42), (22,43,1), (44,2,23), (3,24,45), ...
    const int x = (i * 22) % 63, y = (x + 21) % 63, z = (x + 42) % 63;
    put(a[x], a[y], a[z], 4);
  }
  put(0, 0, a[63], 2);
  return out.size() == crypt_hash_chars;
}

result<password_hash> parse_argon2(std::string_view params, std::string_view version, std::string_view salt,
                                   std::string_view hash) {
  if (version != "v=19") return invalid("argon2id: only version 19 (v=19) is read");
  password_hash h;
  h.kind = hash_kind::argon2id;
  // "m=M,t=T,p=P", in that order (libargon2's encoding).
  const auto field = [&params](std::string_view key, std::uint32_t max) -> std::optional<std::uint32_t> {
    if (!params.starts_with(key)) return std::nullopt;
    params.remove_prefix(key.size());
    const auto comma = params.find(',');
    const auto v = parse_count(params.substr(0, comma), max);
    params.remove_prefix(comma == std::string_view::npos ? params.size() : comma + 1);
    return v;
  };
  const auto m = field("m=", max_argon2_memory_kib);
  const auto t = field("t=", max_iterations);
  const auto p = field("p=", max_argon2_lanes);
  if (!m || !t || !p || !params.empty()) return invalid("argon2id: parameters are not m=M,t=T,p=P");
  if (*m < 8 * *p) return invalid("argon2id: memory (m) below 8 KiB per lane (p)");
  h.memory_kib = *m;
  h.iterations = *t;
  h.lanes = *p;
  auto s = base64_decode(salt, false);
  auto d = base64_decode(hash, false);
  if (!s || s->size() < ARGON2_MIN_SALT_LENGTH) return invalid("argon2id: salt is not base64 of 8 bytes or more");
  if (!d || d->size() < ARGON2_MIN_OUTLEN) return invalid("argon2id: hash is not base64 of 4 bytes or more");
  h.salt = std::move(*s);
  h.hash = std::move(*d);
  return h;
}


// The hash of `password` under the kind, cost and salt of `h`, into `out`
// (h.hash.size() bytes). False when the library refuses (out of memory...).
bool compute(const password_hash& h, std::string_view password, std::vector<std::uint8_t>& out) {
  out.assign(h.hash.size(), 0);
  switch (h.kind) {
    case hash_kind::sha512: {
      // mosquitto 1.x: SHA-512 over the password, then the salt.
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      unsigned int n = 0;
      const bool ok = ctx && out.size() == sha512_size && EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1 &&
                      EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                      EVP_DigestUpdate(ctx, h.salt.data(), h.salt.size()) == 1 &&
                      EVP_DigestFinal_ex(ctx, out.data(), &n) == 1 && n == sha512_size;
      EVP_MD_CTX_free(ctx);
      return ok;
    }
    case hash_kind::pbkdf2_sha512:
      return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), h.salt.data(),
                               static_cast<int>(h.salt.size()), static_cast<int>(h.iterations), EVP_sha512(),
                               static_cast<int>(out.size()), out.data()) == 1;
    case hash_kind::sha512_crypt:
      return sha512_crypt(password, std::string_view(reinterpret_cast<const char*>(h.salt.data()), h.salt.size()),
                          h.iterations ? h.iterations : crypt_default_rounds, out);
    case hash_kind::argon2id:
      return argon2id_hash_raw(h.iterations, h.memory_kib, h.lanes, password.data(), password.size(), h.salt.data(),
                               h.salt.size(), out.data(), out.size()) == ARGON2_OK;
  }
  return false;
}

}  // namespace

// ---- password_hash -------------------------------------------------------------

result<password_hash> password_hash::parse(std::string_view text) {
  if (!text.starts_with('$')) return invalid("not a password hash ($6$, $7$ or $argon2id$)");
  const auto f = split_dollar(text.substr(1));
  password_hash h;
  std::string_view salt, hash;
  if (f[0] == "6") {
    if (auto c = parse_sha512_crypt(f)) return std::move(*c);
    if (f.size() != 3) return invalid("$6$ hash is not $6$SALT$HASH");
    h.kind = hash_kind::sha512;
    salt = f[1];
    hash = f[2];
  } else if (f[0] == "7") {
    if (f.size() != 4) return invalid("$7$ hash is not $7$ITERATIONS$SALT$HASH");
    h.kind = hash_kind::pbkdf2_sha512;
    const auto n = parse_count(f[1], max_iterations);
    if (!n) return invalid("$7$ iterations are not a number from 1 to 2147483647");
    h.iterations = *n;
    salt = f[2];
    hash = f[3];
  } else if (f[0] == "argon2id") {
    if (f.size() != 5) return invalid("$argon2id$ hash is not $argon2id$v=19$m=M,t=T,p=P$SALT$HASH");
    return parse_argon2(f[2], f[1], f[3], f[4]);
  } else {
    return invalid("unknown hash type (not $6$, $7$ or $argon2id$)");
  }
  auto s = base64_decode(salt, true);
  auto d = base64_decode(hash, true);
  if (!s || s->size() != mosquitto_salt_size) return invalid("salt is not base64 of 12 bytes");
  if (!d || d->size() != sha512_size) return invalid("hash is not base64 of 64 bytes");
  h.salt = std::move(*s);
  h.hash = std::move(*d);
  return h;
}

result<password_hash> password_hash::make(std::string_view password, const hash_options& options) {
  password_hash h;
  h.kind = options.kind;
  switch (options.kind) {
    case hash_kind::sha512_crypt:
      return invalid("SHA-512-crypt ($6$ of crypt(3)) hashes are read, not written");
    case hash_kind::sha512:
      h.salt.resize(mosquitto_salt_size);
      h.hash.resize(sha512_size);
      break;
    case hash_kind::pbkdf2_sha512:
      if (options.iterations < 1 || options.iterations > max_iterations)
        return invalid("iterations must be from 1 to 2147483647");
      h.iterations = options.iterations;
      h.salt.resize(mosquitto_salt_size);
      h.hash.resize(sha512_size);
      break;
    case hash_kind::argon2id: {
      const auto& c = options.argon2;
      if (c.lanes < 1 || c.lanes > max_argon2_lanes || c.passes < 1 || c.passes > max_iterations ||
          c.memory_kib < 8 * c.lanes || c.memory_kib > max_argon2_memory_kib)
        return invalid("argon2id cost out of range (m >= 8 * p, m <= 4 GiB, 1 <= p <= 255)");
      h.iterations = c.passes;
      h.memory_kib = c.memory_kib;
      h.lanes = c.lanes;
      h.salt.resize(argon2_salt_size);
      h.hash.resize(argon2_hash_size);
      break;
    }
  }
  if (password.size() > std::numeric_limits<std::int32_t>::max()) return invalid("password too long");
  if (RAND_bytes(h.salt.data(), static_cast<int>(h.salt.size())) != 1)
    return error{std::make_error_code(std::errc::io_error), "no random bytes for a salt (OpenSSL RAND_bytes)"};
  std::vector<std::uint8_t> out;
  if (!compute(h, password, out))
    return error{std::make_error_code(std::errc::not_enough_memory), "the hash function failed"};
  h.hash = std::move(out);
  return h;
}

std::string password_hash::to_string() const {
  switch (kind) {
    case hash_kind::sha512:
      return fmt::format("$6${}${}", base64_encode(salt, true), base64_encode(hash, true));
    case hash_kind::sha512_crypt:
      return fmt::format("$6${}{}${}", iterations ? fmt::format("rounds={}$", iterations) : std::string(),
                         std::string(salt.begin(), salt.end()), std::string(hash.begin(), hash.end()));
    case hash_kind::pbkdf2_sha512:
      return fmt::format("$7${}${}${}", iterations, base64_encode(salt, true), base64_encode(hash, true));
    case hash_kind::argon2id:
      return fmt::format("$argon2id$v=19$m={},t={},p={}${}${}", memory_kib, iterations, lanes,
                         base64_encode(salt, false), base64_encode(hash, false));
  }
  return {};
}

bool password_hash::verify(std::string_view password) const {
  if (hash.empty() || password.size() > std::numeric_limits<std::int32_t>::max()) return false;
  std::vector<std::uint8_t> out;
  if (!compute(*this, password, out)) return false;
  const bool same = CRYPTO_memcmp(out.data(), hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(out.data(), out.size());
  return same;
}

// ---- user names ------------------------------------------------------------------

std::optional<error> check_user_name(std::string_view user) noexcept {
  if (user.empty()) return invalid("empty user name");
  if (user.size() > 65'535) return invalid("user name longer than 65535 bytes");
  if (user.find(':') != std::string_view::npos) return invalid("user name contains ':'");
  for (const char c : user)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return invalid("user name contains a control character");
  if (trim(user).size() != user.size()) return invalid("user name starts or ends with a space or tab");
  if (user.front() == '#') return invalid("user name starts with '#' (a comment in the file)");
  if (!utf8::is_valid(user)) return invalid("user name is not UTF-8");
  return std::nullopt;
}

// ---- password_file ---------------------------------------------------------------

namespace {

// The user name and the rest of an account line, or the problem with it.
struct account_line {
  std::string_view user;
  std::string_view rest;  // everything after the first ':', untrimmed
};
std::optional<account_line> split_account(std::string_view text, std::size_t number, problems& p) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    p.add(number, "not \"user:password hash\" (no ':')");
    return std::nullopt;
  }
  account_line a{trim(text.substr(0, colon)), text.substr(colon + 1)};
  if (auto e = check_user_name(a.user)) {
    p.add(number, e->detail);
    return std::nullopt;
  }
  return a;
}

bool is_comment_or_blank(std::string_view text) { return text.starts_with('#') || trim(text).empty(); }

// A comment or blank line as to_text() writes it back: without the carriage
// returns at its end (a CRLF file is written with LF line ends).
std::string kept(std::string_view text) {
  while (text.ends_with('\r')) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

void password_file::reindex() {
  index_.clear();
  for (std::size_t i = 0; i < lines_.size(); ++i)
    if (lines_[i].hash) index_.emplace(lines_[i].user, i);
}

// The lines of `text`: comments and blanks kept, each account's hash from
// hash_of(text after ':', whether the file is still clean), every problem
// named by line.
template <class HashOf>
file_result<password_file> password_file::read(std::string_view text, std::string_view name, HashOf hash_of) {
  password_file f;
  problems p(name);
  std::unordered_map<std::string_view, std::size_t> seen;  // user -> line number
  for (const auto [number, t] : text_lines(text)) {
    if (is_comment_or_blank(t)) {
      f.lines_.push_back({kept(t), {}, std::nullopt});
      continue;
    }
    const auto a = split_account(t, number, p);
    if (!a) continue;
    if (const auto [at, fresh] = seen.emplace(a->user, number); !fresh) {
      p.add(number, fmt::format("user \"{}\" is already on line {}", a->user, at->second));
      continue;
    }
    result<password_hash> h = hash_of(a->rest, p.empty());
    if (!h) {
      p.add(number, fmt::format("user \"{}\": {}", a->user, h.error().message()));
      continue;
    }
    f.lines_.push_back({{}, std::string(a->user), std::move(*h)});
  }
  if (!p.empty()) return p.error();
  f.reindex();
  return f;
}

file_result<password_file> password_file::parse(std::string_view text, std::string_view name) {
  return read(text, name, [](std::string_view rest, bool) { return password_hash::parse(trim(rest)); });
}

file_result<password_file> password_file::load(const std::filesystem::path& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  return parse(*text, path.string());
}

file_result<password_file> password_file::parse_plain(std::string_view text, std::string_view name,
                                                       const hash_options& options) {
  return read(text, name, [&options](std::string_view password, bool clean) -> result<password_hash> {
    if (password_hash::parse(trim(password))) return invalid("the password is already hashed");
    if (!clean) return password_hash{};  // the file is refused: hash no more
    return password_hash::make(password, options);
  });
}

const password_hash* password_file::find(std::string_view user) const {
  const auto it = index_.find(user);
  return it == index_.end() ? nullptr : &*lines_[it->second].hash;
}

bool password_file::verify(std::string_view user, std::string_view password) const {
  const auto* h = find(user);
  return h && h->verify(password);
}

result<void> password_file::set(std::string_view user, std::string_view password, const hash_options& options) {
  if (auto e = check_user_name(user)) return *e;
  auto h = password_hash::make(password, options);
  if (!h) return h.error();
  return set_hash(user, std::move(*h));
}

result<void> password_file::set_hash(std::string_view user, password_hash hash) {
  if (auto e = check_user_name(user)) return *e;
  if (const auto it = index_.find(user); it != index_.end()) {
    lines_[it->second].hash = std::move(hash);
    return {};
  }
  lines_.push_back({{}, std::string(user), std::move(hash)});
  index_.emplace(std::string(user), lines_.size() - 1);
  return {};
}

bool password_file::remove(std::string_view user) {
  const auto it = index_.find(user);
  if (it == index_.end()) return false;
  lines_.erase(lines_.begin() + static_cast<std::ptrdiff_t>(it->second));
  reindex();
  return true;
}

std::string password_file::to_text() const {
  std::string out;
  for (const auto& l : lines_) {
    if (l.hash) out += fmt::format("{}:{}", l.user, l.hash->to_string());
    else out += l.text;
    out += '\n';
  }
  return out;
}

file_result<void> password_file::save(const std::filesystem::path& path) const {
  return write_text(path, to_text(), 0600);
}

}  // namespace tern::auth
