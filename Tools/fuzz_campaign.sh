#!/usr/bin/env bash
# Runs every libFuzzer target (Tools/fuzz.sh) until it has made RUNS executions or spent SECONDS,
# JOBS targets at a time, and prints a Markdown table of the figures for docs/SECURITY.md.
#
#   Tools/fuzz_campaign.sh [SECONDS] [RUNS] [JOBS] [TARGET…]   defaults: 600 1000000 2, every target
#
# Build first (`Tools/fuzz.sh build`): the runs reuse that build (KILN_FUZZ_SKIP_BUILD=1), so
# they need no build lock. Logs go to .build-fuzz/logs/TARGET.log; a target's row says "crash"
# (and the script exits 1) when libFuzzer left a crash, timeout, leak or out-of-memory input in
# .build-fuzz/findings/TARGET.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
runs=${2:-1000000}
jobs=${3:-2}
shift $(( $# >= 3 ? 3 : $# ))
targets=${*:-$(Tools/fuzz.sh list)}
logs=.build-fuzz/logs
mkdir -p "$logs"
[ -x .build-fuzz/debug/kiln-fuzz ] || { echo "build first: Tools/fuzz.sh build" >&2; exit 2; }

run_one() {
    local target=$1
    KILN_FUZZ_SKIP_BUILD=1 Tools/fuzz.sh "$target" "$seconds" -runs="$runs" > "$logs/$target.log" 2>&1
    echo $? > "$logs/$target.status"
}

# A small pool: start a target whenever fewer than JOBS are running.
for target in $targets; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 2; done
    run_one "$target" &
done
wait

# One row a target from libFuzzer's final lines: the last status line (cov, corp) and stat::.
failed=0
echo "| target | seconds | executions | exec/s | edges covered | features | corpus (inputs/bytes) | peak RSS MB | result |"
echo "|---|---|---|---|---|---|---|---|---|"
for target in $targets; do
    log=$logs/$target.log
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<< "$last")
    execs=$(stat number_of_executed_units)
    rate=$(stat average_exec_per_sec)
    rss=$(stat peak_rss_mb)
    elapsed=$(( ${rate:-0} > 0 ? ${execs:-0} / rate : 0 ))
    result="no crash, hang or memory over 2 GB"
    if [ "$(cat "$logs/$target.status" 2>/dev/null)" != 0 ] || ls .build-fuzz/findings/"$target"/ 2>/dev/null | grep -qE '^(crash|timeout|leak|oom)-'; then
        result="**finding**: see $log"
        failed=1
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$elapsed" "$execs" "$rate" "$cov" "$ft" "$corp" "$rss" "$result"
done
exit $failed
