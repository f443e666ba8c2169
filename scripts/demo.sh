#!/usr/bin/env bash
# The README's demo: inspect and ledger the bundled fixture model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product tensorledger >&2
tl=.build/release/tensorledger
model=fixtures/models/gpt2-tiny

run() { echo; echo "\$ tensorledger $*"; "$tl" "$@"; }

run inspect "$model"
run ledger "$model"
run ledger --preset gpt3-175b
run convert "$model" /tmp/tensorledger-demo.tlm --force --report
run verify /tmp/tensorledger-demo.tlm
