#!/usr/bin/env bash
# The row·vector kernels' pace per block type, one core, from cache and from memory, and the
# prompt kernel's in multiply-adds per second (benchmarks/kernel-rates.c);
# `benchmarks/kernel-rates.sh avx2` times another variant this machine can run. Needs clang
# (the Swift toolchain's) and ~600 MB of memory.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/kernel-rates
mkdir -p "$out"
"${CC:-clang}" -O2 -std=c11 -Wall -Wextra -Werror -ISources/CKernels/include Sources/CKernels/*.c benchmarks/kernel-rates.c -lm -o "$out/kernel-rates"
"$out/kernel-rates" "$@"
