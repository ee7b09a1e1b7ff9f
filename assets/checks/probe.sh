# cdwiz host probe: prints key=value facts for the checks. POSIX sh, runs
# as root, changes nothing on the host but a temporary file in the data dir.
# DATA_DIR DATA_DISK PORTS IFACE VIP PEERS PEER_PORT are set above.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
kv() { printf '%s=%s\n' "$1" "$2"; }

kv time.epoch "$(date +%s.%N)"
kv hostname "$(hostname)"
if [ -r /etc/os-release ]; then
  . /etc/os-release
  kv os.id "${ID:-}"
  kv os.version "${VERSION_ID:-}"
  kv os.name "${PRETTY_NAME:-}"
fi
kv kernel "$(uname -r)"
kv arch "$(uname -m)"
kv cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
kv mem.kb "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
kv swap.kb "$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)"
kv sysctl.vm.max_map_count "$(cat /proc/sys/vm/max_map_count 2>/dev/null)"
kv nofile "$(ulimit -n)"

# Free space where the data will go: the data dir, or its nearest existing parent.
d=$DATA_DIR
while [ ! -d "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
kv data.dir.exists "$([ -d "$DATA_DIR" ] && echo yes || echo no)"
kv data.dir.base "$d"
kv data.dir.avail.kb "$(df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $4}')"
kv data.dir.size.kb "$(df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $2}')"

if [ -n "$DATA_DISK" ]; then
  if [ -b "$DATA_DISK" ]; then
    kv disk.present yes
    kv disk.bytes "$(blockdev --getsize64 "$DATA_DISK" 2>/dev/null)"
    kv disk.fstype "$(blkid -o value -s TYPE "$DATA_DISK" 2>/dev/null)"
    kv disk.mountpoint "$(awk -v d="$DATA_DISK" '$1 == d {print $2; exit}' /proc/mounts)"
  else
    kv disk.present no
  fi
fi

# Disk write throughput and fsync latency in the data dir, bounded in time.
probe="$d/.cdwiz-probe.$$"
if touch "$probe" 2>/dev/null; then
  t0=$(date +%s%N)
  if timeout 3 dd if=/dev/zero of="$probe" bs=1M count=64 conv=fdatasync 2>/dev/null; then
    t1=$(date +%s%N)
    kv disk.write.mb_s "$(awk -v ns=$((t1 - t0)) 'BEGIN { if (ns > 0) printf "%.0f", 64 / (ns / 1e9) }')"
  else
    kv disk.write.failed yes
  fi
  t0=$(date +%s%N)
  if timeout 3 dd if=/dev/zero of="$probe" bs=4k count=50 oflag=dsync 2>/dev/null; then
    t1=$(date +%s%N)
    kv disk.fsync.ms "$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 50 / 1e6 }')"
  fi
  rm -f "$probe"
else
  kv disk.writable no
fi

# Listening TCP ports.
kv ports.listening "$(ss -Hltn 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -un | tr '\n' ' ')"

# Container runtime.
if command -v docker >/dev/null 2>&1; then
  kv docker.client "$(docker --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p')"
  kv docker.server "$(timeout 5 docker version --format '{{.Server.Version}}' 2>/dev/null)"
  kv docker.storage "$(timeout 5 docker info --format '{{.Driver}}' 2>/dev/null)"
else
  kv docker.client ""
fi

# System settings.
if command -v getenforce >/dev/null 2>&1; then
  kv selinux "$(getenforce 2>/dev/null | tr 'A-Z' 'a-z')"
elif [ -r /sys/fs/selinux/enforce ]; then
  kv selinux "$([ "$(cat /sys/fs/selinux/enforce)" = 1 ] && echo enforcing || echo permissive)"
else
  kv selinux disabled
fi
fw=""
for svc in firewalld ufw; do
  if pgrep -x "$svc" >/dev/null 2>&1; then fw="$fw$svc "; fi
done
if command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep -q 'Status: active'; then
  case "$fw" in *ufw*) ;; *) fw="${fw}ufw ";; esac
fi
kv firewall "$fw"
ntp=""
for d in chronyd ntpd systemd-timesyncd; do
  if pgrep -x "$d" >/dev/null 2>&1; then ntp="$d"; fi
done
kv time.sync "$ntp"

# A previous install.
if [ -r /etc/cdwiz/install.json ]; then
  kv prior.install "$(tr -d '\n' < /etc/cdwiz/install.json)"
fi

# Network: the VIP's interface and the VIP itself.
if [ -n "$IFACE" ]; then
  kv iface.addrs "$(ip -o -4 addr show dev "$IFACE" 2>/dev/null | awk '{print $4}' | tr '\n' ' ')"
  kv iface.exists "$(ip link show dev "$IFACE" >/dev/null 2>&1 && echo yes || echo no)"
fi
if [ -n "$VIP" ]; then
  if ping -c 1 -W 1 "$VIP" >/dev/null 2>&1; then kv vip.answers yes; else kv vip.answers no; fi
fi

# Peers: TCP reach of their SSH port and ping round-trip time.
for p in $PEERS; do
  if timeout 2 sh -c "exec 3<>/dev/tcp/$p/$PEER_PORT" 2>/dev/null \
    || timeout 2 bash -c "exec 3<>/dev/tcp/$p/$PEER_PORT" 2>/dev/null; then
    kv "peer.$p.tcp" yes
  else
    kv "peer.$p.tcp" no
  fi
  rtt=$(ping -c 3 -i 0.2 -W 1 "$p" 2>/dev/null | awk -F/ '/^(rtt|round-trip)/ {print $5}')
  kv "peer.$p.rtt_ms" "$rtt"
done
kv time.epoch.end "$(date +%s.%N)"
kv probe.done yes
