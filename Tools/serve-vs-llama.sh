#!/usr/bin/env bash
# Serving throughput against llama.cpp's server, in one sitting: aggregate generated tokens/s of
# `kiln-run serve --parallel P` and `llama-server --parallel P` on the same model and threads,
# with 1 and with P concurrent clients (Tools/serve_load.py bench: greedy, ignore_eos, whole
# responses, median of rounds). The servers take turns, each alone on the machine, loopback only.
#
#   Tools/serve-vs-llama.sh LLAMA_SERVER MODEL.gguf [-P 8] [-n 128] [-t 2] [-r 3]
#
#   LLAMA_SERVER  path to llama.cpp's llama-server (or "none": Kiln only)
#   -P N   slots for both and the larger client count (default 8)   -n N  tokens per request (default 128)
#   -t N   threads for both (default 2)                               -r N  rounds (default 3)
#
# This script builds nothing and downloads nothing. kiln-run is .build/release/kiln-run (KILN_RUN
# overrides); KILN_SERVE_ARGS adds options to its serve command (e.g. --kv-cache f32; both servers'
# KV caches are f16 unless told otherwise). llama-server is not part of Kiln: build it
# yourself from llama.cpp's sources (https://github.com/ggml-org/llama.cpp), outside this repository:
#   cmake -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
#   ninja -C build llama-server          # then pass build/bin/llama-server
set -euo pipefail
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN_RUN=${KILN_RUN:-$ROOT/.build/release/kiln-run}
P=8 N=128 T=2 R=3
POSITIONAL=()
while [ $# -gt 0 ]; do
    case $1 in
        -P) P=$2; shift 2 ;; -n) N=$2; shift 2 ;; -t) T=$2; shift 2 ;; -r) R=$2; shift 2 ;;
        -h|--help) usage ;; -*) echo "serve-vs-llama: unknown option $1" >&2; usage ;;
        *) POSITIONAL+=("$1"); shift ;;
    esac
done
[ ${#POSITIONAL[@]} -eq 2 ] || usage
LLAMA_SERVER=${POSITIONAL[0]} MODEL=${POSITIONAL[1]}
for v in "$P" "$N" "$T" "$R"; do [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "serve-vs-llama: -P, -n, -t, -r take positive integers" >&2; exit 2; }; done
[ -x "$KILN_RUN" ] || { echo "serve-vs-llama: no $KILN_RUN; swift build -c release first" >&2; exit 2; }
[ "$LLAMA_SERVER" = none ] || [ -x "$LLAMA_SERVER" ] || { echo "serve-vs-llama: no llama-server at '$LLAMA_SERVER' (see the header for how to build one)" >&2; exit 2; }

PORT=18741
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""; }
trap cleanup EXIT

wait_ready() {  # until /health answers 200 (llama-server answers 503 while loading)
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] && return 0
        sleep 0.1
    done
    echo "serve-vs-llama: the server did not become ready" >&2; exit 1
}

measure() {  # NAME: one bench run against the server on $PORT; prints "NAME single many"
    python3 "$ROOT/Tools/serve_load.py" bench --url "http://127.0.0.1:$PORT" --streams "1,$P" --tokens "$N" --rounds 1 \
        | python3 -c "import json,sys; line=[l for l in sys.stdin if l.startswith('{')][-1]; d=json.loads(line)['aggregate_tokens_per_second']; print('$1', d['1'], d['$P'])"
}

RESULTS=$(mktemp)
for round in $(seq 1 "$R"); do
    "$KILN_RUN" serve "$MODEL" --port "$PORT" --parallel "$P" --threads "$T" ${KILN_SERVE_ARGS:-} 2>/dev/null & SERVER_PID=$!
    wait_ready; measure kiln >> "$RESULTS"; cleanup
    if [ "$LLAMA_SERVER" != none ]; then
        "$LLAMA_SERVER" -m "$MODEL" --port "$PORT" --parallel "$P" -t "$T" -c $((P * (N + 64))) --log-disable >/dev/null 2>&1 & SERVER_PID=$!
        wait_ready; measure llama >> "$RESULTS"; cleanup
    fi
    echo "round $round/$R done" >&2
done
python3 - "$RESULTS" "$P" "$N" "$T" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
P, N, T = sys.argv[2], sys.argv[3], sys.argv[4]
med = {}
for name in ("kiln", "llama"):
    runs = [(float(a), float(b)) for n, a, b in rows if n == name]
    if runs:
        med[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), len(runs))
print(f"| server (--parallel {P}, {T} threads, {N} tokens per request) | 1 stream tok/s | {P} streams tok/s aggregate | ×{P} vs 1 |")
print("|---|---|---|---|")
for name, label in (("kiln", "kiln-run serve"), ("llama", "llama-server")):
    if name in med:
        one, many, n = med[name]
        print(f"| {label} (median of {n}) | {one:.1f} | {many:.1f} | {many / one:.2f} |")
if "llama" in med:
    print(f"\nKiln ÷ llama-server, {P} streams: {med['kiln'][1] / med['llama'][1]:.2f}; 1 stream: {med['kiln'][0] / med['llama'][0]:.2f}")
PY
rm -f "$RESULTS"
