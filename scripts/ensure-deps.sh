#!/usr/bin/env bash
# Installs what a fresh Debian machine with only the Swift toolchain lacks: libzstd's
# header and pkg-config (the CZstd target links the system libzstd through them).
set -euo pipefail
if pkg-config --exists libzstd 2>/dev/null && [ -f /usr/include/zstd.h ]; then
  exit 0
fi
echo "Installing libzstd-dev and pkg-config..." >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq libzstd-dev pkg-config >/dev/null
