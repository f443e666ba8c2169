#!/usr/bin/env bash
# Fuzzes one parser with libFuzzer and AddressSanitizer.
#   scripts/fuzz.sh TARGET [SECONDS]     TARGET: json safetensors index tlm tlm-header tlm-forged tokenizer-json tokenizer-bpe tokenize gguf sized lines
# Seeds come from fixtures/fuzz/seeds/TARGET; the growing corpus lives in .build-fuzz/corpus
# (not committed); a crashing input is written to fixtures/fuzz/crashes/, where `swift test`
# replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}"
seconds="${2:-60}"
scripts/ensure-deps.sh
swift build -c release --product tensorledger-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link,address >&2
mkdir -p ".build-fuzz/corpus/$target" fixtures/fuzz/crashes
TL_FUZZ_TARGET="$target" exec .build-fuzz/release/tensorledger-fuzz \
  ".build-fuzz/corpus/$target" "fixtures/fuzz/seeds/$target" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
  -artifact_prefix="fixtures/fuzz/crashes/$target-" -print_final_stats=1
