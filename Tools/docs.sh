#!/usr/bin/env bash
# Builds the Kiln library's documentation with DocC: one combined archive holding the `Kiln`
# landing page and articles (Sources/Kiln/Kiln.docc) and a page per module, at
# .build/plugins/Swift-DocC/outputs/Kiln.doccarchive. Fails on any DocC warning (a broken
# symbol link, an unknown topic) and on any public symbol without a `///` comment, which DocC
# itself does not report (Tools/doc_coverage.py reads the symbol graphs the plugin extracted).
set -euo pipefail
cd "$(dirname "$0")/.."
modules=(Kiln KilnCore KilnFormats KilnKernels KilnQuant KilnRuntime KilnChatTemplates)
targets=()
for module in "${modules[@]}"; do targets+=(--target "$module"); done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift package generate-documentation --enable-experimental-combined-documentation --warnings-as-errors \
    "${targets[@]}" >"$log" 2>&1 || status=$?
# The plugin's own exit status has not always reflected DocC's, so the log is checked too.
if [ "$status" -ne 0 ] || grep -Eq '(^|[^a-z])(warning|error):' "$log"; then
    cat "$log"
    echo "docs.sh: DocC reported problems (exit status $status)" >&2
    exit 1
fi
grep -E '^(Generated|  /)' "$log" || true
python3 Tools/doc_coverage.py .build "${modules[@]}"
