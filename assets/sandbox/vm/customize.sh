
# --- an arm64 host is a virtual machine (appended to the host customize) ---
# Its initramfs has only what mounts the root disk (virtio, ext4): made from
# that short list, it takes seconds under emulation, where all of the
# kernel's drivers would take many minutes. Interfaces keep the kernel's
# names (net.ifnames=0 on the kernel command line), eth0 as on the container
# hosts.
printf 'MODULES=list\n' > /etc/initramfs-tools/conf.d/cdwiz-vm.conf
printf '%s\n' virtio_pci virtio_blk virtio_net ext4 >> /etc/initramfs-tools/modules
rm -f /boot/initrd.img-*
update-initramfs -c -k all >/dev/null
# No name server: the sandbox network is internal.
: > /etc/resolv.conf
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
