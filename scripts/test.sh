#!/usr/bin/env bash
# Runs the whole test suite (Swift Testing), installing libzstd-dev first if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift test "$@"
