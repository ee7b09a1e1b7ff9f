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

# The main sshd re-reads its configuration (existing logins stay).
reload_sshd() {
  kill -HUP "$(cat /run/sshd.pid)"
  sleep 0.3
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
  # The hardening a bank's hosts have (a customer site to practise on).
  keys-only)
    printf 'PasswordAuthentication no\n' > /etc/ssh/sshd_config.d/00-cdwiz-fault-keys-only.conf
    reload_sshd
    ;;
  no-root-login)
    printf 'PermitRootLogin no\n' > /etc/ssh/sshd_config.d/00-cdwiz-fault-no-root.conf
    reload_sshd
    ;;
  password-only-root)
    if [ -e /root/.ssh/authorized_keys ]; then mv /root/.ssh/authorized_keys "$F/root-authorized_keys"; fi
    ;;
  ssh-port)
    port=$2
    if [ ! -e "$F/ssh-port-$port.pid" ]; then
      /usr/sbin/sshd -p "$port" -o "PidFile=$F/ssh-port-$port.pid" -E "/var/log/sshd-$port.log"
    fi
    ;;
  ssh-only-from)
    # SSH (port 22 and every extra sshd port) only from this address.
    for p in 22 $(ls "$F" | sed -n 's/^ssh-port-\([0-9]*\)\.pid$/\1/p'); do
      iptables -I INPUT -p tcp --dport "$p" ! -s "$2" -j DROP
      echo "$p $2" >> "$F/ssh-only-from"
    done
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
    if [ -e "$F/ssh-only-from" ]; then
      while read -r p a; do iptables -D INPUT -p tcp --dport "$p" ! -s "$a" -j DROP 2>/dev/null || true; done < "$F/ssh-only-from"
      rm -f "$F/ssh-only-from"
    fi
    for p in "$F"/ssh-port-*.pid; do
      [ -e "$p" ] || continue
      kill "$(cat "$p")" 2>/dev/null || true
      rm -f "$p"
    done
    if [ -e "$F/root-authorized_keys" ]; then mv "$F/root-authorized_keys" /root/.ssh/authorized_keys; fi
    if ls /etc/ssh/sshd_config.d/00-cdwiz-fault-* >/dev/null 2>&1; then
      rm -f /etc/ssh/sshd_config.d/00-cdwiz-fault-*
      reload_sshd
    fi
    /usr/local/sbin/cdwiz-sandbox-init start-docker
    ;;
  *)
    echo "unknown fault: $1" >&2
    exit 64
    ;;
esac
