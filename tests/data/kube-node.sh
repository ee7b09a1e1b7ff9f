#!/bin/sh
# A one-node Kubernetes cluster inside a sandbox host: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and a kubelet running its pods on
# the host's own Docker engine (dockershim). Started by the k8s tests; the
# binaries are in $BIN (scripts/build-kube), state under /data/kube.
# Service names resolve through cluster DNS, Service addresses route
# through kube-proxy (iptables): Debian packages no CoreDNS, so the closest
# real substitute answers instead, Debian's dnsmasq serving
# <service>.<namespace>.svc.cluster.local from a hosts file that
# kube-dns-sync.py keeps equal to the API server's Services.
set -eu
BIN=${BIN:-/opt/kube}
ADDR=$1
K=/data/kube
mkdir -p $K/etcd $K/certs $K/logs $K/kubelet /etc/kubernetes
[ -s $K/certs/sa.key ] || openssl genrsa -out $K/certs/sa.key 2048 2>/dev/null
cat >$K/tokens.csv <<EOF
admin-token,admin,1,"system:masters"
limited-token,limited,2,
EOF
cat >/etc/kubernetes/admin.conf <<EOF
apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: sandbox
  cluster: { server: "https://$ADDR:6443", insecure-skip-tls-verify: true }
users:
- name: admin
  user: { token: admin-token }
contexts:
- name: admin
  context: { cluster: sandbox, user: admin }
EOF
# /dev/kmsg feeds the kubelet's OOM watcher; a container has none.
[ -e /dev/kmsg ] || ln -s /dev/null /dev/kmsg

# The pod sandbox ("pause") image, made here: nothing is ever pulled.
if ! docker image inspect cdwiz/pause:1 >/dev/null 2>&1; then
  d=$(mktemp -d)
  cp /opt/kube/busybox "$d/busybox"
  tar -C "$d" -c busybox | docker import -c 'ENTRYPOINT ["/busybox", "sleep", "2147483647"]' - cdwiz/pause:1 >/dev/null
  rm -rf "$d"
fi

start() {
  name=$1
  shift
  nohup "$@" >$K/logs/$name.log 2>&1 &
}
start etcd $BIN/etcd --data-dir $K/etcd --listen-client-urls http://127.0.0.1:2379 \
  --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380
start kube-apiserver $BIN/kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$ADDR" \
  --service-cluster-ip-range=10.96.0.0/24 --authorization-mode=Node,RBAC \
  --token-auth-file=$K/tokens.csv --cert-dir=$K/certs \
  --service-account-key-file=$K/certs/sa.key --service-account-signing-key-file=$K/certs/sa.key \
  --service-account-issuer=https://kubernetes.default.svc \
  --disable-admission-plugins=ServiceAccount --endpoint-reconciler-type=none
for _ in $(seq 1 60); do
  [ "$(curl -sk -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer admin-token' https://127.0.0.1:6443/readyz)" = 200 ] && break
  sleep 1
done
start kube-controller-manager $BIN/kube-controller-manager --kubeconfig=/etc/kubernetes/admin.conf \
  --service-account-private-key-file=$K/certs/sa.key --leader-elect=false \
  --controllers='*,-serviceaccount-token' --bind-address=127.0.0.1
start kube-scheduler $BIN/kube-scheduler --kubeconfig=/etc/kubernetes/admin.conf \
  --leader-elect=false --bind-address=127.0.0.1
start kubelet $BIN/kubelet --kubeconfig=/etc/kubernetes/admin.conf \
  --container-runtime=docker --pod-infra-container-image=cdwiz/pause:1 \
  --cgroup-driver=cgroupfs --cgroups-per-qos=false --enforce-node-allocatable= \
  --fail-swap-on=false --root-dir=$K/kubelet --hostname-override="$(hostname)" \
  --image-gc-high-threshold=100 --image-gc-low-threshold=99 --eviction-hard= \
  --address=0.0.0.0 --read-only-port=0 --anonymous-auth=true --authorization-mode=AlwaysAllow \
  --cluster-dns="$ADDR" --cluster-domain=cluster.local
# Service routing. Replies of a pod to a pod on the same bridge would skip
# the node's NAT without br_netfilter: every Service connection is
# masqueraded instead. The conntrack settings are the machine's: left as
# they are.
start kube-proxy $BIN/kube-proxy --kubeconfig=/etc/kubernetes/admin.conf \
  --hostname-override="$(hostname)" --proxy-mode=iptables --masquerade-all \
  --cluster-cidr=172.16.0.0/12 --conntrack-max-per-core=0 \
  --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
  --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
# Cluster DNS: names of cluster.local from the synced file, nothing else
# (no upstream: the sandbox has none to ask).
mkdir -p $K/dns
touch $K/dns/services
start dnsmasq dnsmasq --keep-in-foreground --no-resolv --no-hosts \
  --addn-hosts=$K/dns/services --listen-address="$ADDR" --bind-interfaces \
  --local=/cluster.local/ --log-facility=-
start dns-sync python3 $BIN/kube-dns-sync.py $K/dns/services
echo started
