#!/usr/bin/env bash
# The README's demo on the bundled model (a tiny GPT-2 trained on the Book of Genesis):
# inspect it, print its parameter ledger, convert it to int8, and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product tensorledger >&2
tl=.build/release/tensorledger
model=fixtures/models/tiny-genesis
out="${TMPDIR:-/tmp}/tiny-genesis-q8.tlm"

run() {
  local shown=""
  for a in "$@"; do case "$a" in *" "*) shown+=" \"$a\"" ;; *) shown+=" $a" ;; esac; done
  echo; echo "\$ tensorledger${shown}"; "$tl" "$@"
}

run inspect "$model"
run ledger "$model"
run convert "$model" "$out" --force
run verify "$out"
run run "$out" --prompt "And God said" -n 48 --seed 42
