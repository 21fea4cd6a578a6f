#!/usr/bin/env bash
# Makes the TLS test certificates in this directory (committed; run again only to replace them):
#   ca.pem            a test CA (the CA key is thrown away: nothing else can be signed by it)
#   server.pem        a server certificate for 127.0.0.1, ::1 and localhost, signed by ca.pem
#   server-key.pem    its private key
#   other-ca.pem      an unrelated CA (the "wrong CA" for tests)
# Validity ~100 years, EC P-256. For tests only: the keys are public.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

days=36500
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

make_ca() { # name key cert
    ec "$2"
    openssl req -x509 -new -key "$2" -sha256 -days $days -subj "/O=shipper tests/CN=$1" -out "$3" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash"
}

make_ca "shipper test CA" "$work/ca-key.pem" ca.pem
make_ca "shipper other test CA" "$work/other-ca-key.pem" other-ca.pem

ec server-key.pem
openssl req -new -key server-key.pem -subj "/O=shipper tests/CN=localhost" -out "$work/server.csr"
cat > "$work/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
openssl x509 -req -in "$work/server.csr" -CA ca.pem -CAkey "$work/ca-key.pem" -CAcreateserial -CAserial "$work/ca.srl" \
    -days $days -sha256 -extfile "$work/server.ext" -out server.pem
chmod 0644 server-key.pem
openssl verify -CAfile ca.pem server.pem
