#!/usr/bin/env python3
"""Checks a safetensors file Kiln wrote, using the reference `safetensors` library.

Always: `safetensors.numpy.load_file` and `safe_open` read it (the library rejects any layout
the format forbids); the data section starts at a multiple of 64; every tensor is aligned to
its element size. Then, optionally:

  --gguf REF.gguf    every tensor equals gguf-py's dequantisation of the tensor of the same
                     name in REF, converted to the file's dtype (bit for bit).
  --expect-64 N      at least N tensors start at a multiple of 64 bytes.

Prints one line starting with OK, or the problems found, and exits 0 or 1.

Needs: numpy, safetensors (and gguf for --gguf): Tools/requirements-test.txt.
Usage: python3 Tools/check_safetensors.py OUT.safetensors [--gguf REF.gguf]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys

import numpy as np
import safetensors
from safetensors import safe_open

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--gguf")
    args = parser.parse_args()
    problems: list[str] = []

    # deserialize validates the whole layout in the Rust reader and hands back raw bytes, so
    # it works for dtypes numpy lacks (BF16); safe_open is what loaders use.
    with open(args.file, "rb") as f:
        raw = {name: entry for name, entry in safetensors.deserialize(f.read())}
    with safe_open(args.file, framework="np") as f:
        metadata = f.metadata() or {}
        keys = set(f.keys())
        shapes = {key: (f.get_slice(key).get_dtype(), f.get_slice(key).get_shape()) for key in keys}
    if keys != set(raw):
        problems.append("safe_open and deserialize list different tensors")
    for name, entry in raw.items():
        if shapes[name] != (entry["dtype"], list(entry["shape"])):
            problems.append(f"tensor {name}: safe_open says {shapes[name]}, deserialize {entry['dtype']} {entry['shape']}")
    numpy_types = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8, "I16": np.int16,
                   "I32": np.int32, "I64": np.int64}
    with open(args.file, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
    start = 8 + length
    if start % 64:
        problems.append(f"data section starts at {start}, not a multiple of 64")
    aligned64 = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offset = start + entry["data_offsets"][0]
        if offset % SIZES[entry["dtype"]]:
            problems.append(f"tensor {name} ({entry['dtype']}) starts at {offset}, not aligned to its element size")
        aligned64 += offset % 64 == 0

    skipped: list[str] = []
    if args.gguf:
        import gguf
        reader = gguf.GGUFReader(args.gguf)
        for t in reader.tensors:
            if t.name not in raw:
                problems.append(f"tensor {t.name} is missing")
                continue
            entry = raw[t.name]
            if entry["dtype"] not in numpy_types:
                problems.append(f"tensor {t.name} is {entry['dtype']}, which numpy cannot compare")
                continue
            got = np.frombuffer(bytes(entry["data"]), dtype=numpy_types[entry["dtype"]]).reshape(entry["shape"])
            Q = gguf.GGMLQuantizationType
            if t.tensor_type in (Q.I8, Q.I16, Q.I32, Q.I64, Q.F64):
                # gguf-py has no dequantiser for these: their values are the raw elements.
                want = np.array(t.data).reshape(got.shape)
            else:
                try:
                    want = gguf.quants.dequantize(t.data, t.tensor_type)
                except NotImplementedError:  # e.g. Q8_K: gguf-py has no dequantiser to compare with
                    skipped.append(t.name)
                    continue
            want = want.astype(got.dtype)
            if got.shape != want.shape or got.tobytes() != want.tobytes():
                problems.append(f"tensor {t.name}: values differ from gguf-py's dequantisation")

    if problems:
        print("\n".join(problems[:50]))
        return 1
    print(f"OK {args.file}: {len(raw)} tensors ({aligned64} at 64-byte offsets), metadata keys {sorted(metadata)}"
          + (f"; not compared (gguf-py cannot dequantise): {', '.join(skipped)}" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
