#!/bin/sh
# The first program of an arm64 sandbox host VM (the kernel's init=). It only
# mounts the seed disk the carrier made for this host and runs the boot
# script on it, so that script can change without a new image.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/cdwiz-seed
mount -o ro -L cdwiz-seed /run/cdwiz-seed 2>/dev/null || mount -o ro /dev/vdc /run/cdwiz-seed
exec /bin/sh /run/cdwiz-seed/init.sh
