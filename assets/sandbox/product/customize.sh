#!/bin/sh
# Runs once in the debootstrapped root of the sandbox product's runtime image.
set -eu
# The cluster Debian's postinst made is not ours: each database container
# makes its own from the credentials cdwiz renders.
rm -rf /var/lib/postgresql/15/main /etc/postgresql/15/main
rm -f /etc/nginx/sites-enabled/default
# PostgreSQL's JIT plugin pulls in LLVM (~100 MB); the stand-in runs without JIT.
rm -f /usr/lib/postgresql/15/lib/llvmjit*.so
rm -rf /usr/lib/postgresql/15/lib/bitcode
rm -f /usr/lib/x86_64-linux-gnu/libLLVM-*.so*
mkdir -p /var/lib/cd /etc/cd
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \
  /usr/share/locale/*
