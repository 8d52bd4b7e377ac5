// tests/support/pki.hpp: certificates made at test time with the openssl
// command (tests/support/make-pki.sh, which lists them) in a temporary
// folder, removed when the object goes: a CA ("tern test CA"); a second,
// unknown CA; server certificates for localhost/127.0.0.1 from each (server,
// unknown_server) and one for other.example (other_server); a client
// certificate (client, CN "tern-test-client") and one without a CN
// (client_no_cn); capath/, the CA in a hashed folder. Needs TERN_SOURCE_DIR
// (defined for every tern_test target).
//
//   tern::testing::pki p;
//   ASSERT_TRUE(p.ok()) << p.log();
//   tls.ca_file = p.path("ca.crt");      // also server.crt/.key, client.crt/.key...
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace tern::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The certificates (make them once per suite).
class pki {
 public:
  pki() {
    char tmpl[] = "/tmp/tern-tls-XXXXXX";
    if (::mkdtemp(tmpl)) dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);  // mosquitto, started as root, reads as user mosquitto
    ok_ = std::system(("sh " TERN_SOURCE_DIR "/tests/support/make-pki.sh " + dir_ + " >" + dir_ + "/make.log 2>&1")
                          .c_str()) == 0;
  }
  ~pki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  bool ok() const { return ok_; }
  std::string log() const { return slurp(dir_ + "/make.log"); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  bool ok_ = false;
};

}  // namespace tern::testing
