#!/bin/sh
# Runs once inside the freshly debootstrapped root (chroot) while the sandbox
# host image is built. Everything per-instance (keys, password) is applied at
# boot by host-init.sh instead, so one image serves every sandbox.
set -eu

useradd -m -s /bin/bash ops          # sudo that asks for the password
useradd -m -s /bin/bash auto         # sudo without a password
usermod -aG sudo ops
echo 'auto ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/auto
chmod 0440 /etc/sudoers.d/auto

cat > /etc/ssh/sshd_config.d/cdwiz-sandbox.conf <<'CONF'
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UseDNS no
CONF

# The open-file limit of logins (sshd applies it through pam_limits). It
# stays under the container's hard limit, which this machine's engine sets.
printf '* soft nofile 16384\n* hard nofile 16384\nroot soft nofile 16384\nroot hard nofile 16384\n' \
  > /etc/security/limits.d/90-sandbox.conf

# Host keys are made per container at first boot, not baked into the image.
rm -f /etc/ssh/ssh_host_*

# No service may start inside the chroot or at image level; host-init starts them.
rm -f /usr/sbin/policy-rc.d
mkdir -p /etc/cdwiz-sandbox /var/lib/cdwiz-fault
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
