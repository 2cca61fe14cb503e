#!/usr/bin/env python3
"""Reference bytes for Kiln's q5_0, q5_1 and K-quant writers: Fixtures/quant/kquants_reference.json.

The expected bytes are what llama.cpp's own reference quantisers (`quantize_row_<type>_ref` in
ggml-quants.c, the functions `llama-quantize` uses when no imatrix is given) write for the test
tensors; the dequantised values are llama.cpp's `dequantize_row_<type>`. Both are called through
ctypes in an already built `libggml-base.so` (nothing from llama.cpp is copied or built here):

    python3 Tools/make_kquant_fixtures.py /path/to/llama.cpp/build/bin/libggml-base.so

The fixture in the repository was made with llama.cpp as vendored by llama-cpp-python 0.3.36
(ggml 0.25.3, built with -O3 and no FMA contraction in ggml-base, as its default build is).
"""
import ctypes
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "quant" / "kquants_reference.json"

# name → (values per block, bytes per block), ggml-common.h's block sizes.
TYPES = {"q5_0": (32, 22), "q5_1": (32, 24), "q2_k": (256, 84), "q3_k": (256, 110),
         "q4_k": (256, 144), "q5_k": (256, 176), "q6_k": (256, 210)}


def inputs() -> dict:
    rng = np.random.default_rng(20261205)
    cols = 256  # one K-quant super-block per row; "normal" has two
    normal = rng.normal(0, 0.02, (3, 2 * cols))
    # One 16-value group and one 32-value sub-block all zero, to reach the "zero scale" paths.
    zero_groups = rng.normal(0, 1, (2, cols))
    zero_groups[0, 16:32] = 0
    zero_groups[1, 64:96] = 0
    outlier = rng.normal(0, 0.05, (2, cols))
    outlier[0, 7] = 3.0
    outlier[1, 200] = -4.0
    cases = {
        "normal": normal,
        "heavy_tailed": rng.standard_t(3, (3, cols)) * 0.05,
        "positive": np.abs(rng.normal(0, 1, (2, cols))),
        "negative_extreme": rng.normal(0, 1, (2, cols)) - 3,
        "zero_groups": zero_groups,
        "all_zero": np.zeros((1, cols)),
        "constant": np.full((1, cols), 0.75),
        "tiny": rng.normal(0, 1e-6, (2, cols)),
        "ties": np.round(rng.normal(0, 4, (2, cols)) * 2) / 2,
        "outlier": outlier,
        "uniform": rng.uniform(-1, 1, (2, cols)),
    }
    return {k: np.ascontiguousarray(v.astype(np.float32)) for k, v in cases.items()}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lib = ctypes.CDLL(sys.argv[1])
    cases = []
    for name, x in inputs().items():
        rows, cols = x.shape
        entry = {"name": name, "rows": rows, "cols": cols, "input": x.tobytes().hex(), "quantized": {}}
        for scheme, (block, size) in TYPES.items():
            ggml_name = scheme[:-1] + "K" if scheme.endswith("_k") else scheme
            quantize = getattr(lib, f"quantize_row_{ggml_name}_ref")
            dequantize = getattr(lib, f"dequantize_row_{ggml_name}")
            out = np.zeros(x.size // block * size, dtype=np.uint8)
            back = np.zeros(x.size, dtype=np.float32)
            quantize(x.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(x.size))
            dequantize(out.ctypes.data_as(ctypes.c_void_p), back.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(x.size))
            entry["quantized"][scheme] = {"bytes": out.tobytes().hex(), "dequantized": back.tobytes().hex()}
        cases.append(entry)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    source = "llama.cpp libggml-base quantize_row_*_ref / dequantize_row_* (ggml 0.25.3)"
    OUT.write_text(json.dumps({"source": source, "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
