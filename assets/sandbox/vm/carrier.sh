#!/bin/bash
# Entry of the carrier container of an arm64 sandbox host (runs under
# docker-init). The host itself is a virtual machine: qemu-system-aarch64
# under software emulation, with Debian's arm64 kernel, so that its Docker
# engine can make containers (qemu-user cannot: README, 信创 / arm64).
#
# The carrier holds the host's address on the sandbox network and hands it
# to the VM: eth0 and the VM's tap0 are joined in a bridge. A second tap is a
# private link (169.254.77.0/30) to the VM's control sshd, through which
# cdwiz-vm-exec runs cdwiz's own commands (readiness, faults) whatever the
# faults did to the host's own sshd.
set -u
umask 077
base=/vm/base    # root.ext4, vmlinuz, initrd.img of the recipe (read-only, shared)
state=/vm/state  # this host's own: its disk, seed disk, data disk, control key, console log
# What the VM is (cdwiz's src/sandbox/vm.rs sets it all).
: "${CDWIZ_VM_ADDRESS:?}" "${CDWIZ_VM_PREFIX:?}" "${CDWIZ_VM_GATEWAY:?}"
: "${CDWIZ_VM_CPUS:?}" "${CDWIZ_VM_MEMORY_MIB:?}" "${CDWIZ_VM_INIT:?}"
say() { printf 'cdwiz-vm-carrier: %s\n' "$*"; }

# The network, made anew at every start (the engine gives a new namespace).
if ! ip link show br0 >/dev/null 2>&1; then
  ip addr flush dev eth0
  ip link add br0 type bridge
  ip link set eth0 master br0
  ip link set br0 up
  ip tuntap add dev tap0 mode tap
  ip link set tap0 master br0 up
  ip tuntap add dev tap1 mode tap
  ip addr add 169.254.77.1/30 dev tap1
  ip link set tap1 up
fi

# The host's own disk: a sparse copy of the shared root disk (its first
# start only; later starts boot what the host has written). A copy, not a
# qcow2 overlay: writes then cost the emulated host no cluster allocation.
if [ ! -f "$state/root.img" ]; then
  cp --sparse=always "$base/root.ext4" "$state/root.img.partial" \
    && mv "$state/root.img.partial" "$state/root.img" \
    || { say "cannot copy the host's disk into $state"; exit 1; }
fi
[ -f "$state/control_key" ] \
  || ssh-keygen -q -t ed25519 -N '' -C cdwiz-vm-control -f "$state/control_key"

# The seed disk: what a container host gets from the engine and from cdwiz's
# upload (credentials, scripts, address, name), read by the VM at boot.
seed=$(mktemp -d)
mkdir -p "$seed/cdwiz-sandbox" "$seed/sbin"
cp -p /etc/cdwiz-sandbox/authorized_keys /etc/cdwiz-sandbox/password "$seed/cdwiz-sandbox/"
cp -p /usr/local/sbin/cdwiz-sandbox-init /usr/local/sbin/cdwiz-sandbox-fault "$seed/sbin/"
cp -p /usr/local/lib/cdwiz-vm/init.sh "$seed/init.sh"
cp "$state/control_key.pub" "$seed/control.pub"
printf 'ADDRESS=%s\nPREFIX=%s\nGATEWAY=%s\nHOSTNAME=%s\n' \
  "$CDWIZ_VM_ADDRESS" "$CDWIZ_VM_PREFIX" "$CDWIZ_VM_GATEWAY" "$(hostname)" > "$seed/net.env"
rm -f "$state/seed.img"
mkfs.ext4 -q -F -L cdwiz-seed -E root_owner=0:0 -d "$seed" "$state/seed.img" 8M >/dev/null \
  || { say "cannot make the seed disk"; exit 1; }
rm -rf "$seed"

# The VM's MAC from its address (the carrier's own eth0 MAC is the bridge's).
mac=$(echo "$CDWIZ_VM_ADDRESS" | awk -F. '{ printf "52:54:00:%02x:%02x:%02x", $2, $3, $4 }')
: > "$state/console.log"
qemu-system-aarch64 -nodefaults -no-reboot -display none \
  -machine virt -cpu cortex-a72 -accel tcg,thread=multi -smp "$CDWIZ_VM_CPUS" -m "$CDWIZ_VM_MEMORY_MIB" \
  -kernel "$base/vmlinuz" -initrd "$base/initrd.img" \
  -append "root=/dev/vda rw console=ttyAMA0 net.ifnames=0 panic=1 quiet init=$CDWIZ_VM_INIT" \
  -serial "file:$state/console.log" \
  -drive "file=$state/root.img,if=none,id=root,format=raw" -device virtio-blk-pci,drive=root,addr=0x4 \
  -drive "file=$state/vdb.img,if=none,id=data,format=raw" -device virtio-blk-pci,drive=data,addr=0x5 \
  -drive "file=$state/seed.img,if=none,id=seed,format=raw,readonly=on" -device virtio-blk-pci,drive=seed,addr=0x6 \
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device "virtio-net-pci,netdev=n0,mac=$mac,romfile=,addr=0x7" \
  -netdev tap,id=n1,ifname=tap1,script=no,downscript=no -device virtio-net-pci,netdev=n1,mac=52:54:01:00:00:02,romfile=,addr=0x8 \
  &
vm=$!

# A shell script run on the VM over the control link.
vm_sh() { /usr/local/sbin/cdwiz-vm-exec sh -c "$1"; }

# The VM's clock starts from its RTC (whole seconds): once its control sshd
# answers, it is set from this machine's clock, sent only after the login
# (so the login's time does not count).
set_clock() {
  local i
  for i in $(seq 1 600); do
    kill -0 "$vm" 2>/dev/null || return
    /usr/local/sbin/cdwiz-vm-exec true 2>/dev/null && break
    sleep 0.5
  done
  coproc CLOCK { vm_sh 'echo go; read -r t; date -u -s "@$t" >/dev/null; echo set'; }
  local line
  read -r line <&"${CLOCK[0]}" && date -u +%s.%N >&"${CLOCK[1]}" && read -r line <&"${CLOCK[0]}"
  say "the VM's clock: $line"
}
set_clock &

# Stop: the VM's engine stops its containers and the disks are synced, then
# qemu ends (the engine's stop timeout is the limit).
stop() {
  vm_sh 'pkill -TERM keepalived; pkill -TERM dockerd; i=0; while [ $i -lt 100 ] && pgrep -x dockerd >/dev/null; do sleep 0.1; i=$((i+1)); done; sync' 2>/dev/null
  kill -TERM "$vm" 2>/dev/null
  wait "$vm"
  exit 0
}
trap stop TERM INT
wait "$vm"
status=$?
say "the VM stopped (qemu exit $status); its console's last lines:"
tail -n 20 "$state/console.log"
exit "$status"
