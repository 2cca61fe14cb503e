#!/usr/bin/env python3
"""Generate Kiln's small test fixtures with the reference `safetensors` library.

Writes (relative to the repository root):

    Fixtures/safetensors/*.safetensors + *.expected.json
    Fixtures/malformed/*.safetensors
    Fixtures/hashes/vectors.json
    Fixtures/README.md   (only the block between the make_fixtures markers)

Needs: numpy, safetensors, xxhash (see Tools/requirements-fixtures.txt).
torch is not needed: tensors are written with `safetensors.numpy`, and BF16
(which numpy cannot represent) is written by hand from bit patterns.

The output is deterministic: random data comes from a counter-based
SplitMix64 generator implemented here (not numpy's RNG, whose streams are not
guaranteed stable across numpy versions), and every random float is exactly
representable in its dtype before any rounding happens.

Usage:
    python3 Tools/make_fixtures.py          # (re)write fixtures
    python3 Tools/make_fixtures.py --check  # exit 1 if any fixture would change
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import struct
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import safetensors
import xxhash
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

SEED = 0x4B494C4E  # "KILN"

ROOT = Path(__file__).resolve().parent.parent

# numpy dtype -> safetensors dtype string (as the library writes it)
ST_DTYPE = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
    np.dtype(np.int16): "I16",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint64): "U64",
    np.dtype(np.uint32): "U32",
    np.dtype(np.uint16): "U16",
    np.dtype(np.uint8): "U8",
    np.dtype(np.bool_): "BOOL",
}
ST_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
               "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1,
               "BOOL": 1}


# --------------------------------------------------------------------------
# Output bookkeeping (idempotent writes, --check mode)
# --------------------------------------------------------------------------

class Writer:
    def __init__(self, check: bool):
        self.check = check
        self.changed: list[str] = []
        self.written: list[Path] = []

    def write(self, path: Path, data: bytes) -> None:
        self.written.append(path)
        old = path.read_bytes() if path.exists() else None
        if old == data:
            return
        self.changed.append(str(path.relative_to(ROOT)))
        if not self.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def dump_json(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=True)
            + "\n").encode("ascii")


# --------------------------------------------------------------------------
# Deterministic random data (SplitMix64, counter based)
# --------------------------------------------------------------------------

def rand_u64(name: str, n: int) -> np.ndarray:
    """n pseudo-random uint64 values; the stream depends only on SEED+name."""
    key = (SEED << 32) ^ zlib.crc32(name.encode("utf-8"))
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(key) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def rand_int_bits(name: str, shape, bits: int) -> np.ndarray:
    """Uniform signed integers in [-2^(bits-1), 2^(bits-1)) as float64."""
    n = int(np.prod(shape, dtype=np.int64))
    z = rand_u64(name, n) >> np.uint64(64 - bits)
    return (z.astype(np.int64) - (1 << (bits - 1))).astype(np.float64).reshape(shape)


def rand_f64(name: str, shape) -> np.ndarray:
    """Uniform in [-1, 1) with 53 random bits (exact in float64)."""
    return rand_int_bits(name, shape, 53) / float(1 << 52)


def rand_f32(name: str, shape, scale: float = 1.0) -> np.ndarray:
    """Uniform in [-scale, scale): 24-bit values (exact in f32), then scaled."""
    u = rand_int_bits(name, shape, 24) / float(1 << 23)  # exact
    return (u * scale).astype(np.float32)


def rand_f16(name: str, shape) -> np.ndarray:
    """Values k/64 with |k| <= 2048: exactly representable in float16."""
    return (rand_int_bits(name, shape, 12) / 64.0).astype(np.float16)


def rand_int(name: str, shape, dtype) -> np.ndarray:
    """Integers covering the full range of `dtype` (two's complement wrap)."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    z = rand_u64(name, n)
    unsigned = np.dtype(f"u{dt.itemsize}")
    return z.astype(unsigned).view(dt).reshape(shape)


# --------------------------------------------------------------------------
# Minimal independent safetensors reader/writer (for hand-made files & checks)
# --------------------------------------------------------------------------

def parse_header(blob: bytes) -> tuple[int, dict]:
    """Returns (data_start, header_dict) using only struct/json (no library)."""
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    return 8 + n, header


def build_file(entries, metadata=None, metadata_last=False, pad=True) -> bytes:
    """Hand-build a safetensors file.

    entries: list of (name, dtype_str, shape, raw_bytes), packed back to back
             in the given order.
    pad:     pad the JSON header with spaces to a multiple of 8 (like the
             library does); pad=False leaves it unpadded.
    """
    header = {}
    if metadata is not None and not metadata_last:
        header["__metadata__"] = metadata
    data = bytearray()
    for name, dtype, shape, raw in entries:
        assert len(raw) == ST_ITEMSIZE[dtype] * math.prod(shape), name
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None and metadata_last:
        header["__metadata__"] = metadata
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if pad:
        hjson += b" " * (-len(hjson) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + bytes(data)


def canonicalize_metadata_order(blob: bytes) -> bytes:
    """Sort the keys of __metadata__ in a library-written file.

    The Rust library keeps __metadata__ in a HashMap with a per-process random
    hasher, so with two or more metadata keys `save_file` emits them in a
    different order from run to run. Everything else (tensor order, offsets,
    padding) is deterministic. Permuting the keys does not change the header
    length, so we re-emit the same compact JSON with sorted metadata keys and
    keep the library's padding and data bytes untouched.
    """
    data_start, header = parse_header(blob)
    raw = blob[8:data_start]
    text = raw.rstrip(b" ")
    pad = raw[len(text):]
    compact = lambda h: json.dumps(h, separators=(",", ":")).encode("utf-8")
    assert compact(header) == text, "library JSON not reproducible"
    meta = header.get("__metadata__")
    if not meta:
        return blob
    header["__metadata__"] = dict(sorted(meta.items()))
    new = compact(header)
    assert len(new) == len(text)
    return blob[:8] + new + pad + blob[data_start:]


def le_bytes(arr: np.ndarray) -> bytes:
    """Raw little-endian bytes of an array, C order."""
    arr = np.array(arr, order="C")  # copy; keeps 0-d shape
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr.tobytes()


def expected_from_library(path: Path, originals: dict[str, bytes]) -> dict:
    """Build the expected-values dict from what the library reads back.

    Every tensor's bytes are taken from `safe_open(...).get_tensor` and
    cross-checked against (a) `load_file`, (b) the file bytes at the offsets in
    the header (parsed independently) and (c) the bytes we meant to write.
    """
    blob = path.read_bytes()
    data_start, header = parse_header(blob)
    meta = header.get("__metadata__")
    via_load = load_file(str(path))
    tensors = {}
    with safe_open(str(path), framework="numpy") as f:
        lib_meta = f.metadata()
        assert (lib_meta or None) == (meta or None), (lib_meta, meta)
        assert sorted(f.keys()) == sorted(k for k in header if k != "__metadata__")
        for name in f.keys():
            arr = f.get_tensor(name)
            info = header[name]
            raw = le_bytes(arr)
            b, e = info["data_offsets"]
            assert raw == blob[data_start + b:data_start + e], name
            assert raw == le_bytes(via_load[name]), name
            assert raw == originals[name], name
            assert ST_DTYPE[arr.dtype.newbyteorder("=")] == info["dtype"], name
            assert list(arr.shape) == info["shape"], name
            sl = f.get_slice(name)
            assert sl.get_dtype() == info["dtype"] and list(sl.get_shape()) == info["shape"]
            tensors[name] = {"dtype": info["dtype"], "shape": info["shape"],
                             "data_offsets": [b, e], "hex": raw.hex()}
    assert set(tensors) == set(originals)
    return {"file_bytes": len(blob), "metadata": meta if meta is not None else {},
            "tensors": tensors}


# --------------------------------------------------------------------------
# Fixture 1: all_dtypes.safetensors (library-written)
# --------------------------------------------------------------------------

def f32_special() -> np.ndarray:
    bits = [
        0x00000000,  # +0
        0x80000000,  # -0
        0x7F800000,  # +inf
        0xFF800000,  # -inf
        0x7FC00000,  # quiet NaN
        0xFFC00001,  # negative NaN with payload
        0x00000001,  # smallest subnormal
        0x80000001,  # -smallest subnormal
        0x007FFFFF,  # largest subnormal
        0x00800000,  # smallest normal (finfo.tiny)
        0x7F7FFFFF,  # max
        0xFF7FFFFF,  # min (lowest)
        0x3F800000,  # 1.0
        0xC0200000,  # -2.5
        0x3EAAAAAB,  # 1/3
    ]
    return np.array(bits, dtype=np.uint32).view(np.float32)


def f16_special() -> np.ndarray:
    bits = [
        0x0000,  # +0
        0x8000,  # -0
        0x7C00,  # +inf
        0xFC00,  # -inf
        0x7E00,  # quiet NaN
        0xFE01,  # negative NaN with payload
        0x0001,  # smallest subnormal (2^-24)
        0x8001,  # -smallest subnormal
        0x03FF,  # largest subnormal
        0x0400,  # smallest normal (2^-14)
        0x7BFF,  # max (65504)
        0xFBFF,  # min (-65504)
        0x3C00,  # 1.0
        0xC100,  # -2.5
        0x3555,  # ~1/3
    ]
    return np.array(bits, dtype=np.uint16).view(np.float16)


def int_extremes(dtype, shape, name) -> np.ndarray:
    """Random full-range values with min, max, 0, -1/1 placed first."""
    dt = np.dtype(dtype)
    arr = rand_int(name, shape, dt).reshape(-1).copy()
    info = np.iinfo(dt)
    fixed = [info.min, info.max, 0, 1] + ([-1] if info.min < 0 else [])
    fixed = fixed[:arr.size]
    arr[:len(fixed)] = np.array(fixed, dtype=dt)
    return arr.reshape(shape)


def all_dtypes_tensors() -> dict[str, np.ndarray]:
    t = {
        "f64_3x5x7": rand_f64("f64_3x5x7", (3, 5, 7)),
        "f32_64x48": rand_f32("f32_64x48", (64, 48)),
        "f32_scalar": np.array(3.25, dtype=np.float32),
        "f32_empty_0x3": np.zeros((0, 3), dtype=np.float32),
        "f32_special": f32_special(),
        "f16_33x31": rand_f16("f16_33x31", (33, 31)),
        "f16_special": f16_special(),
        "i64_17": int_extremes(np.int64, (17,), "i64_17"),
        "i32_2x1x3": int_extremes(np.int32, (2, 1, 3), "i32_2x1x3"),
        "i32_scalar": np.array(-123456789, dtype=np.int32),
        "i16_17": int_extremes(np.int16, (17,), "i16_17"),
        "i8_3x5x7": int_extremes(np.int8, (3, 5, 7), "i8_3x5x7"),
        "u8_17": int_extremes(np.uint8, (17,), "u8_17"),
        "u16_2x1x3": int_extremes(np.uint16, (2, 1, 3), "u16_2x1x3"),
        "u32_1": np.array([0xDEADBEEF], dtype=np.uint32),
        "u64_17": int_extremes(np.uint64, (17,), "u64_17"),
        "bool_2x1x3": np.array([True, False, False, True, True, False]).reshape(2, 1, 3),
    }
    for v in t.values():
        assert v.flags.c_contiguous
    return t


def make_all_dtypes(out: Path, w: Writer, tmp: Path) -> tuple[str, dict]:
    tensors = all_dtypes_tensors()
    meta = {"format": "pt", "note": "kiln fixture"}
    tmp_file = tmp / "all_dtypes.safetensors"
    save_file(tensors, str(tmp_file), metadata=meta)
    tmp_file.write_bytes(canonicalize_metadata_order(tmp_file.read_bytes()))
    exp = expected_from_library(tmp_file, {k: le_bytes(v) for k, v in tensors.items()})
    assert exp["metadata"] == meta
    w.write(out / "all_dtypes.safetensors", tmp_file.read_bytes())
    w.write(out / "all_dtypes.expected.json", dump_json(exp))
    return "all_dtypes.safetensors", exp


# --------------------------------------------------------------------------
# BF16 (hand-made file)
# --------------------------------------------------------------------------

def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round-to-nearest-even.

    NaN keeps its sign and top payload bits with the quiet bit forced on (so a
    signalling NaN whose payload lives only in the low 16 bits does not turn
    into infinity). Finite values that round past the bf16 max become inf.
    """
    x = np.array(x, dtype=np.float32, order="C")  # copy; keeps 0-d shape
    u = x.view(np.uint32).astype(np.uint64)
    lsb = (u >> np.uint64(16)) & np.uint64(1)
    rounded = ((u + np.uint64(0x7FFF) + lsb) >> np.uint64(16)) & np.uint64(0xFFFF)
    nan = np.isnan(x)
    quiet = ((u >> np.uint64(16)) | np.uint64(0x0040)) & np.uint64(0xFFFF)
    return np.where(nan, quiet, rounded).astype(np.uint16)


def bf16_bits_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _bf16_value(b: int) -> Fraction | None:
    """Exact value of a finite bf16 bit pattern (None for inf/NaN)."""
    sign = -1 if b & 0x8000 else 1
    exp = (b >> 7) & 0xFF
    man = b & 0x7F
    if exp == 0xFF:
        return None
    if exp == 0:
        return sign * Fraction(man, 1 << 7) * Fraction(1, 1 << 126)
    return sign * (1 + Fraction(man, 1 << 7)) * (Fraction(2) ** (exp - 127))


def f32_to_bf16_reference(v: float) -> int:
    """Independent scalar reference: pick the nearest bf16 by exact arithmetic."""
    (u,) = struct.unpack("<I", struct.pack("<f", v))
    if math.isnan(v):
        return ((u >> 16) | 0x0040) & 0xFFFF
    if math.isinf(v):
        return u >> 16
    exact = Fraction(v)
    sign = u & 0x80000000
    mag = abs(exact)
    lo = (u & 0x7FFFFFFF) >> 16           # truncation (towards zero)
    hi = lo + 1                           # next magnitude up (0x7F80 = inf)
    lo_v = _bf16_value(lo)
    if lo_v == mag:
        pick = lo
    else:
        # Treat "inf" as 2^128 for rounding, which is what IEEE RNE does.
        hi_v = _bf16_value(hi) if hi != 0x7F80 else Fraction(2) ** 128
        d_lo, d_hi = mag - lo_v, hi_v - mag
        if d_lo < d_hi:
            pick = lo
        elif d_hi < d_lo:
            pick = hi
        else:
            pick = lo if lo % 2 == 0 else hi
    return pick | (sign >> 16)


def bf16_sources() -> dict[str, np.ndarray]:
    special_bits = [
        0x00000000,  # +0
        0x80000000,  # -0
        0x7F800000,  # +inf
        0xFF800000,  # -inf
        0x7FC00000,  # quiet NaN -> 0x7FC0
        0xFFC00001,  # negative NaN w/ payload -> 0xFFC0
        0x7F800001,  # signalling NaN, payload only in low bits -> 0x7FC0 (not inf!)
        0x00000001,  # smallest f32 subnormal -> rounds to +0
        0x00010000,  # smallest bf16 subnormal
        0x007F0000,  # largest bf16 subnormal
        0x00800000,  # smallest normal
        0x7F7F0000,  # bf16 max (exact)
        0xFF7F0000,  # bf16 lowest (exact)
        0x7F7FFFFF,  # f32 max -> rounds up to +inf
        0x7F7F7FFF,  # just below the bf16-max/inf midpoint -> bf16 max
        0x3F800000,  # 1.0
        0x3F808000,  # tie, even lower neighbour -> 0x3F80
        0x3F818000,  # tie, odd lower neighbour -> 0x3F82
        0x3F808001,  # just above tie -> 0x3F81
        0x3F807FFF,  # just below tie -> 0x3F80
        0xC0200000,  # -2.5
        0x3EAAAAAB,  # 1/3
        0x40490FDB,  # pi
    ]
    return {
        "bf16_special": np.array(special_bits, dtype=np.uint32).view(np.float32),
        "bf16_3x5x7": rand_f32("bf16_3x5x7", (3, 5, 7), scale=8.0),
        "bf16_scalar": np.array(-0.1, dtype=np.float32),
        "bf16_empty_0x3": np.zeros((0, 3), dtype=np.float32),
    }


def make_bf16(out: Path, w: Writer, tmp: Path) -> tuple[str, dict]:
    sources = bf16_sources()
    bits = {}
    for name, src in sources.items():
        b = f32_to_bf16_bits(src)
        ref = np.array([f32_to_bf16_reference(float(v)) for v in src.reshape(-1)],
                       dtype=np.uint16).reshape(src.shape)
        assert np.array_equal(b, ref), name
        bits[name] = b
    sp = bits["bf16_special"]
    spot = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7FC0, 0x0000,
            0x0001, 0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x7F80, 0x7F7F, 0x3F80,
            0x3F80, 0x3F82, 0x3F81, 0x3F80, 0xC020, 0x3EAB, 0x4049]
    assert sp.tolist() == spot, [hex(x) for x in sp.tolist()]

    # Layout mirrors the library: compact JSON, __metadata__ first, header
    # space-padded to a multiple of 8, larger-alignment dtypes first, then name.
    f32_entries = []
    bf16_entries = []
    originals = {}
    for name, src in sources.items():
        raw_bf16 = le_bytes(bits[name])
        bf16_entries.append((name, "BF16", src.shape, raw_bf16))
        originals[name] = raw_bf16
        src_name = name.replace("bf16_", "f32src_", 1)
        dec_name = name.replace("bf16_", "f32dec_", 1)
        f32_entries.append((src_name, "F32", src.shape, le_bytes(src)))
        f32_entries.append((dec_name, "F32", src.shape, le_bytes(bf16_bits_to_f32(bits[name]))))
        originals[src_name] = le_bytes(src)
        originals[dec_name] = le_bytes(bf16_bits_to_f32(bits[name]))
    entries = sorted(f32_entries, key=lambda e: e[0]) + sorted(bf16_entries, key=lambda e: e[0])
    meta = {"format": "pt", "note": "kiln fixture (hand-written BF16)"}
    blob = build_file(entries, metadata=meta)
    tmp_file = tmp / "bf16.safetensors"
    tmp_file.write_bytes(blob)

    # 1. The library must accept the hand-made file.
    data_start, header = parse_header(blob)
    assert data_start % 8 == 0
    with safe_open(str(tmp_file), framework="numpy") as f:
        assert f.metadata() == meta
        assert sorted(f.keys()) == sorted(originals)
        for name in f.keys():
            sl = f.get_slice(name)
            assert sl.get_dtype() == header[name]["dtype"]
            assert list(sl.get_shape()) == header[name]["shape"]
        bf16_via_numpy = True
        try:
            f.get_tensor("bf16_scalar")
        except TypeError:
            bf16_via_numpy = False  # numpy has no bfloat16
    # 2. Raw bytes as the library sees them (deserialize gives raw data, no numpy).
    lib_raw = {name: (info["dtype"], list(info["shape"]), bytes(info["data"]))
               for name, info in safetensors.deserialize(blob)}
    tensors = {}
    for name, raw in originals.items():
        info = header[name]
        b, e = info["data_offsets"]
        assert blob[data_start + b:data_start + e] == raw, name      # file bytes
        assert lib_raw[name] == (info["dtype"], info["shape"], raw), name
        if info["dtype"] == "F32":
            with safe_open(str(tmp_file), framework="numpy") as f:
                assert le_bytes(f.get_tensor(name)) == raw, name
        tensors[name] = {"dtype": info["dtype"], "shape": info["shape"],
                         "data_offsets": [b, e], "hex": raw.hex()}
    exp = {"file_bytes": len(blob), "metadata": meta, "tensors": tensors}
    w.write(out / "bf16.safetensors", blob)
    w.write(out / "bf16.expected.json", dump_json(exp))
    return "bf16.safetensors", {"bf16_via_numpy": bf16_via_numpy, **exp}


# --------------------------------------------------------------------------
# Fixture 2: unaligned.safetensors (hand-made, unpadded header)
# --------------------------------------------------------------------------

def make_unaligned(out: Path, w: Writer, tmp: Path) -> tuple[str, dict]:
    tensors = {
        "a_u8_7": rand_int("a_u8_7", (7,), np.uint8),          # odd length first
        "b_f32_3x5": rand_f32("b_f32_3x5", (3, 5)),           # now at data offset 7
        "c_i16_5": int_extremes(np.int16, (5,), "c_i16_5"),
        "d_u8_1": np.array([0xA5], dtype=np.uint8),
        "e_f64_2x3": rand_f64("e_f64_2x3", (2, 3)),
        "f_i64_3": int_extremes(np.int64, (3,), "f_i64_3"),
        "g_f16_5": f16_special()[:5].copy(),
    }
    entries = [(k, ST_DTYPE[v.dtype], v.shape, le_bytes(v)) for k, v in tensors.items()]
    # Pick a metadata value so the JSON header length N is odd (and unpadded)
    # and the F32 tensor's absolute file offset is not a multiple of 4.
    # __metadata__ is placed LAST in the JSON, to catch readers that expect it
    # first.
    for extra in range(16):
        meta = {"format": "pt", "note": "unaligned kiln fixture" + "!" * extra}
        blob = build_file(entries, metadata=meta, metadata_last=True, pad=False)
        data_start, header = parse_header(blob)
        f32_at = data_start + header["b_f32_3x5"]["data_offsets"][0]
        if (data_start - 8) % 2 == 1 and f32_at % 4 != 0:
            break
    else:
        raise AssertionError("could not make an odd header length")
    for name, _, _, _ in entries:
        b, _ = header[name]["data_offsets"]
        isz = ST_ITEMSIZE[header[name]["dtype"]]
        if isz > 1:
            assert (data_start + b) % isz != 0 or b % isz != 0, name
    assert data_start == 507  # quoted in the README
    assert header["b_f32_3x5"]["data_offsets"][0] % 2 == 1
    assert (data_start + header["b_f32_3x5"]["data_offsets"][0]) % 4 != 0
    tmp_file = tmp / "unaligned.safetensors"
    tmp_file.write_bytes(blob)
    loaded = load_file(str(tmp_file))
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        assert le_bytes(loaded[k]) == le_bytes(v), k
        if v.dtype.kind != "f":
            assert np.array_equal(loaded[k], v)
    exp = expected_from_library(tmp_file, {k: le_bytes(v) for k, v in tensors.items()})
    assert exp["metadata"] == meta
    w.write(out / "unaligned.safetensors", blob)
    w.write(out / "unaligned.expected.json", dump_json(exp))
    return "unaligned.safetensors", {"header_len": data_start - 8, **exp}


# --------------------------------------------------------------------------
# Fixture 3: tiny_gpt2.safetensors
# --------------------------------------------------------------------------

def tiny_gpt2_tensors() -> dict[str, np.ndarray]:
    vocab, n_pos, d, n_layer, d_ff = 64, 16, 32, 2, 128
    t: dict[str, np.ndarray] = {}

    def weight(name, shape, scale=0.02):
        t[name] = rand_f32(name, shape, scale)

    def ln(name):
        t[name + ".weight"] = (1.0 + rand_f32(name + ".weight", (d,), 0.1).astype(np.float64)).astype(np.float32)
        t[name + ".bias"] = rand_f32(name + ".bias", (d,), 0.01)

    weight("wte.weight", (vocab, d))
    weight("wpe.weight", (n_pos, d), 0.01)
    for i in range(n_layer):
        p = f"h.{i}."
        ln(p + "ln_1")
        weight(p + "attn.c_attn.weight", (d, 3 * d))     # Conv1D: [in, out]
        weight(p + "attn.c_attn.bias", (3 * d,), 0.01)
        weight(p + "attn.c_proj.weight", (d, d))
        weight(p + "attn.c_proj.bias", (d,), 0.01)
        ln(p + "ln_2")
        weight(p + "mlp.c_fc.weight", (d, d_ff))
        weight(p + "mlp.c_fc.bias", (d_ff,), 0.01)
        weight(p + "mlp.c_proj.weight", (d_ff, d))
        weight(p + "mlp.c_proj.bias", (d,), 0.01)
    ln("ln_f")
    return t


def make_tiny_gpt2(out: Path, w: Writer, tmp: Path) -> tuple[str, dict]:
    tensors = tiny_gpt2_tensors()
    meta = {"format": "pt"}
    tmp_file = tmp / "tiny_gpt2.safetensors"
    save_file(tensors, str(tmp_file), metadata=meta)
    tmp_file.write_bytes(canonicalize_metadata_order(tmp_file.read_bytes()))
    exp = expected_from_library(tmp_file, {k: le_bytes(v) for k, v in tensors.items()})
    w.write(out / "tiny_gpt2.safetensors", tmp_file.read_bytes())
    w.write(out / "tiny_gpt2.expected.json", dump_json(exp))
    return "tiny_gpt2.safetensors", exp


# --------------------------------------------------------------------------
# Fixture 5: hash vectors
# --------------------------------------------------------------------------

HASH_LENGTHS = list(range(0, 71)) + [255, 256, 1023, 1024, 4099, 65553]


def formula_bytes(n: int) -> bytes:
    return bytes((i * 31 + 7) % 256 for i in range(n))


def make_hashes(w: Writer) -> None:
    # Known-answer sanity checks of the libraries themselves.
    assert xxhash.xxh64(b"", seed=0).hexdigest() == "ef46db3751d8e999"
    assert xxhash.xxh64(b"abc", seed=0).hexdigest() == "44bc2cf5ad770999"
    assert hashlib.sha256(b"abc").hexdigest() == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    def entry(data: bytes) -> dict:
        x = xxhash.xxh64(data, seed=0)
        assert x.hexdigest() == format(x.intdigest(), "016x")
        return {"xxh64_seed0": x.hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}

    doc = {
        "input_formula": "b[i] = (i * 31 + 7) mod 256",
        "notes": "xxh64_seed0 is the 64-bit XXH64 value (seed 0) as 16 lowercase hex "
                 "digits, most significant first (= xxhash.xxh64(...).hexdigest()). "
                 "sha256 is the lowercase hex digest.",
        "vectors": [{"length": n, **entry(formula_bytes(n))} for n in HASH_LENGTHS],
        "strings": [{"utf8": s, **entry(s.encode("utf-8"))} for s in ["", "abc"]],
    }
    w.write(ROOT / "Fixtures" / "hashes" / "vectors.json", dump_json(doc))


# --------------------------------------------------------------------------
# Fixture 6: malformed safetensors files
# --------------------------------------------------------------------------

def _hdr(header_json: str) -> bytes:
    """Length-prefixed, space-padded header from literal JSON text."""
    h = header_json.encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h


# Valid base: "a" F32 [2,2] at [0,16], "b" U8 [3] at [16,19] (19 data bytes).
BASE_DATA = struct.pack("<4f", 1.0, -2.0, 0.5, 4.0) + bytes([1, 2, 3])


def base_header(a=None, b=None, meta='{"format":"pt"}') -> str:
    a = a or '{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}'
    b = b or '{"dtype":"U8","shape":[3],"data_offsets":[16,19]}'
    return '{"__metadata__":%s,"a":%s,"b":%s}' % (meta, a, b)


# (file name, one-line purpose, bytes)
def malformed_cases() -> list[tuple[str, str, bytes]]:
    base = _hdr(base_header()) + BASE_DATA
    (hlen,) = struct.unpack("<Q", base[:8])
    cases = [
        ("header_len_exceeds_file",
         "header length field (= file size + 1) is larger than the whole file",
         struct.pack("<Q", len(base) + 1) + base[8:]),
        ("header_len_2pow63",
         "header length field is 2^63 (must not be used to allocate or overflow offsets)",
         struct.pack("<Q", 1 << 63) + base[8:]),
        ("json_not_object",
         "header is valid JSON but an array, not an object",
         _hdr("[1,2,3]") + BASE_DATA),
        ("offsets_past_end",
         "tensor b: shape [8] U8 with data_offsets [16,24], but the data section is only 19 bytes",
         _hdr(base_header(b='{"dtype":"U8","shape":[8],"data_offsets":[16,24]}')) + BASE_DATA),
        ("offsets_end_before_begin",
         "tensor b has data_offsets [19,16] (END < BEGIN)",
         _hdr(base_header(b='{"dtype":"U8","shape":[3],"data_offsets":[19,16]}')) + BASE_DATA),
        ("size_mismatch",
         "tensor a: F32 shape [2,3] needs 24 bytes but data_offsets [0,16] span 16",
         _hdr(base_header(a='{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}')) + BASE_DATA),
        ("overlapping_tensors",
         "tensor b (U8 [11], data_offsets [8,19]) overlaps tensor a ([0,16]); sizes and bounds are otherwise valid",
         _hdr(base_header(b='{"dtype":"U8","shape":[11],"data_offsets":[8,19]}')) + BASE_DATA),
        ("unknown_dtype",
         'tensor b has dtype "F8_E9M9", which does not exist',
         _hdr(base_header(b='{"dtype":"F8_E9M9","shape":[3],"data_offsets":[16,19]}')) + BASE_DATA),
        ("metadata_non_string",
         '__metadata__ has a non-string value ("n": 1)',
         _hdr(base_header(meta='{"format":"pt","n":1}')) + BASE_DATA),
        ("shape_overflow",
         "tensor a has shape [2^40, 2^40, 2^40]: element count overflows u64",
         _hdr(base_header(a='{"dtype":"F32","shape":[%d,%d,%d],"data_offsets":[0,16]}'
                          % ((1 << 40,) * 3))) + BASE_DATA),
        ("truncated",
         "valid file cut in the middle of tensor a's data (file ends 7 bytes into the data section)",
         base[:8 + hlen + 7]),
        ("duplicate_tensor_name",
         'JSON header names tensor "a" twice (identical entries); safetensors 0.8.0 silently accepts this (last one wins)',
         _hdr('{"__metadata__":{"format":"pt"},'
              '"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},'
              '"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},'
              '"b":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}}') + BASE_DATA),
        ("trailing_bytes",
         "valid file followed by one extra 0x00 byte after the data section (the reference library rejects this)",
         base + b"\x00"),
        ("file_too_short",
         "only 5 bytes: not even room for the 8-byte header length",
         base[:5]),
        ("header_not_utf8",
         "header bytes contain invalid UTF-8 (0xFF inside a tensor name)",
         _hdr(base_header()).replace(b'"b":', b'"\xff":', 1) + BASE_DATA),
    ]
    return [("valid_base_check", "", base)] + cases


def make_malformed(w: Writer, tmp: Path) -> tuple[list, dict]:
    out = ROOT / "Fixtures" / "malformed"
    cases = malformed_cases()
    _, base = cases[0][0], cases[0][2]
    # The base must be valid for the library, otherwise the cases prove nothing.
    loaded = safetensors.numpy.load(base)
    assert loaded["a"].tolist() == [[1.0, -2.0], [0.5, 4.0]] and loaded["b"].tolist() == [1, 2, 3]
    lib_result = {}
    for name, _purpose, blob in cases[1:]:
        assert len(blob) < 1024
        p = tmp / (name + ".safetensors")
        p.write_bytes(blob)
        try:
            with safe_open(str(p), framework="numpy") as f:
                for k in f.keys():
                    f.get_tensor(k)
            load_file(str(p))
            lib_result[name] = "ACCEPTED"
        except Exception as e:  # noqa: BLE001 - we record whatever the library does
            lib_result[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
        w.write(out / (name + ".safetensors"), blob)
    return cases[1:], lib_result


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------

BEGIN = "<!-- BEGIN generated by Tools/make_fixtures.py -->"
END = "<!-- END generated by Tools/make_fixtures.py -->"


def readme_block(malformed: list, gpt2_bytes: int) -> str:
    lines = [
        BEGIN,
        "## safetensors",
        "",
        "Generated by `python3 Tools/make_fixtures.py` (deps: `Tools/requirements-fixtures.txt`;",
        "torch is not needed). The script is deterministic (SplitMix64 keyed by a fixed seed and",
        "the tensor name; every random float is exactly representable before rounding), rewrites",
        "files only when their bytes change, and `--check` exits 1 if anything would change.",
        "Each file is verified against the reference `safetensors` library while being made.",
        "",
        "Files in `Fixtures/safetensors/`:",
        "",
        "- `all_dtypes.safetensors`: written by `safetensors.numpy.save_file` with metadata",
        '  `{"format": "pt", "note": "kiln fixture"}`. Dtypes F64, F32, F16, I64, I32, I16, I8,',
        "  U8, U16, U32, U64, BOOL. Shapes include a 0-d scalar `[]`, an empty `[0, 3]`,",
        "  `[3, 5, 7]`, `[17]`, `[1]`, `[2, 1, 3]`, `[64, 48]` (F32) and `[33, 31]` (F16).",
        "  `f32_special` / `f16_special` hold +0, -0, +inf, -inf, a quiet NaN, a negative NaN",
        "  with payload, subnormals, smallest normal, max, lowest, 1, -2.5, 1/3 (built from",
        "  bit patterns). Integer tensors start with min, max, 0, 1 (and -1 if signed).",
        "- `bf16.safetensors`: hand-written (numpy has no bfloat16). BF16 tensors `bf16_*`",
        "  are float32 sources rounded to nearest-even (top 16 bits); NaN keeps sign/top",
        "  payload with the quiet bit forced (so `0x7F800001` becomes `0x7FC0`, not inf);",
        "  f32 max rounds to +inf; ties are exercised (`0x3F808000`->`0x3F80`,",
        "  `0x3F818000`->`0x3F82`). For each `bf16_X` there is `f32src_X` (the F32 source)",
        "  and `f32dec_X` (the exact F32 value of the BF16 result, `bits << 16`). Layout copies",
        "  the library's conventions (compact JSON, `__metadata__` first, header space-padded",
        "  to a multiple of 8, F32 before BF16, then by name). Checked with an independent",
        "  exact-arithmetic rounding reference, the file bytes, `safe_open` keys/metadata/",
        "  `get_slice` dtype+shape, and `safetensors.deserialize` raw bytes.",
        "- `unaligned.safetensors`: hand-written, JSON header NOT padded (odd length), so the",
        "  data section starts at an odd file offset (507); tensors are packed back to back",
        "  starting with `a_u8_7` (7 bytes), so every multi-byte tensor is misaligned for its",
        "  dtype in the file and/or within the data section (`b_f32_3x5`, `e_f64_2x3` and",
        "  `f_i64_3` in both). `__metadata__` is the LAST key of the JSON object. Loads and",
        "  round-trips with `safetensors.numpy.load_file`.",
        "- `tiny_gpt2.safetensors`: random GPT-2-layout F32 model, HF names (`wte.weight`",
        "  [64, 32], `wpe.weight` [16, 32], `h.{0,1}.ln_1/ln_2.{weight,bias}`,",
        "  `h.{i}.attn.c_attn.weight` [32, 96] (Conv1D: in x out), `attn.c_proj` [32, 32],",
        "  `mlp.c_fc` [32, 128], `mlp.c_proj` [128, 32], biases, `ln_f.*`), metadata",
        f'  `{{"format": "pt"}}`. {gpt2_bytes} bytes (these shapes need ~109 KiB of F32 data).',
        "- `<name>.expected.json` for each: `file_bytes`, `metadata` (the `__metadata__` map),",
        "  and per tensor `dtype`, `shape`, `data_offsets` (relative to the data section) and",
        "  `hex` (lowercase hex of the raw little-endian bytes). Bytes come from what the",
        "  library reads back (`safe_open(...).get_tensor`, cross-checked with `load_file` and",
        "  the file bytes); BF16 bytes come from the script's own rounding, cross-checked",
        "  against the file and `safetensors.deserialize`.",
        "",
        "Library behaviour worth knowing (safetensors 0.8.0): `save_file` writes compact JSON",
        "with `__metadata__` first, then the tensors in data order. Data order is by dtype",
        "(descending in the library's Dtype enum: U64, I64, F64, F32, U32, I32, BF16, F16, U16,",
        "I16, I8, U8, BOOL), then by name - not purely alphabetical. The JSON is padded with",
        "spaces to a multiple of 8 and tensors are packed without gaps, so every tensor is",
        "naturally aligned. The reader requires none of that (see `unaligned`). The order of",
        "keys inside `__metadata__` is random per process (Rust HashMap), so the script sorts",
        "them after `save_file` (same length, bytes otherwise untouched) to stay deterministic.",
        "",
        "### malformed",
        "",
        "`Fixtures/malformed/` holds broken files a reader must reject with a clear error.",
        "All but `json_not_object` are edits of one valid base file (compact JSON, header",
        'space-padded to a multiple of 8): `__metadata__ {"format":"pt"}`, `a` F32 [2,2] at',
        "[0,16] = [1, -2, 0.5, 4], `b` U8 [3] at [16,19] = [1, 2, 3]. Each has exactly one",
        "defect. The reference library rejects all of them except `duplicate_tensor_name`.",
        "",
    ]
    for name, purpose, _ in malformed:
        lines.append(f"- `{name}.safetensors`: {purpose}.")
    lines += [
        "",
        "## hashes",
        "",
        "`Fixtures/hashes/vectors.json`: XXH64 (seed 0, Python `xxhash`) and SHA-256",
        "(`hashlib`) of inputs `b[i] = (i * 31 + 7) mod 256` for lengths 0..70, 255, 256,",
        "1023, 1024, 4099, 65553, plus the UTF-8 strings `\"\"` and `\"abc\"`. `xxh64_seed0`",
        "is the 64-bit value as 16 hex digits, most significant first (`hexdigest()`).",
        END,
    ]
    return "\n".join(lines) + "\n"


def make_readme(w: Writer, block: str) -> None:
    path = ROOT / "Fixtures" / "README.md"
    if path.exists():
        text = path.read_text("utf-8")
        if BEGIN in text and END in text:
            pre, rest = text.split(BEGIN, 1)
            _, post = rest.split(END, 1)
            text = pre + block.rstrip("\n") + post
        else:
            text = text.rstrip("\n") + "\n\n" + block
    else:
        text = "# Fixtures\n\nSmall, deterministic test inputs for Kiln.\n\n" + block
    w.write(path, text.encode("utf-8"))


# --------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if any fixture differs from what would be generated")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print library observations (malformed-file results etc.)")
    args = ap.parse_args()

    import tempfile
    w = Writer(check=args.check)
    out = ROOT / "Fixtures" / "safetensors"
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        results = dict([make_all_dtypes(out, w, tmp), make_bf16(out, w, tmp),
                        make_unaligned(out, w, tmp), make_tiny_gpt2(out, w, tmp)])
        make_hashes(w)
        malformed, lib_result = make_malformed(w, tmp)
    make_readme(w, readme_block(malformed, results["tiny_gpt2.safetensors"]["file_bytes"]))

    if args.verbose:
        print(f"safetensors {safetensors.__version__}, numpy {np.__version__}")
        for name, exp in results.items():
            order = sorted(exp["tensors"], key=lambda k: exp["tensors"][k]["data_offsets"][0])
            print(f"{name}: {exp['file_bytes']} bytes; data order: {', '.join(order)}")
        print("bf16 get_tensor via numpy works:", results["bf16.safetensors"]["bf16_via_numpy"])
        print("unaligned header length:", results["unaligned.safetensors"]["header_len"])
        for name, r in lib_result.items():
            print(f"malformed/{name}: {r}")
    for p in w.written:
        if p.exists() and p.stat().st_size >= 64 * 1024:
            print(f"note: {p.relative_to(ROOT)} is {p.stat().st_size} bytes (>= 64 KiB)")
    if args.check:
        if w.changed:
            print("out of date:\n  " + "\n  ".join(w.changed))
            return 1
        print("fixtures up to date")
    else:
        print(f"wrote {len(w.changed)} changed file(s) of {len(w.written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
