#!/usr/bin/env python3
"""Writes a synthetic safetensors model of a given size for the conversion benchmark
(Tools/bench_convert.sh; not part of the test suite, never committed): square F32 matrices
of random normal values named like a transformer's weights, plus a few small odd-sized
tensors, streamed to disk one tensor at a time (so making it needs little memory).

Usage: python3 Tools/make_big_safetensors.py OUT.safetensors [--gib 4] [--side 4096]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output")
    parser.add_argument("--gib", type=float, default=4.0)
    parser.add_argument("--side", type=int, default=4096)
    args = parser.parse_args()
    matrix_bytes = args.side * args.side * 4
    count = max(1, int(args.gib * (1 << 30)) // matrix_bytes)
    tensors = [(f"blk.{i}.weight", "F32", [args.side, args.side], matrix_bytes) for i in range(count)]
    tensors += [(f"blk.{i}.norm", "F32", [args.side + 3], (args.side + 3) * 4) for i in range(3)]
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, size in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 64)
    rng = np.random.default_rng(1)
    with open(args.output, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for _, _, shape, _ in tensors:
            out.write(rng.standard_normal(int(np.prod(shape)), dtype=np.float32).tobytes())
    print(f"wrote {args.output}: {len(tensors)} tensors, {offset / (1 << 30):.2f} GiB of data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
