#!/usr/bin/env bash
# Coverage-guided fuzzing of Kiln's readers with libFuzzer (Linux, Swift 6).
#
#   Tools/fuzz.sh build                 build the fuzzing binary only
#   Tools/fuzz.sh list                  the targets
#   Tools/fuzz.sh TARGET [SECONDS] [libFuzzer flags…]
#                                       fuzz one target (default 60 s, one process), seeded from
#                                       Fixtures/ and with Tools/fuzz/TARGET.dict when there is one
#
# The sanitizers are passed here, on the command line (-sanitize=fuzzer,address for Swift,
# -fsanitize=fuzzer-no-link,address for the C targets): Package.swift has no unsafeFlags, so Kiln
# stays usable as a dependency. The build lives in .build-fuzz, apart from the normal one.
# KILN_FUZZ_SKIP_BUILD=1 runs without rebuilding (when the build was done separately).
#
# The working corpus grows in .build-fuzz/corpus/TARGET; crashes land in
# .build-fuzz/findings/TARGET. Each one found becomes a regression input in
# Fixtures/fuzz/crashes/TARGET/, which FuzzRegressionTests replays on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=.build-fuzz
binary=$build_dir/debug/kiln-fuzz
targets="kiln gguf safetensors safetensors-index npy npz pytorch pickle zip llama2c llmc tokenizer encode chat-template json"

build() {
    swift build --build-path "$build_dir" --product kiln-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DKILN_LIBFUZZER \
        -Xcc -fsanitize=fuzzer-no-link,address
}

# Seed inputs for a target: committed fixtures of its format (valid and malformed), plus the
# hand-made seeds in Fixtures/fuzz/seeds/TARGET and earlier crashes.
seeds() {
    local target=$1
    case $target in
        gguf) find Fixtures -name '*.gguf' -size -256k ;;
        safetensors) find Fixtures -name '*.safetensors' -size -256k ;;
        safetensors-index) find Fixtures -name '*.index.json' ;;
        npy) find Fixtures -name '*.npy' ;;
        npz) find Fixtures -name '*.npz' ;;
        pytorch|zip) find Fixtures -name '*.pt' -size -256k ;;
        pickle) find Fixtures -name '*.pkl' ;;
        llama2c) find Fixtures/llama2c Fixtures/malformed/llama2c -name '*.bin' ;;
        llmc) find Fixtures/llmc Fixtures/malformed/llmc -name '*.bin' ;;
        json) find Fixtures -name '*.json' -size -16k ;;
        *) true ;;
    esac
    for directory in Fixtures/fuzz/seeds/$target Fixtures/fuzz/crashes/$target; do
        [ -d "$directory" ] && find "$directory" -type f
    done
    true
}

case ${1:-} in
    ""|-h|--help) sed -n '2,18p' "$0"; exit 2 ;;
    build) build; exit ;;
    list) echo $targets; exit ;;
esac

target=$1
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
case " $targets " in *" $target "*) ;; *) echo "unknown target '$target'; targets: $targets" >&2; exit 2 ;; esac

[ "${KILN_FUZZ_SKIP_BUILD:-0}" = 1 ] || build
corpus=$build_dir/corpus/$target
findings=$build_dir/findings/$target
mkdir -p "$corpus" "$findings"
seeds "$target" | while read -r file; do cp "$file" "$corpus/seed-$(basename "$file")"; done
dictionary=()
[ -f "Tools/fuzz/$target.dict" ] && dictionary=(-dict="Tools/fuzz/$target.dict")

# One process, a memory ceiling (libFuzzer reports an input that needs more as a finding) and
# a per-input timeout (a hang is a finding too).
KILN_FUZZ_TARGET=$target ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1} \
    "$binary" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
    -max_len=262144 -artifact_prefix="$findings/" -print_final_stats=1 "${dictionary[@]}" "$@"
