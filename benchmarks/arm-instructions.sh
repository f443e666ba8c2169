#!/usr/bin/env bash
# Instructions the aarch64 block kernels (and the .tlm's q8 kernel) execute per 256
# values: the row kernel (decoding, one row of 2,048) with SDOT (-cpu max) and without
# (-cpu cortex-a53), and the prompt kernel over 16 rows × 16 tokens with and without SDOT,
# per 256 values of a row meeting a token.
# Each is run once and then REPS + 1 times under qemu-user single-stepping
# (benchmarks/arm-instructions.c), the executed instructions counted from qemu's log, the
# difference divided out. A proxy for speed where ARM cannot be timed (this machine is
# x86): fewer instructions is not always faster, but it is what a kernel's work per block is.
#   benchmarks/arm-instructions.sh [BLOCKS_C [GEMM_BLOCKS_C]]   (other sources, to compare with)
# Needs the toolchain's clang, gcc-aarch64-linux-gnu and qemu-user (scripts/test-kernels.sh
# installs them); about seven minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/arm-instructions
mkdir -p "$out"
blocks=${1:-Sources/CKernels/blocks.c} gemm=${2:-Sources/CKernels/gemm_blocks.c}
others=()
for f in Sources/CKernels/*.c; do
  case "$(basename "$f")" in blocks.c | gemm_blocks.c) ;; *) others+=("$f") ;; esac
done
"${CC:-clang}" --target=aarch64-linux-gnu -O2 -std=c11 -ISources/CKernels/include -ISources/CKernels "${others[@]}" "$blocks" "$gemm" \
  benchmarks/arm-instructions.c -lm -o "$out/arm-instructions"
count() {  # CPU ARGS...: instructions executed
  local cpu=$1
  shift
  qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu -singlestep -d exec,nochain -D "$out/log" "$out/arm-instructions" "$@" >/dev/null
  grep -c Trace "$out/log"
}
per256() {  # CPU TYPE REPS UNITS [TOKENS]: instructions per 256 values, UNITS of 256 per run
  local cpu=$1 type=$2 reps=$3 units=$4
  shift 4
  echo $(( ($(count "$cpu" "$type" $((reps + 1)) "$@") - $(count "$cpu" "$type" 1 "$@")) / (reps * units) ))
}
printf '%-8s %12s %12s %14s %16s\n' type "row, SDOT" "row, no SDOT" "prompt, SDOT" "prompt, no SDOT"
for type in q8 Q8_0 Q4_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS; do
  prompt=$(per256 max "$type" 1 $((16 * 16 * 8)) 16)
  plain=$(per256 cortex-a53 "$type" 1 $((16 * 16 * 8)) 16)
  printf '%-8s %12s %12s %14s %16s\n' "$type" "$(per256 max "$type" 10 8)" "$(per256 cortex-a53 "$type" 10 8)" "$prompt" "$plain"
done
rm -f "$out/log"
