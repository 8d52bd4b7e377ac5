#!/bin/sh
# tests/support/make-pki.sh DIR: the certificates of the TLS tests, made in
# DIR (which must exist) with the openssl command; EC P-256 keys, a few ms
# each, valid two days:
#   ca, unknown_ca                 two CAs ("tern test CA", "tern unknown CA")
#   server, unknown_server         localhost and 127.0.0.1, signed by each
#   other_server                   other.example only, signed by ca
#   client                         a client certificate (CN tern-test-client)
#   client_no_cn                   one without a CN
#   capath/                        ca.crt in a hashed folder (openssl rehash)
# Each as NAME.crt and NAME.key. Used by tests/support/pki.hpp and
# tests/interop/run_tls_interop.py.
set -e
cd "$1"
cat >openssl.cnf <<'CNF'
[req]
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
CNF
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
mkdir -p capath
cp ca.crt capath/
openssl rehash capath
chmod -R a+rX .
