#!/bin/sh
# Runs once in the VM carrier image's chroot (it only carries qemu).
set -eu
rm -f /usr/sbin/policy-rc.d
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
: > /etc/resolv.conf
