#!/usr/bin/env python3
"""Expected values for Kiln's real-model test, read from SmolLM2-135M-Instruct (Q4_1 GGUF) by
gguf-py: writes Fixtures/expected/smollm2.json (small: the model itself is never committed).

Needs: numpy, gguf (Tools/requirements-fixtures.txt) and the model (Tools/fetch-smollm2.sh).

Records the file layout (version, alignment, data offset), every tensor's name, ggml type and
Kiln shape (outermost first) in data order, a few metadata values with their GGUF types, and
for three tensors (Q8_0, Q4_1, F32) the first 256 values of `gguf.quants.dequantize`, the
float64 sum and sum of squares of all its values (`math.fsum`, correctly rounded), and the
SHA-256 of all its values as float32 little-endian bytes.

Usage:
    python3 Tools/make_smollm2_expected.py [MODEL] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

import gguf
from gguf import GGUFValueType as VT

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
OUTPUT = ROOT / "Fixtures" / "expected" / "smollm2.json"

KILN_TYPE = {"F32": "f32", "F16": "f16", "Q8_0": "q8_0", "Q4_0": "q4_0", "Q4_1": "q4_1",
             "Q5_0": "q5_0", "Q5_1": "q5_1", "Q6_K": "q6_k", "Q4_K": "q4_k"}
METADATA_KEYS = [
    "general.architecture", "general.name", "general.file_type", "general.quantization_version",
    "llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
    "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.freq_base",
    "llama.attention.layer_norm_rms_epsilon", "llama.rope.dimension_count", "llama.vocab_size",
    "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token",
]
ARRAY_KEYS = ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "general.languages"]
CHECKED_TENSORS = ["token_embd.weight", "blk.0.attn_q.weight", "output_norm.weight"]


def scalar(field: gguf.ReaderField) -> dict:
    vtype = VT(int(field.types[0]))
    value = field.contents()
    if vtype == VT.FLOAT32:
        return {"type": vtype.name, "bits": f"{int(field.parts[-1].view(np.uint32)[0]):08x}", "value": repr(value)}
    if vtype == VT.FLOAT64:
        return {"type": vtype.name, "bits": f"{int(field.parts[-1].view(np.uint64)[0]):016x}", "value": repr(value)}
    return {"type": vtype.name, "value": value}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default=str(MODEL))
    parser.add_argument("--check", action="store_true", help="exit 1 if the output would change")
    args = parser.parse_args()
    if not Path(args.model).exists():
        print(f"{args.model} is missing; run Tools/fetch-smollm2.sh", file=sys.stderr)
        return 2

    reader = gguf.GGUFReader(args.model)
    tensors = sorted(reader.tensors, key=lambda t: t.data_offset)
    out: dict = {
        "generator": "Tools/make_smollm2_expected.py",
        "gguf_py_version": gguf_version(),
        "model": Path(args.model).name,
        "file_bytes": Path(args.model).stat().st_size,
        "version": int(reader.fields["GGUF.version"].parts[0][0]),
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "metadata_count": sum(1 for k in reader.fields if not k.startswith("GGUF.")),
        "tensor_count": len(tensors),
        # [name, ggml type, Kiln type, Kiln shape (outermost first)] in data order.
        "tensors": [[t.name, t.tensor_type.name, KILN_TYPE[t.tensor_type.name],
                     [int(d) for d in reversed(t.shape.tolist())]] for t in tensors],
        "metadata": {key: scalar(reader.fields[key]) for key in METADATA_KEYS},
        "arrays": {},
        "checked_tensors": {},
    }
    for key in ARRAY_KEYS:
        field = reader.fields[key]
        items = field.contents()
        out["arrays"][key] = {"element_type": VT(int(field.types[-1])).name, "count": len(items), "first": items[:5],
                              "last": items[-1]}

    by_name = {t.name: t for t in tensors}
    for name in CHECKED_TENSORS:
        t = by_name[name]
        values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False).ravel()
        wide = values.astype(np.float64)
        out["checked_tensors"][name] = {
            "ggml_type": t.tensor_type.name,
            "count": int(values.size),
            "first_256_hex": values[:256].astype("<f4").tobytes().hex(),
            "sum": math.fsum(wide.tolist()),
            "sum_of_squares": math.fsum((wide * wide).tolist()),
            "sha256_f32": hashlib.sha256(values.astype("<f4").tobytes()).hexdigest(),
        }

    data = (json.dumps(out, indent=1, ensure_ascii=True) + "\n").encode()
    assert len(data) < 100_000, len(data)
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_bytes() == data
        print("up to date" if same else f"{OUTPUT.relative_to(ROOT)} would change")
        return 0 if same else 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(data)} bytes)")
    return 0


def gguf_version() -> str:
    from importlib.metadata import version
    return version("gguf")


if __name__ == "__main__":
    sys.exit(main())
