#!/bin/sh
# Boot of an arm64 sandbox host VM, from the seed disk its carrier made: what
# a container host gets from its engine (mounts, address, name, /etc/hosts)
# and the control link, then the same init as every sandbox host.
set -u
seed=/run/cdwiz-seed
mount -o remount,rw /
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr

. "$seed/net.env"
hostname "$HOSTNAME"
echo "$HOSTNAME" > /etc/hostname
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' \
  "$ADDRESS" "$HOSTNAME" > /etc/hosts
ip link set lo up
ip addr add "$ADDRESS/$PREFIX" dev eth0
ip link set eth0 up
ip route add default via "$GATEWAY"
ip addr add 169.254.77.2/30 dev eth1
ip link set eth1 up

install -d -m 0755 /etc/cdwiz-sandbox
cp -p "$seed"/cdwiz-sandbox/* /etc/cdwiz-sandbox/
cp -p "$seed"/sbin/* /usr/local/sbin/
install -m 0600 "$seed/control.pub" /etc/cdwiz-sandbox/control.pub

# The control sshd: its own configuration (the host's sshd_config and the
# faults that change it do not apply), key only, on the private link.
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A >/dev/null
mkdir -p /run/sshd /var/log
cat > /run/cdwiz-control-sshd.conf <<CONF
ListenAddress 169.254.77.2:2222
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile /etc/cdwiz-sandbox/control.pub
PidFile /run/cdwiz-control-sshd.pid
UsePAM no
UseDNS no
CONF
/usr/sbin/sshd -f /run/cdwiz-control-sshd.conf -E /var/log/sshd-control.log

# docker-init (tini) as the VM's first process reaps orphans, as the
# container hosts' init does.
exec /usr/bin/docker-init -- /usr/local/sbin/cdwiz-sandbox-init
