#!/usr/bin/env python3
"""The per-tensor types llama-quantize chooses for SmolLM2-135M-Instruct:
Fixtures/quant/smollm2_llama_quantize_types.json, which Kiln's q4_k_m / q5_k_m / q6_k presets
must reproduce.

Made outside the repository from the real model (Tools/fetch-smollm2.sh) with a built llama.cpp:

    llama-quantize --allow-requantize .models/SmolLM2-135M-Instruct.Q4_1.gguf f16.gguf F16
    for t in Q4_K_M Q5_K_M Q6_K; do llama-quantize f16.gguf $t.gguf $t; done
    python3 Tools/make_llama_quantize_types.py Q4_K_M.gguf Q5_K_M.gguf Q6_K.gguf

Each file's name (before .gguf) is its file type. Only matrices are listed (vectors stay f32),
with their shapes and the model's layer count, so the test needs neither llama.cpp nor the model.
"""
import json
import pathlib
import sys

from gguf import GGUFReader

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "quant" / "smollm2_llama_quantize_types.json"


def main() -> None:
    result = {"source": "llama-quantize (llama.cpp, ggml 0.25.3) on the f16 dequantisation of SmolLM2-135M-Instruct.Q4_1.gguf",
              "file_types": {}}
    for path in sys.argv[1:]:
        name = pathlib.Path(path).stem.split("-")[-1].lower()
        reader = GGUFReader(path)
        matrices = [t for t in reader.tensors if len(t.shape) == 2]
        result["file_types"][name] = {t.name: t.tensor_type.name.lower() for t in matrices}
        # Shapes outermost first, as Kiln writes them (GGUF lists ne[0], the row length, first).
        result["shapes"] = {t.name: [int(t.shape[1]), int(t.shape[0])] for t in matrices}
    result["layers"] = 1 + max(int(n.split(".")[1]) for n in result["shapes"] if n.startswith("blk."))
    OUT.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
