#!/usr/bin/env bash
# Runs the whole test suite: the C kernels' variants (x86 natively, aarch64 under qemu),
# then Swift Testing; installs libzstd-dev, the aarch64 cross libraries and qemu if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
scripts/test-kernels.sh
# Swift Testing only: XCTest would print a second, empty count ("Executed 0 tests").
swift test --disable-xctest "$@"
