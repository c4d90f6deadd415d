#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine (or runner) for credbake development: the system tools the
# image sinks and the tests drive, a compiler for the native addons, then the npm dependencies
# (and Node 24 for the e2e tests). Node itself (20 or later) must already be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
# debugfs/e2fsck/mkfs.ext4 (e2fsprogs), mtools, mkfs.vfat/fsck.vfat (dosfstools), sfdisk (fdisk),
# openssl, GnuTLS certtool (gnutls-bin), xz, zstd, GNU tar; SoftHSM2, pkcs11-tool (opensc) and
# OpenSSL's pkcs11 engine for the PKCS#11 signer tests; bmaptool (bmap-tools); zip for the
# credentials.zip tests; xfsprogs for the reflink tests (an XFS loop mount); nginx-light and curl for
# the CRL tests (a real mTLS gateway and clients with certificates); ostree for the OSTree image
# tests (sysroots built the way meta-updater builds them). A C/C++ compiler, make
# and python3 for node-gyp: `npm ci` builds the two native addons (pkcs11js and native/fsmap) that
# `npm run bundle` copies into dist/native (an installed credbake package needs none of these).
$SUDO apt-get update -qq
# nginx-light where the release still packages it (Debian 12 does), else nginx: same /usr/sbin/nginx.
if apt-cache show nginx-light >/dev/null 2>&1; then NGINX=nginx-light; else NGINX=nginx; fi
$SUDO apt-get install -y -qq --no-install-recommends \
  e2fsprogs mtools dosfstools fdisk openssl gnutls-bin xz-utils zstd tar ca-certificates \
  softhsm2 opensc libengine-pkcs11-openssl bmap-tools zip unzip xfsprogs "$NGINX" curl ostree \
  build-essential python3 >/dev/null

npm ci --no-audit --no-fund
# Node 24 (GitHub's runtime for node24 actions), from the npm package node@24, for the e2e tests.
npm ci --no-audit --no-fund --prefix test/node24
