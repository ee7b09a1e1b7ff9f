#!/bin/sh
# Faults for tests and practice, run inside a sandbox host by
# `cdwiz sandbox fault HOST KIND [ARG]`. Each fault leaves a marker in
# /var/lib/cdwiz-fault so that `clear` undoes exactly what was done.
set -eu
F=/var/lib/cdwiz-fault
mkdir -p "$F"

stop_docker() {
  pkill -TERM dockerd 2>/dev/null || true
  i=0
  while [ $i -lt 100 ] && pgrep -x dockerd >/dev/null; do sleep 0.1; i=$((i + 1)); done
  pkill -KILL dockerd 2>/dev/null || true
  pkill -TERM containerd 2>/dev/null || true
}

case "$1" in
  port-taken)
    port=$2
    setsid socat "TCP-LISTEN:$port,fork,reuseaddr" /dev/null </dev/null >/dev/null 2>&1 &
    echo $! > "$F/port-$port.pid"
    i=0
    while [ $i -lt 50 ] && ! ss -Hltn "sport = :$port" | grep -q .; do sleep 0.1; i=$((i + 1)); done
    ;;
  fill-data)
    dir=${2:-/data}
    mkdir -p "$dir"
    # A tiny filesystem on top of whatever the data dir is (it may be a mount).
    awk -v d="$dir" '$2 == d && $1 == "cdwiz-fault-data" {found = 1} END {exit !found}' /proc/mounts \
      || mount -t tmpfs -o size=16m cdwiz-fault-data "$dir"
    dd if=/dev/zero of="$dir/.cdwiz-fault-fill" bs=1M count=64 2>/dev/null || true
    echo "$dir" > "$F/fill-data"
    ;;
  docker-stopped)
    touch "$F/docker-stopped"
    stop_docker
    ;;
  no-docker)
    touch "$F/no-docker"
    stop_docker
    mkdir -p "$F/hidden"
    for b in /usr/bin/docker /usr/sbin/dockerd /usr/bin/dockerd; do
      if [ -e "$b" ]; then mv "$b" "$F/hidden/$(echo "$b" | tr / _)"; fi
    done
    ;;
  hostname)
    echo "$2" > "$F/hostname"
    hostname "$2"
    ;;
  clear)
    for p in "$F"/port-*.pid; do
      [ -e "$p" ] || continue
      kill "$(cat "$p")" 2>/dev/null || true
      rm -f "$p"
    done
    if [ -e "$F/fill-data" ]; then
      dir=$(cat "$F/fill-data")
      rm -f "$dir/.cdwiz-fault-fill"
      while awk -v d="$dir" '$2 == d && $1 == "cdwiz-fault-data" {found = 1} END {exit !found}' /proc/mounts; do
        umount "$dir" || break
      done
      rm -f "$F/fill-data"
    fi
    if [ -d "$F/hidden" ]; then
      for h in "$F"/hidden/*; do
        [ -e "$h" ] || continue
        mv "$h" "$(basename "$h" | tr _ /)"
      done
      rmdir "$F/hidden"
    fi
    rm -f "$F/no-docker" "$F/docker-stopped"
    if [ -e "$F/hostname" ]; then
      rm -f "$F/hostname"
      hostname "$(cat /etc/hostname)"
    fi
    /usr/local/sbin/cdwiz-sandbox-init start-docker
    ;;
  *)
    echo "unknown fault: $1" >&2
    exit 64
    ;;
esac
