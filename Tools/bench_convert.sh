#!/usr/bin/env bash
# Conversion benchmark (not part of the test suite): makes a synthetic safetensors model
# (default 4 GiB) under /tmp, converts it with the release build to .kiln, GGUF and
# safetensors (f16) and GGUF (bf16), and prints each run's wall time, throughput and peak
# RSS from /usr/bin/time -v. docs/PERFORMANCE.md ("Conversion") records the figures.
#   Tools/bench_convert.sh [GIB]       (KILN_BENCH_DIR overrides /tmp/kiln-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
GIB=${1:-4}
DIR=${KILN_BENCH_DIR:-/tmp/kiln-bench}
mkdir -p "$DIR"
SOURCE="$DIR/big-${GIB}g.safetensors"
[ -f "$SOURCE" ] || python3 Tools/make_big_safetensors.py "$SOURCE" --gib "$GIB"
if [ ! -x /usr/bin/time ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y -qq time >/dev/null
fi
swift build -c release --product kiln >&2
K=.build/release/kiln
cat "$SOURCE" > /dev/null   # warm the page cache so every run reads from memory alike

run() {
    local label=$1; shift
    local output=$1; shift
    rm -f "$output"
    /usr/bin/time -v "$K" convert "$SOURCE" -o "$output" "$@" 2> "$DIR/time.log" >/dev/null || { cat "$DIR/time.log"; exit 1; }
    local rss wall summary
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/time.log")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$DIR/time.log")
    summary=$(grep '^wrote' "$DIR/time.log" | sed 's/^wrote [^:]*: //')
    printf '%-28s peak RSS %6.0f MiB  wall %s  %s\n' "$label" "$(echo "$rss / 1024" | bc -l)" "$wall" "$summary"
    rm -f "$output"
}

run "safetensors → kiln"          "$DIR/out.kiln"
run "safetensors → gguf"          "$DIR/out.gguf"
run "safetensors → safetensors f16" "$DIR/out.safetensors" --dtype f16
run "safetensors → gguf bf16"     "$DIR/out-bf16.gguf" --dtype bf16
