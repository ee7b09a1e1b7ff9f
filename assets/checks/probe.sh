# cdwiz host probe: prints key=value facts for the checks. POSIX sh, runs
# as root, changes nothing on the host but a temporary file in the data dir.
# DATA_DIR DATA_DISK PORTS IFACE VIP PEERS PEER_PORT are set above.
# Cheap on purpose: facts are read with shell builtins where they can be
# (`read` from /proc, no `$(...)` around a builtin, which forks in dash);
# each external program runs once.
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
  # a second: 8 MiB flushed to disk (enough to tell 50 MB/s, the warning
  # line, from 10, the failing one), then 20 synchronous 4 KiB writes.
  # dd's own account of its time is used where it gives one (GNU dd's
  # "copied, S s"): the write and the flush without the program's start,
  # which is slow on an emulated or loaded host; else the wall clock.
  # A reading on the wrong side of its warning line is taken once more and
  # the better one kept: a burst of another program's writes on the same
  # disk is not the disk's speed (seen with several hosts on one disk).
  dd_secs() { printf '%s\n' "$1" | sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p'; }
  # Prints the MB/s of one 8 MiB write, "2" when it took over 3 s, nothing
  # when the write failed.
  write_mb_s() {
    t0=$(date +%s%N)
    said=$(timeout 3 dd if=/dev/zero of="$probe" bs=1M count=8 conv=fdatasync 2>&1 >/dev/null)
    rc=$?
    t1=$(date +%s%N)
    secs=$(dd_secs "$said")
    if [ $rc -eq 0 ] && [ -n "$secs" ]; then
      awk -v s="$secs" 'BEGIN { if (s <= 0) s = 0.000001; printf "%d\n", 8 / s }'
    elif [ $rc -eq 0 ]; then
      ns=$((t1 - t0))
      [ $ns -gt 0 ] || ns=1
      echo $((8000000000 / ns))
    elif [ $rc -eq 124 ]; then
      echo 2
    fi
  }
  # Prints the milliseconds of one synchronous 4 KiB write (the mean of
  # 20), nothing when they failed.
  fsync_ms() {
    t0=$(date +%s%N)
    if said=$(timeout 2 dd if=/dev/zero of="$probe" bs=4k count=20 oflag=dsync 2>&1 >/dev/null); then
      t1=$(date +%s%N)
      secs=$(dd_secs "$said")
      if [ -n "$secs" ]; then
        awk -v s="$secs" 'BEGIN { printf "%.2f\n", s * 1000 / 20 }'
      else
        us=$(((t1 - t0) / 20000))
        printf '%d.%02d\n' $((us / 1000)) $((us % 1000 / 10))
      fi
    fi
  }
  if probe=$(mktemp -p "$d" .cdwiz-probe.XXXXXX 2>/dev/null); then
    mb=$(write_mb_s)
    if [ -n "$mb" ] && [ "$mb" -lt 50 ]; then
      again=$(write_mb_s)
      [ -n "$again" ] && [ "$again" -gt "$mb" ] && mb=$again
    fi
    if [ -n "$mb" ]; then
      kv disk.write.mb_s "$mb"
    else
      kv disk.write.failed yes
    fi
    ms=$(fsync_ms)
    if [ -n "$ms" ] && awk -v m="$ms" 'BEGIN { exit !(m > 10) }'; then
      again=$(fsync_ms)
      [ -n "$again" ] && awk -v a="$again" -v m="$ms" 'BEGIN { exit !(a < m) }' && ms=$again
    fi
    [ -n "$ms" ] && kv disk.fsync.ms "$ms"
    rm -f "$probe"
  else
    kv disk.writable no
  fi
) > "$jobs_dir/disk" 2>/dev/null &
# The VIP answers a ping within half a second when anything holds it (an ARP
# reply on the same network takes milliseconds); a ping too old for
# fractional waits (exit 2) is asked again with a whole second.
if [ -n "$VIP" ]; then
  (
    ping -c 1 -W 0.5 "$VIP" >/dev/null 2>&1
    rc=$?
    if [ $rc -eq 2 ]; then ping -c 1 -W 1 "$VIP" >/dev/null 2>&1; rc=$?; fi
    if [ $rc -eq 0 ]; then kv vip.answers yes; else kv vip.answers no; fi
  ) > "$jobs_dir/vip" &
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

read -r v < /proc/sys/kernel/hostname && kv hostname "$v"
# The release files as they are, line by line (read, never sourced: cdwiz
# parses them), and which package managers are there.
osfile() {
  [ -r "$2" ] || return 0
  n=0
  while IFS= read -r l || [ -n "$l" ]; do
    n=$((n + 1))
    [ $n -le 64 ] && printf 'osfile.%s.%d=%s\n' "$1" $n "$l"
  done < "$2"
}
if [ -r /etc/os-release ]; then osfile os-release /etc/os-release; else osfile os-release /usr/lib/os-release; fi
osfile kylin-release /etc/kylin-release
osfile productinfo /etc/.productinfo
osfile openEuler-release /etc/openEuler-release
printf 'pkg.managers='
for m in dnf yum apt-get; do command -v $m >/dev/null 2>&1 && printf '%s ' $m; done
echo
read -r v < /proc/sys/kernel/osrelease && kv kernel "$v"
printf 'arch='; uname -m
printf 'cpus='; getconf _NPROCESSORS_ONLN 2>/dev/null || nproc
mem=; swap=
while read -r k v _; do
  case $k in MemTotal:) mem=$v ;; SwapTotal:) swap=$v ;; esac
done < /proc/meminfo
kv mem.kb "$mem"
kv swap.kb "$swap"
# A sysctl's number is read whole by one program: dash and busybox read a
# byte at a time, and /proc/sys gives a number only to a read from its
# start (dash's `read` saw "6" of 65530).
v=$(cat /proc/sys/vm/max_map_count 2>/dev/null)
kv sysctl.vm.max_map_count "$v"
printf 'nofile='; ulimit -n

# Free space where the data will go: the data dir, or its nearest existing
# parent (`$d`, found above).
if [ -d "$DATA_DIR" ]; then kv data.dir.exists yes; else kv data.dir.exists no; fi
kv data.dir.base "$d"
df -Pk "$d" 2>/dev/null | {
  read -r _
  read -r _ size _ avail _
  kv data.dir.avail.kb "$avail"
  kv data.dir.size.kb "$size"
}

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

# Listening TCP ports, from the kernel's tables (state 0A is LISTEN).
printf 'ports.listening='
awk 'function hex(s,  i, n) {
       n = 0
       for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
       return n
     }
     $4 == "0A" { n = split($2, a, ":"); p = hex(a[n]); if (!(p in seen)) { seen[p] = 1; printf "%d ", p } }
     END { print "" }' /proc/net/tcp /proc/net/tcp6 2>/dev/null || echo

# Container runtime: ask the engine's API on its socket when curl is there
# (far cheaper than the docker CLI, which runs only when the API is silent).
if command -v docker >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1; then
  info=
  if command -v curl >/dev/null 2>&1 && [ -S /var/run/docker.sock ]; then
    info=$(curl -s -m 5 --unix-socket /var/run/docker.sock http://docker/info 2>/dev/null \
      | awk -v RS=',' -F'"' '$2 == "ServerVersion" { v = $4 } $2 == "Driver" { d = $4 } END { if (v != "") print v, d }')
  else
    info=$(timeout 5 docker info --format '{{.ServerVersion}} {{.Driver}}' 2>/dev/null)
  fi
  if [ -n "$info" ]; then
    kv docker.client "${info%% *}"
  else
    kv docker.client "$(docker --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p')"
  fi
  kv docker.server "${info%% *}"
  kv docker.storage "${info#* }"
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
# The daemons that matter, from one read of every process's name.
nl='
'
procs="$nl$(cat /proc/[0-9]*/comm 2>/dev/null)$nl"
running() { case $procs in *"$nl$1$nl"*) return 0 ;; esac; return 1; }
fw=""
for svc in firewalld ufw; do
  if running "$svc"; then fw="$fw$svc "; fi
done
if command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep -q 'Status: active'; then
  case "$fw" in *ufw*) ;; *) fw="${fw}ufw ";; esac
fi
kv firewall "$fw"
# (A process's name is cut at 15 characters.)
ntp=""
if running chronyd; then ntp=chronyd; fi
if running ntpd; then ntp=ntpd; fi
if running systemd-timesyn; then ntp=systemd-timesyncd; fi
kv time.sync "$ntp"

# A previous install.
if [ -r /etc/cdwiz/install.json ]; then
  kv prior.install "$(tr -d '\n' < /etc/cdwiz/install.json)"
fi

# Network: the VIP's interface and the VIP itself.
if [ -n "$IFACE" ]; then
  if addrs=$(ip -o -4 addr show dev "$IFACE" 2>/dev/null); then
    kv iface.exists yes
    printf 'iface.addrs='
    printf '%s\n' "$addrs" | awk '{ printf "%s ", $4 } END { print "" }'
  else
    kv iface.exists no
    kv iface.addrs ""
  fi
fi

wait
cat "$jobs_dir"/disk "$jobs_dir"/vip "$jobs_dir"/peers0 "$jobs_dir"/peers1 "$jobs_dir"/peer-* 2>/dev/null
rm -rf "$jobs_dir"
kv time.epoch.end "$(date +%s.%N)"
kv probe.done yes
