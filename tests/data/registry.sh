#!/bin/sh
# The customer's image registry in a sandbox host: Debian's docker-registry
# over TLS (a CA made here; /etc/registry/ca.crt is copied out by the test)
# with basic auth (an htpasswd of bcrypt hashes). Started by the k8s tests:
#   registry.sh ADDRESS USER   (the password in REGISTRY_PASSWORD)
set -eu
ADDR=$1
USER=$2
D=/etc/registry
mkdir -p $D /data/registry
cd $D
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
  -subj "/CN=cdwiz test registry CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=$ADDR" 2>/dev/null
printf 'subjectAltName=IP:%s\n' "$ADDR" >san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -days 2 -extfile san.ext 2>/dev/null
# bcrypt at the lowest cost: the registry checks it on every request.
python3 -W ignore -c 'import crypt, os, sys
print(sys.argv[1] + ":" + crypt.crypt(os.environ["REGISTRY_PASSWORD"], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' \
  "$USER" >htpasswd
cat >config.yml <<CONF
version: 0.1
log: { level: info }
storage: { filesystem: { rootdirectory: /data/registry } }
http: { addr: "$ADDR:5000", tls: { certificate: $D/server.crt, key: $D/server.key } }
auth: { htpasswd: { realm: cdwiz-test, path: $D/htpasswd } }
CONF
setsid nohup docker-registry serve $D/config.yml >/var/log/registry.log 2>&1 </dev/null &
for _ in $(seq 1 50); do
  curl -s --cacert ca.crt -o /dev/null "https://$ADDR:5000/v2/" && exit 0
  sleep 0.2
done
echo "the registry did not start:" >&2
cat /var/log/registry.log >&2
exit 1
