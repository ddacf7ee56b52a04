#!/bin/sh
# Regenerate grpcx's interop test certificates (run from this directory: sh generate.sh).
#
#   ca.pem                  a self-signed test CA (its key is not kept)
#   server1.pem/server1.key the server's certificate and key, signed by the CA, for
#                           *.test.google.fr, foo.test.google.fr, localhost, 127.0.0.1, ::1
#                           (interop clients connect with server_host_override
#                           foo.test.google.fr, as grpc's own interop suites do)
#   client.pem/client.key   a client certificate and key for mutual TLS, signed by the CA
#
# Keys are RSA 2048 in PKCS#8; certificates are valid for 20 years. These are test
# credentials, published on purpose: never trust this CA anywhere else.
set -eu
days=7300
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/ca.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
C = US
O = grpcx
CN = grpcx interop test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF

cat >"$tmp/leaf.cnf" <<'CNF'
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.test.google.fr, DNS:foo.test.google.fr, DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/ca.key"
openssl req -new -x509 -key "$tmp/ca.key" -sha256 -days "$days" \
    -config "$tmp/ca.cnf" -extensions v3_ca -out ca.pem

sign() {  # sign NAME SUBJECT EXTENSIONS
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key"
    openssl req -new -key "$1.key" -subj "$2" -out "$tmp/$1.csr"
    openssl x509 -req -in "$tmp/$1.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAcreateserial \
        -sha256 -days "$days" -extfile "$tmp/leaf.cnf" -extensions "$3" -out "$1.pem"
}
sign server1 "/C=US/O=grpcx/CN=*.test.google.fr" server
sign client "/C=US/O=grpcx/CN=grpcx interop test client" client
rm -f ca.srl
chmod 644 ./*.key ./*.pem
openssl verify -CAfile ca.pem server1.pem client.pem
