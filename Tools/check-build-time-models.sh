#!/usr/bin/env bash
# Builds and runs Examples/BuildTimeModels, the package that uses Kiln's build-tool plugin as
# an app would: at build time the plugin quantises Fixtures/safetensors/tiny_gpt2.safetensors
# to q8 .kiln and bundles it; the example opens and verifies the bundled file. Checked here
# against the fixture itself (read by Python): every tensor is there, the matrices are q8_0
# (stored interleaved, q8_0x8) and the rest f32. Its build folder is
# Examples/BuildTimeModels/.build (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
FIXTURE=Fixtures/safetensors/tiny_gpt2.safetensors
swift build --package-path Examples/BuildTimeModels
OUTPUT=$(Examples/BuildTimeModels/.build/debug/ModelInfo)
echo "$OUTPUT"
TENSORS=$(python3 -c '
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    print(sum(1 for k in json.loads(f.read(n)) if k != "__metadata__"))' "$FIXTURE")
EXPECTED="tiny_gpt2.kiln: $TENSORS tensors, types f32, q8_0x8, sound: true"
if [ "$OUTPUT" != "$EXPECTED" ]; then
    echo "check-build-time-models: expected '$EXPECTED'" >&2
    exit 1
fi
