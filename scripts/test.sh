#!/usr/bin/env bash
# Runs the whole test suite: the C kernels' variants (x86 natively, aarch64 under qemu),
# then Swift Testing; installs libzstd-dev, the aarch64 cross libraries and qemu if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
scripts/test-kernels.sh
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then
    echo "Chromium found: the report page is rendered in it (ReportBrowserTests)."
else
    echo "No Chromium: the report page's browser test is skipped (apt-get install chromium to run it)."
fi
# Swift Testing only: XCTest would print a second, empty count ("Executed 0 tests").
swift test --disable-xctest "$@"
