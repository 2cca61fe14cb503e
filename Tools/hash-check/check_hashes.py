#!/usr/bin/env python3
"""Dev check for CKilnSupport's XXH64 (SHA-256 comes from swift-crypto).

Compiles Tools/hash-check/check_hashes.c together with the CKilnSupport C
sources (into a temporary directory under /tmp), runs it, and checks every
line against Python's `xxhash` package. Then runs the
throughput benchmark (skip with --no-bench).

Usage: python3 Tools/hash-check/check_hashes.py [--cc gcc] [--no-bench]
                                                 [--bench-mib 256]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import xxhash

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SRC = os.path.join(ROOT, "Sources", "CKilnSupport")
SEED2 = 0x9E3779B97F4A7C15
LENGTHS = list(range(301)) + [1023, 1024, 4099, 65536 + 17, 1 << 20]
CFLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror"]


def data_for(n):
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def build(cc, outdir):
    exe = os.path.join(outdir, "check_hashes")
    cmd = [cc, *CFLAGS, "-I", os.path.join(SRC, "include"),
           "-o", exe, os.path.join(HERE, "check_hashes.c"),
           os.path.join(SRC, "hash_xxh64.c")]
    print("+", " ".join(cmd))
    subprocess.run(cmd, check=True)
    return exe


def check(exe):
    proc = subprocess.run([exe], capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    assert proc.returncode == 0, f"check_hashes exited {proc.returncode}"
    lines = proc.stdout.splitlines()
    assert len(lines) == len(LENGTHS), (len(lines), len(LENGTHS))
    for line, n in zip(lines, LENGTHS):
        f = line.split()
        assert len(f) == 5, line
        assert int(f[0]) == n, (line, n)
        data = data_for(n)
        x0 = f"{xxhash.xxh64(data, seed=0).intdigest():016x}"
        xs = f"{xxhash.xxh64(data, seed=SEED2).intdigest():016x}"
        assert f[1] == x0, f"xxh64 seed 0, len {n}: {f[1]} != {x0}"
        assert f[2] == xs, f"xxh64 seed 0x9E37.., len {n}: {f[2]} != {xs}"
        assert f[3] == x0, f"streaming xxh64 seed 0, len {n}"
        assert f[4] == xs, f"streaming xxh64 seed 0x9E37.., len {n}"
    print(f"OK: {len(lines)} lengths, one-shot and streaming match "
          f"xxhash {xxhash.VERSION}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", default="gcc")
    ap.add_argument("--no-bench", action="store_true")
    ap.add_argument("--bench-mib", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiln-hash-check-",
                                     dir="/tmp") as tmp:
        exe = build(args.cc, tmp)
        check(exe)
        if not args.no_bench:
            subprocess.run([exe, "bench", str(args.bench_mib)], check=True)


if __name__ == "__main__":
    main()
