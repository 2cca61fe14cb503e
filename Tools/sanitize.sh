#!/usr/bin/env bash
# Runs the test suite under sanitizers, each in its own build directory:
#
#   Tools/sanitize.sh address [FILTER]   AddressSanitizer (Swift and C) + UndefinedBehaviorSanitizer
#                                        (C) over the suite (or the tests matching FILTER)
#   Tools/sanitize.sh thread [FILTER]    ThreadSanitizer over the concurrency tests: several
#                                        generations sharing one model, concurrent tokenizing and
#                                        template rendering, the kernels' thread pool
#   Tools/sanitize.sh all                both
#
# The sanitizers are command-line flags here (never unsafeFlags in Package.swift). Any report
# fails the run (halt_on_error). Tests that cap memory with `ulimit -v` or measure RSS cannot
# run under ASan (its shadow memory reserves terabytes of address space): they read
# KILN_SANITIZER and skip themselves. The release binaries the end-to-end tests use are not
# rebuilt, so KILN_SKIP_REAL_MODEL=1 leaves those out.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-all}
filter=${2:-}
concurrency='ConcurrentGenerationTests|concurrentEncodingAgreesWithSerial|oneTemplateRendersConcurrently|DispatchTests|MatmulTests|parallel'

address() {
    # Swift has no UBSan on Linux (its arithmetic traps by itself), so UndefinedBehaviorSanitizer
    # instruments the C targets only; its handlers come with the ASan runtime.
    local flags=(--build-path .build-asan --sanitize=address -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined)
    swift build --build-tests "${flags[@]}"
    KILN_SANITIZER=address KILN_SKIP_REAL_MODEL=1 \
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        swift test --skip-build "${flags[@]}" ${filter:+--filter "$filter"}
}

thread() {
    local flags=(--build-path .build-tsan --sanitize=thread)
    swift build --build-tests "${flags[@]}"
    KILN_SANITIZER=thread KILN_SKIP_REAL_MODEL=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        swift test --skip-build "${flags[@]}" --filter "${filter:-$concurrency}"
}

case $mode in
    address) address ;;
    thread) thread ;;
    all) address; thread ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
esac
