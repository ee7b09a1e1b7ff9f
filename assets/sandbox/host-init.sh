#!/bin/sh
# Entry of a cdwiz sandbox host (runs under docker-init). There is no systemd:
# this script applies the instance's credentials and starts sshd and dockerd,
# then waits. It runs again, idempotently, on every start of the container.
set -u
mkdir -p /run/sshd /run/cdwiz-sandbox /var/log /var/lib/cdwiz-fault

if [ -s /etc/cdwiz-sandbox/password ]; then
  pw=$(cat /etc/cdwiz-sandbox/password)
  for u in root ops auto; do printf '%s:%s\n' "$u" "$pw"; done | chpasswd
fi
# The instance's keys are added to each user's authorized_keys; what else
# is there stays, as on a real host across a reboot (cdwiz's own key).
if [ -s /etc/cdwiz-sandbox/authorized_keys ]; then
  for u in root ops auto; do
    home=$(getent passwd "$u" | cut -d: -f6)
    install -d -m 0700 -o "$u" -g "$u" "$home/.ssh"
    keys=$home/.ssh/authorized_keys
    [ -e "$keys" ] || install -m 0600 -o "$u" -g "$u" /dev/null "$keys"
    while IFS= read -r line; do
      [ -n "$line" ] || continue
      grep -qxF "$line" "$keys" || printf '%s\n' "$line" >> "$keys"
    done < /etc/cdwiz-sandbox/authorized_keys
  done
fi
if [ -s /var/lib/cdwiz-fault/hostname ]; then
  hostname "$(cat /var/lib/cdwiz-fault/hostname)"
fi

# As a real boot does: mount what /etc/fstab lists (a data disk cdwiz
# formatted), before the engine starts the containers that use it.
mount -a -t ext4,xfs 2>/dev/null

[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A >/dev/null
/usr/sbin/sshd -E /var/log/sshd.log
# Time is this machine's clock (shared kernel); chronyd runs as on a real
# host but never sets it (-x).
pgrep -x chronyd >/dev/null || chronyd -x -f /etc/chrony/chrony.conf >/dev/null 2>&1

cdwiz_start_docker() {
  [ -e /var/lib/cdwiz-fault/no-docker ] && return 0
  [ -e /var/lib/cdwiz-fault/docker-stopped ] && return 0
  pgrep -x dockerd >/dev/null && return 0
  rm -f /var/run/docker.pid
  # Where iptables cannot work (a host run under qemu-user, which does not
  # carry netfilter's netlink protocol) the engine manages no iptables rules
  # (cdwiz's containers use the host's network and need none).
  filter=
  iptables -nL >/dev/null 2>&1 || filter=--iptables=false
  setsid dockerd --storage-driver=overlay2 --log-level=warn $filter </dev/null >>/var/log/dockerd.log 2>&1 &
  i=0
  while [ $i -lt 300 ] && ! docker version >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
}

case "${1:-boot}" in
  start-docker) cdwiz_start_docker; exit 0 ;;
esac

cdwiz_start_docker
touch /run/cdwiz-sandbox/ready

cdwiz_stop() {
  pkill -TERM keepalived 2>/dev/null
  pkill -TERM dockerd 2>/dev/null
  i=0
  while [ $i -lt 50 ] && pgrep -x dockerd >/dev/null; do sleep 0.1; i=$((i + 1)); done
  exit 0
}
trap cdwiz_stop TERM INT
while :; do sleep 3600 & wait $!; done
