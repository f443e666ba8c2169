#!/usr/bin/env bash
# Builds in release mode and runs the benchmark; prints one table on stdout.
# Inputs (GPT-2-shaped checkpoints from a fixed seed, ~2 GB) go to benchmarks/work/.
#   benchmarks/run.sh            # the full run (several minutes)
#   benchmarks/run.sh --quick    # fewer runs, no 355M model
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product tensorledger >&2
swift build -c release --product tensorledger-bench >&2
exec .build/release/tensorledger-bench "$@"
