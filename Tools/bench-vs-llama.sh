#!/usr/bin/env bash
# Speed against llama.cpp: prompt processing and generation tokens/s of Kiln and llama.cpp on
# every model in a folder, in the same sitting, with the same threads, runs interleaved, medians.
#
#   Tools/bench-vs-llama.sh LLAMA_BENCH MODEL_DIR [-p 128] [-n 64] [-t 2] [-r 3] [--raw DIR]
#
#   LLAMA_BENCH  path to llama.cpp's llama-bench (or "none": Kiln only)
#   MODEL_DIR    every *.gguf is run by both; every *.kiln by Kiln only
#   -p N         prompt tokens (default 128)        -n N  tokens generated (default 64)
#   -t N         threads for both (default 2)       -r N  rounds (default 3)
#   --raw DIR    keep every run's JSON and stderr in DIR
#
# Each round runs, for every model, `llama-bench -m F -p P -n N -t T -r 1 -o json` and
# `kiln-run bench F -p P -n N --threads T --json`, alternating which goes first; the table
# shows each side's median over the rounds and Kiln ÷ llama.cpp. Single runs are noise on
# shared machines: use several rounds, and note the load average printed with the table.
#
# This script builds nothing and downloads nothing. kiln-run is taken from
# .build/release/kiln-run (build it first: `swift build -c release`; KILN_RUN overrides).
# llama-bench is not part of Kiln and is never fetched by this repository: build it yourself
# from llama.cpp's sources (https://github.com/ggml-org/llama.cpp), outside this repository:
#   cmake -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF
#   ninja -C build llama-bench          # then pass build/bin/llama-bench
#
# Differences in what is measured: both do a warm-up pass before timing; llama-bench generates at
# context depth 0, `kiln-run bench` after the prompt (depth P). Both use random prompt tokens.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "bench-vs-llama: $*" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN_RUN=${KILN_RUN:-$ROOT/.build/release/kiln-run}
P=128 N=64 T=2 R=3 RAW=""
POSITIONAL=()
while [ $# -gt 0 ]; do
    case $1 in
        -p) [ $# -ge 2 ] || usage; P=$2; shift 2 ;;
        -n) [ $# -ge 2 ] || usage; N=$2; shift 2 ;;
        -t) [ $# -ge 2 ] || usage; T=$2; shift 2 ;;
        -r) [ $# -ge 2 ] || usage; R=$2; shift 2 ;;
        --raw) [ $# -ge 2 ] || usage; RAW=$2; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "bench-vs-llama: unknown option $1" >&2; usage ;;
        *) POSITIONAL+=("$1"); shift ;;
    esac
done
[ ${#POSITIONAL[@]} -eq 2 ] || usage
LLAMA_BENCH=${POSITIONAL[0]} MODEL_DIR=${POSITIONAL[1]}
for v in "$P" "$N" "$T" "$R"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "-p, -n, -t and -r take positive integers (got '$v')"
done

if [ "$LLAMA_BENCH" != none ]; then
    if [ ! -x "$LLAMA_BENCH" ] || [ -d "$LLAMA_BENCH" ]; then
        cat >&2 <<EOF
bench-vs-llama: no llama-bench at '$LLAMA_BENCH'.
llama-bench is not part of Kiln and this script never downloads or builds it. Build it yourself
from llama.cpp's sources (https://github.com/ggml-org/llama.cpp), outside this repository:
  cmake -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF
  ninja -C build llama-bench
and pass build/bin/llama-bench (or "none" to run Kiln only).
EOF
        exit 2
    fi
    LLAMA_BENCH=$(cd "$(dirname "$LLAMA_BENCH")" && pwd)/$(basename "$LLAMA_BENCH")
fi
[ -x "$KILN_RUN" ] || die "no kiln-run at $KILN_RUN: build it first (swift build -c release), or set KILN_RUN"
[ -d "$MODEL_DIR" ] || die "no folder $MODEL_DIR"
command -v python3 >/dev/null || die "python3 is needed to read the JSON"

shopt -s nullglob
MODELS=("$MODEL_DIR"/*.gguf "$MODEL_DIR"/*.kiln)
shopt -u nullglob
[ ${#MODELS[@]} -gt 0 ] || die "no *.gguf or *.kiln files in $MODEL_DIR"
mapfile -t MODELS < <(printf '%s\n' "${MODELS[@]}" | LC_ALL=C sort)

if [ -n "$RAW" ]; then
    mkdir -p "$RAW"; OUT=$(cd "$RAW" && pwd)
else
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-vs-llama.XXXXXX")
    trap 'rm -rf "$OUT"' EXIT
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
START=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
: > "$OUT/runs.tsv"   # model index, round, tool, exit status

run() {  # tool index round file
    local tool=$1 i=$2 r=$3 f=$4 base="$OUT/$2.$3.$1" rc=0
    if [ "$tool" = llama ]; then
        "$LLAMA_BENCH" -m "$f" -p "$P" -n "$N" -t "$T" -r 1 -o json > "$base.json" 2> "$base.err" || rc=$?
    else
        "$KILN_RUN" bench "$f" -p "$P" -n "$N" --threads "$T" --json > "$base.json" 2> "$base.err" || rc=$?
    fi
    printf '%s\t%s\t%s\t%s\n' "$i" "$r" "$tool" "$rc" >> "$OUT/runs.tsv"
    printf ' %s:%s' "$tool" "$([ $rc -eq 0 ] && echo ok || echo "exit $rc")" >&2
}

echo "bench-vs-llama: ${#MODELS[@]} models, -p $P -n $N, $T threads, $R rounds (load average $LOAD_BEFORE)" >&2
for ((r = 1; r <= R; r++)); do
    for i in "${!MODELS[@]}"; do
        f=${MODELS[$i]}
        printf 'round %d/%d %s:' "$r" "$R" "$(basename "$f")" >&2
        tools=(kiln)
        if [ "$LLAMA_BENCH" != none ] && [[ $f == *.gguf ]]; then
            if (( (r + i) % 2 )); then tools=(kiln llama); else tools=(llama kiln); fi
        fi
        for tool in "${tools[@]}"; do run "$tool" "$i" "$r" "$f"; done
        echo >&2
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

printf '%s\n' "${MODELS[@]}" > "$OUT/models.txt"
KILN_VERSION=$("$KILN_RUN" --version 2>/dev/null || echo "?")
python3 - "$OUT" "$P" "$N" "$T" "$R" "$START" "$LOAD_BEFORE" "$LOAD_AFTER" "$KILN_VERSION" "$LLAMA_BENCH" <<'PY'
import json, os, statistics, sys

out, P, N, T, R, start, load_before, load_after, kiln_version, llama_bench = sys.argv[1:]
models = open(os.path.join(out, "models.txt")).read().splitlines()
runs = [line.split("\t") for line in open(os.path.join(out, "runs.tsv")).read().splitlines()]

def load(i, r, tool):
    with open(os.path.join(out, f"{i}.{r}.{tool}.json")) as f:
        return json.load(f)

def last_error(i, r, tool):
    try:
        lines = [l for l in open(os.path.join(out, f"{i}.{r}.{tool}.err")).read().splitlines() if l.strip()]
    except OSError:
        lines = []
    return lines[-1] if lines else "(no message)"

samples = {}   # (model, tool) -> {"pp": [...], "tg": [...]}
failures = []
llama_info = {}
for i, r, tool, rc in runs:
    s = samples.setdefault((int(i), tool), {"pp": [], "tg": []})
    name = os.path.basename(models[int(i)])
    try:
        if rc != "0":
            raise ValueError(f"exit {rc}: {last_error(i, r, tool)}")
        data = load(i, r, tool)
        if tool == "llama":
            for test in data:
                llama_info.setdefault("commit", test.get("build_commit"))
                llama_info.setdefault("cpu", test.get("cpu_info"))
                if test.get("n_prompt", 0) > 0 and test.get("n_gen", 0) == 0:
                    s["pp"].append(test["avg_ts"])
                elif test.get("n_gen", 0) > 0 and test.get("n_prompt", 0) == 0:
                    s["tg"].append(test["avg_ts"])
        else:
            s["pp"].append(data["prompt_tokens_per_second"])
            s["tg"].append(data["generated_tokens_per_second"])
    except Exception as e:  # noqa: BLE001 - report every failure, keep going
        failures.append(f"{name} round {r} {tool}: {e}")

def med(values):
    return statistics.median(values) if values else None

def spread(values):
    return (max(values) - min(values)) / statistics.median(values) if len(values) > 1 else 0.0

def fmt(x, digits=1):
    return "—" if x is None else f"{x:.{digits}f}"

def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"

cpu = llama_info.get("cpu")
if not cpu:
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        cpu = "?"
print(f"Kiln vs llama.cpp — {start}; {cpu}, {os.cpu_count()} CPUs; pp{P} / tg{N}, {T} threads, "
      f"median of {R} interleaved rounds")
print(f"kiln-run {kiln_version}; " + ("no llama-bench (Kiln only)" if llama_bench == "none" else
      f"llama-bench {llama_bench} (build {llama_info.get('commit') or '?'})"))
print(f"load average (1/5/15 min) before {load_before}, after {load_after}")
print()
header = ["model", "MiB", "llama pp t/s", "llama tg t/s", "Kiln pp t/s", "Kiln tg t/s",
          "pp Kiln/llama", "tg Kiln/llama", "max spread"]
rows = []
for i, path in enumerate(models):
    k = samples.get((i, "kiln"), {"pp": [], "tg": []})
    l = samples.get((i, "llama"), {"pp": [], "tg": []})
    kp, kt, lp, lt = med(k["pp"]), med(k["tg"]), med(l["pp"]), med(l["tg"])
    spreads = [spread(v) for v in (k["pp"], k["tg"], l["pp"], l["tg"]) if v]
    rows.append([os.path.basename(path), f"{os.path.getsize(path) / 1048576:.0f}",
                 fmt(lp), fmt(lt), fmt(kp), fmt(kt), ratio(kp, lp), ratio(kt, lt),
                 f"{max(spreads) * 100:.0f}%" if spreads else "—"])
widths = [max(len(h), *(len(row[c]) for row in rows)) for c, h in enumerate(header)]
def line(cells):
    return "| " + " | ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths))) + " |"
print(line(header))
print("|" + "|".join("-" * (w + 2) if j == 0 else "-" * (w + 1) + ":" for j, w in enumerate(widths)) + "|")
for row in rows:
    print(line(row))
print()
print("pp = prompt processing, tg = generation, tokens/s; ratios > 1 mean Kiln is faster;")
print("max spread = (max − min) / median over the rounds, the worst of the four columns.")
if failures:
    print()
    print("failed runs:")
    for f in failures:
        print("  " + f)
    sys.exit(1)
PY
