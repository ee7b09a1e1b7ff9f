# cdwiz host probe: prints key=value facts for the checks. POSIX sh, runs
# as root, changes nothing on the host but a temporary file in the data dir.
# DATA_DIR DATA_DISK PORTS IFACE VIP PEERS PEER_PORT are set above.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
kv() { printf '%s=%s\n' "$1" "$2"; }

kv time.epoch "$(date +%s.%N)"

# The slow probes (disk, VIP, peers) run in the background while the quick
# facts are gathered; their output is collected at the end.
jobs_dir=$(mktemp -d) || { echo "mktemp -d failed: the probe needs a writable temp dir" >&2; exit 1; }
d=$DATA_DIR
while [ ! -d "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
(
  # Disk write throughput and fsync latency in the data dir, bounded to about
  # a second: 16 MiB flushed to disk, then 50 synchronous 4 KiB writes.
  if probe=$(mktemp -p "$d" .cdwiz-probe.XXXXXX 2>/dev/null); then
    t0=$(date +%s%N)
    timeout 3 dd if=/dev/zero of="$probe" bs=1M count=16 conv=fdatasync 2>/dev/null
    rc=$?
    t1=$(date +%s%N)
    if [ $rc -eq 0 ]; then
      kv disk.write.mb_s "$(awk -v ns=$((t1 - t0)) 'BEGIN { if (ns > 0) printf "%.0f", 16 / (ns / 1e9) }')"
    elif [ $rc -eq 124 ]; then
      kv disk.write.mb_s "$(awk 'BEGIN { printf "%.1f", 16 / 3 }')"
    else
      kv disk.write.failed yes
    fi
    t0=$(date +%s%N)
    if timeout 2 dd if=/dev/zero of="$probe" bs=4k count=50 oflag=dsync 2>/dev/null; then
      t1=$(date +%s%N)
      kv disk.fsync.ms "$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 50 / 1e6 }')"
    fi
    rm -f "$probe"
  else
    kv disk.writable no
  fi
) > "$jobs_dir/disk" 2>/dev/null &
if [ -n "$VIP" ]; then
  ( if ping -c 1 -W 1 "$VIP" >/dev/null 2>&1; then kv vip.answers yes; else kv vip.answers no; fi ) \
    > "$jobs_dir/vip" &
fi
# Peers: reach on a port the platform uses (not SSH, which a hardened site
# allows only from the bastion) and the TCP connect time, all peers at once
# in one bash, bounded. An answer proves reach, a refusal too (the port is
# not listening yet, but the network carried the packets); silence means
# filtered. A peer with no answer keeps the `no` written first (the last
# line wins).
kv peer.port "$PEER_PORT"
for p in $PEERS; do kv "peer.$p.tcp" no; done > "$jobs_dir/peers0"
if command -v bash >/dev/null 2>&1; then
  timeout 3 bash -c '
    # Reach every peer at once; then time three connects to each reachable
    # one in turn and keep the fastest (parallel timing would measure the
    # scheduler, not the network).
    reach() { err=$( { exec 3<>"/dev/tcp/$1/$2"; } 2>&1 ) || case $err in *refused*) ;; *) return 1 ;; esac; }
    for p in $1; do
      ( reach "$p" "$2" && echo "$p" ) 2>/dev/null &
    done > "$3/reached"
    # A peer that has not answered within a second counts as unreachable.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      [ -z "$(jobs -r)" ] && break
      sleep 0.1
    done
    while read -r p; do
      best=
      for _ in 1 2 3; do
        # An accepted and a refused connect both take one round trip.
        s=${EPOCHREALTIME/./}
        { exec 3<>"/dev/tcp/$p/$2"; } 2>/dev/null
        e=${EPOCHREALTIME/./}
        exec 3<&- 2>/dev/null
        us=$((e - s))
        if [ -z "$best" ] || [ $us -lt $best ]; then best=$us; fi
      done
      printf "peer.%s.tcp=yes\n" "$p"
      [ -n "$best" ] && printf "peer.%s.rtt_ms=%d.%03d\n" "$p" $((best / 1000)) $((best % 1000))
    done < "$3/reached"
    ' cdwiz-peers "$PEERS" "$PEER_PORT" "$jobs_dir" > "$jobs_dir/peers1" 2>/dev/null &
else
  for p in $PEERS; do
    (
      rtt=$(ping -c 2 -i 0.2 -W 1 "$p" 2>/dev/null | awk -F/ '/^(rtt|round-trip)/ {print $5}')
      if [ -n "$rtt" ]; then printf 'peer.%s.tcp=yes\npeer.%s.rtt_ms=%s\n' "$p" "$p" "$rtt"; fi
    ) > "$jobs_dir/peer-$p" &
  done
fi

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
    disk_state "$DATA_DISK"
    kv disk.state "$ds_state"
    kv disk.why "$ds_why"
    kv disk.fstype "$ds_fs"
    kv disk.mountpoint "$ds_mnt"
  else
    kv disk.present no
  fi
fi

# Listening TCP ports.
kv ports.listening "$(ss -Hltn 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -un | tr '\n' ' ')"

# Container runtime: ask the engine's API on its socket when curl is there
# (far cheaper than the docker CLI), else the CLI.
if command -v docker >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1; then
  kv docker.client "$(docker --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p')"
  if command -v curl >/dev/null 2>&1 && [ -S /var/run/docker.sock ]; then
    info=$(curl -s -m 5 --unix-socket /var/run/docker.sock http://docker/info 2>/dev/null \
      | tr ',' '\n' | sed -n 's/^"\(ServerVersion\|Driver\)":"\([^"]*\)"$/\1 \2/p')
    kv docker.server "$(echo "$info" | awk '$1 == "ServerVersion" {print $2}')"
    kv docker.storage "$(echo "$info" | awk '$1 == "Driver" {print $2}')"
  else
    info=$(timeout 5 docker info --format '{{.ServerVersion}} {{.Driver}}' 2>/dev/null)
    kv docker.server "${info%% *}"
    kv docker.storage "$(echo "$info" | awk '{print $2}')"
  fi
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

wait
cat "$jobs_dir"/disk "$jobs_dir"/vip "$jobs_dir"/peers0 "$jobs_dir"/peers1 "$jobs_dir"/peer-* 2>/dev/null
rm -rf "$jobs_dir"
kv time.epoch.end "$(date +%s.%N)"
kv probe.done yes
