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
from safetensors import safe_open
from safetensors.numpy import load_file

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--gguf")
    args = parser.parse_args()
    problems: list[str] = []

    tensors = load_file(args.file)
    with safe_open(args.file, framework="np") as f:
        metadata = f.metadata() or {}
        keys = set(f.keys())
    if keys != set(tensors):
        problems.append("safe_open and load_file list different tensors")
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

    if args.gguf:
        import gguf
        reader = gguf.GGUFReader(args.gguf)
        for t in reader.tensors:
            if t.name not in tensors:
                problems.append(f"tensor {t.name} is missing")
                continue
            got = tensors[t.name]
            want = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            if got.dtype == np.float16:
                want = want.astype(np.float16)
            elif got.dtype != np.float32:
                problems.append(f"tensor {t.name} is {got.dtype}; only float32/float16 can be compared with gguf-py")
                continue
            if got.shape != want.shape or got.tobytes() != want.tobytes():
                problems.append(f"tensor {t.name}: values differ from gguf-py's dequantisation")

    if problems:
        print("\n".join(problems[:50]))
        return 1
    print(f"OK {args.file}: {len(tensors)} tensors ({aligned64} at 64-byte offsets), metadata keys {sorted(metadata)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
