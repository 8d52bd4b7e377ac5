// tests/support/pki.hpp: certificates made at test time with the openssl
// command (EC P-256 keys: a few ms each) in a temporary folder, removed when
// the object goes: a CA ("tern test CA"); a second, unknown CA; server
// certificates for localhost/127.0.0.1 from each (server, unknown_server)
// and one for other.example (other_server); a client certificate (client,
// CN "tern-test-client") and one without a CN (client_no_cn); capath/, the CA
// in a hashed folder.
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
    std::ofstream(dir_ + "/openssl.cnf") << R"([req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[other]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
)";
    const std::string script = R"(set -e
cd ")" + dir_ + R"("
key="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
ca() { openssl req -x509 $key -keyout $1.key -out $1.crt -days 2 -subj "/CN=$2" -config openssl.cnf -extensions ca; }
leaf() {
  subj="/CN=$4"; [ -n "$4" ] || subj="/O=tern tests"
  openssl req -new $key -keyout $1.key -out $1.csr -subj "$subj" -config openssl.cnf
  openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -out $1.crt -days 2 \
    -extfile openssl.cnf -extensions $3
}
ca ca "tern test CA"
ca unknown_ca "tern unknown CA"
leaf server ca server localhost
leaf unknown_server unknown_ca server localhost
leaf other_server ca other other.example
leaf client ca client tern-test-client
leaf client_no_cn ca client ""
mkdir capath
cp ca.crt capath/
openssl rehash capath
chmod -R a+rX .
)";
    std::ofstream(dir_ + "/make.sh") << script;
    ok_ = std::system(("sh " + dir_ + "/make.sh >" + dir_ + "/make.log 2>&1").c_str()) == 0;
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
