#include "tern/auth/password_file.hpp"

#include <argon2.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

namespace tern::auth {
namespace {

// Written by Debian's mosquitto_passwd 2.0.11: `-c -b` (alice), `-b` with a
// password holding ':' and ' ' (bob, "b:o b"), `-H sha512` (carol, a
// mosquitto 1.x $6$ hash) and `-I 1000` with a non-ASCII password (dave, "päss").
constexpr std::string_view mosquitto_file =
    "alice:$7$101$rIXJb2xV1/MaZk7c$A/mv7AN7ZfGPOQwBnSTQtD1Ty8HSUmtDe0iAU9bOT9llzaAemIKQFWLhOTnv076OaCLbyIROAKBvKVyzBWOCKA==\n"
    "bob:$7$101$Z2RQOGAYB8sF4vJg$9Qg0rRIjS0Na1bxwjAJaWZ41ImsIlMi0roHYGscC6jNlXOZmCicDM2pP9B2NyYPCgUn8uaDhD5ZfbRGPvE09Ag==\n"
    "carol:$6$CnfvWBf8Z65GiEVC$4pYzM7uOV2Qqbqoz6Y3eimJjTtDXIkFDYlsxMQEnbjBEkycUrh/ZyvvEE52w7E6a5t9tPktZGqtTH+hXbfNZog==\n"
    "dave:$7$1000$zJGXI8DlpzXBKnYz$hWJ/x5RQzwUTmlcneeZ4XnUhVX5+DSc8Ol3cm1AW/SCqAh8MzjcBB2TLL4WLiaEGhA+ZHO7UjywJYGBBIHQGYw==\n";

// Cheap costs: the tests hash many times.
hash_options cheap(hash_kind kind = hash_kind::pbkdf2_sha512) {
  hash_options o;
  o.kind = kind;
  o.iterations = 10;
  o.argon2 = {64, 1, 1};
  return o;
}

TEST(PasswordFile, VerifiesWhatMosquittoPasswdWrote) {
  auto f = password_file::parse(mosquitto_file, "passwd");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->size(), 4u);
  EXPECT_TRUE(f->verify("alice", "wonderland"));
  EXPECT_TRUE(f->verify("bob", "b:o b"));
  EXPECT_TRUE(f->verify("carol", "c4rol"));
  EXPECT_TRUE(f->verify("dave", "p\xC3\xA4ss"));
  EXPECT_EQ(f->find("dave")->iterations, 1000u);
  EXPECT_EQ(f->find("carol")->kind, hash_kind::sha512);
  EXPECT_FALSE(f->verify("alice", "Wonderland"));
  EXPECT_FALSE(f->verify("alice", ""));
  EXPECT_FALSE(f->verify("bob", "b:o"));
  EXPECT_FALSE(f->verify("carol", "c4rol "));
  EXPECT_FALSE(f->verify("erin", "wonderland"));
}

TEST(PasswordFile, WritesBackWhatItRead) {
  const std::string text = "# users\n\n" + std::string(mosquitto_file);
  auto f = password_file::parse(text, "passwd");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->to_text(), text);
}

TEST(PasswordFile, ReadsCrLfAndBlanksAroundFields) {
  auto f = password_file::parse(
      "# users\r\r\n alice :$7$101$rIXJb2xV1/MaZk7c$A/mv7AN7ZfGPOQwBnSTQtD1Ty8HSUmtDe0iAU9bOT9llzaAemIKQFWLhOTnv076OaCLbyIROAKBvKVyzBWOCKA== \r\n",
      "passwd");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->verify("alice", "wonderland"));
  // Written back with LF line ends, a text that reads back to itself (found by password_file_fuzz).
  EXPECT_TRUE(f->to_text().starts_with("# users\nalice:$7$101$")) << f->to_text();
  EXPECT_EQ(password_file::parse(f->to_text(), "again").value().to_text(), f->to_text());
}

TEST(PasswordFile, RefusesEveryMalformedLineByFileAndLine) {
  const auto f = password_file::parse(
      "alice:$7$101$rIXJb2xV1/MaZk7c$A/mv7AN7ZfGPOQwBnSTQtD1Ty8HSUmtDe0iAU9bOT9llzaAemIKQFWLhOTnv076OaCLbyIROAKBvKVyzBWOCKA==\n"
      "no colon here\n"
      "bob:plaintext-secret\n"
      "carol:$7$0$rIXJb2xV1/MaZk7c$A/mv\n"
      "dave:$7$101$c2hvcnQ=$A/mv7AN7ZfGPOQwBnSTQtD1Ty8HSUmtDe0iAU9bOT9llzaAemIKQFWLhOTnv076OaCLbyIROAKBvKVyzBWOCKA==\n"
      "alice:$6$CnfvWBf8Z65GiEVC$4pYzM7uOV2Qqbqoz6Y3eimJjTtDXIkFDYlsxMQEnbjBEkycUrh/ZyvvEE52w7E6a5t9tPktZGqtTH+hXbfNZog==\n"
      ":$6$CnfvWBf8Z65GiEVC$4pYzM7uOV2Qqbqoz6Y3eimJjTtDXIkFDYlsxMQEnbjBEkycUrh/ZyvvEE52w7E6a5t9tPktZGqtTH+hXbfNZog==\n"
      "erin:$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g\n",
      "etc/passwd");
  ASSERT_FALSE(f);
  const std::string& m = f.error().message;
  EXPECT_NE(m.find("etc/passwd:2: not \"user:password hash\""), std::string::npos) << m;
  EXPECT_NE(m.find("etc/passwd:3: user \"bob\": not a password hash"), std::string::npos) << m;
  EXPECT_NE(m.find("etc/passwd:4: user \"carol\": $7$ iterations"), std::string::npos) << m;
  EXPECT_NE(m.find("etc/passwd:5: user \"dave\": salt is not base64 of 12 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find("etc/passwd:6: user \"alice\" is already on line 1"), std::string::npos) << m;
  EXPECT_NE(m.find("etc/passwd:7: empty user name"), std::string::npos) << m;
  EXPECT_NE(m.find("etc/passwd:8: user \"erin\": argon2id: only version 19"), std::string::npos) << m;
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 6) << m;
  // Never the password, nor a hash.
  EXPECT_EQ(m.find("plaintext-secret"), std::string::npos) << m;
  EXPECT_EQ(m.find("A/mv"), std::string::npos) << m;
}

TEST(PasswordFile, RefusesAnUnreadableFileByName) {
  const auto f = password_file::load("/nonexistent/tern/passwd");
  ASSERT_FALSE(f);
  EXPECT_TRUE(f.error().message.starts_with("/nonexistent/tern/passwd: cannot be read")) << f.error().message;
}

TEST(PasswordHash, RoundTripsEveryKind) {
  for (const auto kind : {hash_kind::sha512, hash_kind::pbkdf2_sha512, hash_kind::argon2id}) {
    auto h = password_hash::make("s3cret", cheap(kind));
    ASSERT_TRUE(h) << h.error().message();
    EXPECT_TRUE(h->verify("s3cret"));
    EXPECT_FALSE(h->verify("s3cret2"));
    auto back = password_hash::parse(h->to_string());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, *h);
    EXPECT_TRUE(back->verify("s3cret"));
  }
}

TEST(PasswordHash, WritesMosquittosShapes) {
  auto h7 = password_hash::make("x", cheap());
  ASSERT_TRUE(h7);
  const auto s7 = h7->to_string();
  EXPECT_TRUE(s7.starts_with("$7$10$")) << s7;
  EXPECT_EQ(s7.size(), 6 + 16 + 1 + 88u) << s7;  // 12-byte salt, 64-byte hash, base64 padded
  auto h6 = password_hash::make("x", cheap(hash_kind::sha512));
  ASSERT_TRUE(h6);
  EXPECT_TRUE(h6->to_string().starts_with("$6$"));
  EXPECT_EQ(password_hash::make("x", {}).value().iterations, default_pbkdf2_iterations);
  EXPECT_FALSE(password_hash::make("x", [] {
                 auto o = cheap();
                 o.iterations = 0;
                 return o;
               }()));
}

// SHA-512-crypt as glibc's crypt(3) writes it (Drepper's test vectors, and
// Python's crypt.crypt for the others): what amqtt's password files hold.
TEST(PasswordHash, ReadsAndVerifiesSha512Crypt) {
  struct vec {
    const char* password;
    const char* text;
  };
  const vec vectors[] = {
      {"Hello world!",
       "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
      {"Hello world!",
       "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/"
       "YTBmSK6H9qs/y3RnOaw5v."},
      {"p\xc3\xa4ss",
       "$6$AbCdEfGh12345678$Dkf19bJ3PeOPqLdBeoW112Z9daaeNnzoRvFxLzBaw9DxEtUXM1FIwkfnJmPNPwyMyz1Spj3PmeLFGxoulBRMZ."},
      {"", "$6$x$QSmr1Bx2g4O6BzKvdkgOcyU6H91X6I/XBv5pSalMhSPkwdH6Beo3F455xZJg0v//bxVK5F4OE5k1.0xuR26MK0"},
  };
  for (const auto& v : vectors) {
    auto h = password_hash::parse(v.text);
    ASSERT_TRUE(h) << v.text << ": " << h.error().message();
    EXPECT_EQ(h->kind, hash_kind::sha512_crypt);
    EXPECT_TRUE(h->verify(v.password)) << v.text;
    EXPECT_FALSE(h->verify(std::string(v.password) + "x")) << v.text;
    EXPECT_EQ(h->to_string(), v.text);
  }
  const std::string long_key(200, 'a');
  auto h = password_hash::parse(
      "$6$rounds=1000$q$E1qgR6vh.3t1k4sr./u5f/pI4GqJnu8WHa7Es9rhkAWWMmZNsE/U5nrH8WaZzRqnTGuCH9onhoJBeIfaaScQi.");
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->verify(long_key));
  // mosquitto's own $6$ stays what it was; crypt's is never written.
  EXPECT_EQ(password_hash::parse("$6$CnfvWBf8Z65GiEVC$4pYzM7uOV2Qqbqoz6Y3eimJjTtDXIkFDYlsxMQEnbjBEkycUrh/"
                                 "ZyvvEE52w7E6a5t9tPktZGqtTH+hXbfNZog==")
                .value()
                .kind,
            hash_kind::sha512);
  EXPECT_FALSE(password_hash::make("x", cheap(hash_kind::sha512_crypt)));
  auto f = password_file::parse(
      "amqtt:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1\n",
      "passwd");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->verify("amqtt", "Hello world!"));
}

TEST(PasswordHash, Argon2idAgreesWithLibargon2sEncoding) {
  // libargon2 encodes a hash itself; we read and verify it...
  const std::string salt = "somesalt12345678";
  char encoded[256];
  ASSERT_EQ(argon2id_hash_encoded(2, 64, 1, "password", 8, salt.data(), salt.size(), 32, encoded, sizeof encoded),
            ARGON2_OK);
  auto h = password_hash::parse(encoded);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->to_string(), encoded);
  EXPECT_TRUE(h->verify("password"));
  EXPECT_FALSE(h->verify("passwore"));
  // ... and libargon2 verifies what we write.
  auto mine = password_hash::make("hunter2", cheap(hash_kind::argon2id));
  ASSERT_TRUE(mine);
  EXPECT_EQ(argon2id_verify(mine->to_string().c_str(), "hunter2", 7), ARGON2_OK);
  EXPECT_NE(argon2id_verify(mine->to_string().c_str(), "hunter3", 7), ARGON2_OK);
}

TEST(PasswordHash, RefusesMalformedHashes) {
  for (std::string_view bad :
       {"", "$", "$5$abc$def", "$6$", "$6$CnfvWBf8Z65GiEVC", "$7$101$rIXJb2xV1/MaZk7c",
        "$7$-1$rIXJb2xV1/MaZk7c$AAAA", "$7$12a$rIXJb2xV1/MaZk7c$AAAA", "$7$99999999999$rIXJb2xV1/MaZk7c$AAAA",
        "$7$101$rIXJb2xV1/MaZk7c$AAAA", "$7$101$rIXJb2xV1/MaZk7*$AAAA", "$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaGhhc2g",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ=$aGFzaGhhc2g", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"})
    EXPECT_FALSE(password_hash::parse(bad)) << bad;
}

TEST(PasswordFile, SetsReplacesRemovesAndSaves) {
  auto f = password_file::parse("# keep me\n" + std::string(mosquitto_file), "passwd").value();
  ASSERT_TRUE(f.set("alice", "new", cheap()));
  ASSERT_TRUE(f.set("frank", "f", cheap(hash_kind::argon2id)));
  EXPECT_TRUE(f.remove("bob"));
  EXPECT_FALSE(f.remove("bob"));
  EXPECT_FALSE(f.verify("alice", "wonderland"));
  EXPECT_TRUE(f.verify("alice", "new"));
  EXPECT_TRUE(f.verify("frank", "f"));
  EXPECT_FALSE(f.set("a:b", "x", cheap()));
  EXPECT_FALSE(f.set("#a", "x", cheap()));
  EXPECT_FALSE(f.set(" a", "x", cheap()));
  EXPECT_FALSE(f.set("a\nb", "x", cheap()));
  EXPECT_FALSE(f.set("", "x", cheap()));

  const auto dir = std::filesystem::temp_directory_path() / ("tern-auth-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "passwd";
  ASSERT_TRUE(f.save(path));
  EXPECT_EQ(std::filesystem::status(path).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto back = password_file::load(path);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->to_text(), f.to_text());
  EXPECT_TRUE(back->to_text().starts_with("# keep me\nalice:$7$10$")) << back->to_text();
  EXPECT_FALSE(back->contains("bob"));
  EXPECT_TRUE(back->verify("carol", "c4rol"));
  // A later save keeps the mode the file has.
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                         std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  ASSERT_TRUE(back->save(path));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::others_read);
  std::filesystem::remove_all(dir);
}

TEST(PasswordFile, ConvertsPlainText) {
  auto f = password_file::parse_plain("# plain\nalice:wonderland\nbob: spaced :colon\n", "plain", cheap());
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->verify("alice", "wonderland"));
  EXPECT_TRUE(f->verify("bob", " spaced :colon"));
  EXPECT_TRUE(f->to_text().starts_with("# plain\nalice:$7$10$"));
  // Twice would hash the hashes: refused.
  const auto again = password_file::parse_plain(f->to_text(), "plain", cheap());
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("plain:2: user \"alice\": the password is already hashed"), std::string::npos)
      << again.error().message;
}

}  // namespace
}  // namespace tern::auth
