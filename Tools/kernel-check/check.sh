#!/usr/bin/env bash
# Builds tier_check.c with the CKilnKernels sources and runs it: natively (the AVX2 tier on
# x86-64), and, when an aarch64 cross compiler and qemu-user are installed
# (`apt-get install gcc-aarch64-linux-gnu qemu-user`), for arm64 twice under qemu: on a CPU with
# SDOT (the NEON dotprod kernels) and on a Cortex-A57 without it (NEON with portable products).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../Sources/CKilnKernels"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc=${CC:-clang}

echo "== native"
$cc -O2 -Wall -Wextra -I"$src/include" "$here/tier_check.c" "$src"/*.c -o "$out/native" -lm -lpthread
"$out/native"

if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    for f in "$here/tier_check.c" "$src"/*.c; do
        clang --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -isystem /usr/aarch64-linux-gnu/include \
            -O2 -Wall -Wextra -I"$src/include" -c "$f" -o "$out/arm64-$(basename "$f").o"
    done
    aarch64-linux-gnu-gcc -static "$out"/arm64-*.o -o "$out/arm64" -lm -lpthread
    echo "== arm64 (qemu, -cpu max: SDOT)"
    qemu-aarch64 -cpu max "$out/arm64"
    echo "== arm64 (qemu, -cpu cortex-a57: no SDOT)"
    qemu-aarch64 -cpu cortex-a57 "$out/arm64"
else
    echo "(no aarch64-linux-gnu-gcc / qemu-aarch64: arm64 not checked)"
fi
