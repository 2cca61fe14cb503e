#!/usr/bin/env python3
"""Reference quantisations from gguf-py (ggml's reference rounding, bit-exact) for Kiln's
round-to-nearest quantisers: Fixtures/quant/reference.json.

    python3 -m pip install -r Tools/requirements-fixtures.txt
    python3 Tools/make_quant_fixtures.py
"""
import json
import pathlib

import numpy as np
from gguf import GGMLQuantizationType, quants

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "quant" / "reference.json"


def inputs() -> dict:
    rng = np.random.default_rng(20261130)
    cols = 128
    cases = {
        "normal": rng.normal(0, 0.02, (16, cols)),
        "heavy_tailed": rng.standard_t(3, (16, cols)) * 0.05,
        "positive": np.abs(rng.normal(0, 1, (4, cols))),
        "negative_extreme": rng.normal(0, 1, (4, cols)) - 3,
        "with_zero_blocks": np.concatenate([np.zeros((2, cols)), rng.normal(0, 1, (2, cols))]),
        "constant": np.full((2, cols), 0.75),
        "tiny": rng.normal(0, 1e-6, (2, cols)),
        "ties": np.round(rng.normal(0, 4, (4, cols)) * 2) / 2,
    }
    return {k: v.astype(np.float32) for k, v in cases.items()}


def main() -> None:
    cases = []
    for name, x in inputs().items():
        entry = {"name": name, "rows": x.shape[0], "cols": x.shape[1], "input": x.tobytes().hex(), "quantized": {}}
        for scheme, qtype in [("q8_0", GGMLQuantizationType.Q8_0), ("q4_0", GGMLQuantizationType.Q4_0),
                              ("q4_1", GGMLQuantizationType.Q4_1)]:
            q = quants.quantize(x, qtype)
            entry["quantized"][scheme] = {
                "bytes": q.tobytes().hex(),
                "dequantized": quants.dequantize(q, qtype).astype(np.float32).tobytes().hex(),
            }
        cases.append(entry)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"source": "gguf-py quants.quantize / dequantize", "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
