#!/usr/bin/env bash
# The C kernels' own test (Tests/CKernels/kernel_tests.c): every variant against the
# portable one. Runs natively (the x86 variants), again natively under the sanitizers,
# then cross-compiled for aarch64 with the toolchain's clang (the compiler SwiftPM uses
# for C targets) and run under qemu-user twice: with SDOT (-cpu max) and without it
# (-cpu cortex-a53), so both ARM paths are checked on an x86 machine. Installs
# gcc-aarch64-linux-gnu (the aarch64 C library and linker) and qemu-user when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/kernel-tests
mkdir -p "$out"
CC=${CC:-clang}
sources=(Sources/CKernels/*.c Tests/CKernels/kernel_tests.c)
flags=(-O2 -std=c11 -Wall -Wextra -Werror -ISources/CKernels/include)

"$CC" "${flags[@]}" "${sources[@]}" -lm -o "$out/kernel-tests-native"
"$out/kernel-tests-native"
# Again under AddressSanitizer and UndefinedBehaviorSanitizer (lld, which the Swift
# toolchain ships: gold cannot link ASan's runtime here): a read past a buffer or a NaN
# converted to an integer stops the run.
echo "native, under ASan and UBSan:"
"$CC" "${flags[@]}" -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fuse-ld=lld "${sources[@]}" -lm -o "$out/kernel-tests-sanitized"
"$out/kernel-tests-sanitized"

if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu/lib ] || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  echo "Installing gcc-aarch64-linux-gnu and qemu-user for the aarch64 kernel tests..." >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user >/dev/null
fi
"$CC" --target=aarch64-linux-gnu "${flags[@]}" "${sources[@]}" -lm -o "$out/kernel-tests-aarch64"
for cpu in max cortex-a53; do
  echo "aarch64 under qemu, -cpu $cpu:"
  qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$out/kernel-tests-aarch64"
done
