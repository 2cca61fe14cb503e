#!/usr/bin/env python3
"""Independent reader for the `.kiln` file format, version 1.

Written from docs/FORMAT.md alone (not from Kiln's Swift sources), so that the
specification is proven complete. Standard library + numpy; `zstandard` is used
for compressed tensors when it is installed.

Library use:

    import kiln_read
    f = kiln_read.read("model.kiln")       # validates preamble, header checksum, header
    f.version                              # (major, minor)
    f.metadata                             # dict of key -> python value
    f.tensors["w"]                         # TensorInfo
    f.raw_bytes("w")                       # decompressed, unfiltered bytes (memoryview)
    f.array("w")                           # numpy array, plain types only
    f.dequantize("w")                      # float32 numpy array, every type
    f.verify()                             # checks every tensor checksum

CLI:

    python3 Tools/kiln_read.py FILE --json [--no-data]

Exit status: 0 success; 1 format error (message on stderr as `kiln_read: ...`);
2 the file is well formed but some tensor could not be read (e.g. zstd-compressed
and the `zstandard` module is missing) -- the JSON is still printed, with
"checksum_ok": null and an "error" member for such tensors.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

try:  # optional
    import zstandard as _zstd
except ImportError:  # pragma: no cover - depends on the environment
    _zstd = None

__all__ = [
    "KilnFormatError",
    "KilnUnsupportedError",
    "KilnFile",
    "TensorInfo",
    "read",
    "xxh64",
    "ELEMENT_TYPES",
]

U64_MAX = (1 << 64) - 1
PREAMBLE_SIZE = 64
MAGIC = b"KILN"
BOM_LE = b"\x0d\x0c\x0b\x0a"
BOM_BE = b"\x0a\x0b\x0c\x0d"
KNOWN_MAJOR = 1
MAX_NESTING = 32
MAX_NDIM = 8
ALIGN = 64
LARGE_TENSOR = 1 << 20  # 1 MiB
LARGE_ALIGN = 16384


class KilnFormatError(Exception):
    """The file violates the .kiln specification."""


class KilnUnsupportedError(Exception):
    """The file is valid but this reader cannot decode part of it (e.g. no zstandard module)."""


# --------------------------------------------------------------------------------------------
# XXH64 (pure Python), per https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md
# --------------------------------------------------------------------------------------------

_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5
_M = U64_MAX


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * _P2) & _M
    acc = ((acc << 31) | (acc >> 33)) & _M
    return (acc * _P1) & _M


def _merge(acc: int, val: int) -> int:
    acc ^= _round(0, val)
    return (acc * _P1 + _P4) & _M


def _lanes_u64(mv: memoryview):
    """The buffer (length a multiple of 8) as a sequence of little-endian u64 ints."""
    if sys.byteorder == "little":
        return mv.cast("Q")
    return np.frombuffer(mv, dtype="<u8").tolist()  # pragma: no cover - big-endian hosts


def xxh64(data, seed: int = 0) -> int:
    """XXH64 of `data` (any C-contiguous buffer) as an int."""
    mv = memoryview(data)
    if mv.ndim != 1 or mv.format != "B":
        mv = mv.cast("B")
    n = len(mv)
    seed &= _M
    p = 0
    if n >= 32:
        v1 = (seed + _P1 + _P2) & _M
        v2 = (seed + _P2) & _M
        v3 = seed
        v4 = (seed - _P1) & _M
        stripes = n // 32
        lanes = _lanes_u64(mv[: stripes * 32])
        P1, P2, M = _P1, _P2, _M
        for a, b, c, d in zip(lanes[0::4], lanes[1::4], lanes[2::4], lanes[3::4]):
            v1 = (v1 + a * P2) & M
            v1 = ((((v1 << 31) | (v1 >> 33)) & M) * P1) & M
            v2 = (v2 + b * P2) & M
            v2 = ((((v2 << 31) | (v2 >> 33)) & M) * P1) & M
            v3 = (v3 + c * P2) & M
            v3 = ((((v3 << 31) | (v3 >> 33)) & M) * P1) & M
            v4 = (v4 + d * P2) & M
            v4 = ((((v4 << 31) | (v4 >> 33)) & M) * P1) & M
        acc = (
            (((v1 << 1) | (v1 >> 63)) & _M)
            + (((v2 << 7) | (v2 >> 57)) & _M)
            + (((v3 << 12) | (v3 >> 52)) & _M)
            + (((v4 << 18) | (v4 >> 46)) & _M)
        ) & _M
        acc = _merge(acc, v1)
        acc = _merge(acc, v2)
        acc = _merge(acc, v3)
        acc = _merge(acc, v4)
        p = stripes * 32
    else:
        acc = (seed + _P5) & _M
    acc = (acc + n) & _M
    while p + 8 <= n:
        lane = int.from_bytes(mv[p : p + 8], "little")
        acc ^= _round(0, lane)
        acc = ((((acc << 27) | (acc >> 37)) & _M) * _P1 + _P4) & _M
        p += 8
    if p + 4 <= n:
        lane = int.from_bytes(mv[p : p + 4], "little")
        acc ^= (lane * _P1) & _M
        acc = ((((acc << 23) | (acc >> 41)) & _M) * _P2 + _P3) & _M
        p += 4
    while p < n:
        acc ^= (mv[p] * _P5) & _M
        acc = ((((acc << 11) | (acc >> 53)) & _M) * _P1) & _M
        p += 1
    acc ^= acc >> 33
    acc = (acc * _P2) & _M
    acc ^= acc >> 29
    acc = (acc * _P3) & _M
    acc ^= acc >> 32
    return acc


# --------------------------------------------------------------------------------------------
# Element types (§7)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElementType:
    id: int
    name: str
    block_values: int  # B (1 for plain types)
    block_bytes: int  # b (element size s for plain types)
    dtype: str | None  # numpy dtype of a plain type's stored values
    group_rows: int = 1  # G: rows stored together by an interleaved type (§7.4)
    base: str | None = None  # the §7.1 type an interleaved type rearranges

    @property
    def is_block(self) -> bool:
        return self.block_values != 1


ELEMENT_TYPES: dict[int, ElementType] = {
    t.id: t
    for t in [
        ElementType(0, "f32", 1, 4, "<f4"),
        ElementType(1, "f16", 1, 2, "<f2"),
        ElementType(2, "bf16", 1, 2, "<u2"),
        ElementType(3, "f64", 1, 8, "<f8"),
        ElementType(16, "i8", 1, 1, "i1"),
        ElementType(17, "i16", 1, 2, "<i2"),
        ElementType(18, "i32", 1, 4, "<i4"),
        ElementType(19, "i64", 1, 8, "<i8"),
        ElementType(20, "u8", 1, 1, "u1"),
        ElementType(21, "u16", 1, 2, "<u2"),
        ElementType(22, "u32", 1, 4, "<u4"),
        ElementType(23, "u64", 1, 8, "<u8"),
        ElementType(24, "bool", 1, 1, "u1"),
        ElementType(64, "q8_0", 32, 34, None),
        ElementType(65, "q4_0", 32, 18, None),
        ElementType(66, "q4_1", 32, 20, None),
        ElementType(67, "q5_0", 32, 22, None),
        ElementType(68, "q5_1", 32, 24, None),
        ElementType(72, "kq4", 32, 18, None),
        ElementType(80, "q2_k", 256, 84, None),
        ElementType(81, "q3_k", 256, 110, None),
        ElementType(82, "q4_k", 256, 144, None),
        ElementType(83, "q5_k", 256, 176, None),
        ElementType(84, "q6_k", 256, 210, None),
        ElementType(85, "q8_k", 256, 292, None),
        ElementType(96, "q8_0x8", 32, 34, None, 8, "q8_0"),
        ElementType(97, "q4_0x8", 32, 18, None, 8, "q4_0"),
        ElementType(98, "q4_1x8", 32, 20, None, 8, "q4_1"),
        ElementType(99, "kq4x8", 32, 18, None, 8, "kq4"),
        ElementType(100, "q5_0x8", 32, 22, None, 8, "q5_0"),
        ElementType(101, "q5_1x8", 32, 24, None, 8, "q5_1"),
    ]
}

_BLOCK_DTYPES = {
    "q8_0": np.dtype([("d", "<f2"), ("q", "i1", (32,))]),
    "q4_0": np.dtype([("d", "<f2"), ("qs", "u1", (16,))]),
    "q4_1": np.dtype([("d", "<f2"), ("m", "<f2"), ("qs", "u1", (16,))]),
    "q5_0": np.dtype([("d", "<f2"), ("qh", "<u4"), ("qs", "u1", (16,))]),
    "q5_1": np.dtype([("d", "<f2"), ("m", "<f2"), ("qh", "<u4"), ("qs", "u1", (16,))]),
    "kq4": np.dtype([("e0", "u1"), ("e1", "u1"), ("qs", "u1", (16,))]),
    "q2_k": np.dtype([("scales", "u1", (16,)), ("qs", "u1", (64,)), ("d", "<f2"), ("dmin", "<f2")]),
    "q3_k": np.dtype([("hmask", "u1", (32,)), ("qs", "u1", (64,)), ("scales", "u1", (12,)), ("d", "<f2")]),
    "q4_k": np.dtype([("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", (12,)), ("qs", "u1", (128,))]),
    "q5_k": np.dtype([("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", (12,)), ("qh", "u1", (32,)), ("qs", "u1", (128,))]),
    "q6_k": np.dtype([("ql", "u1", (128,)), ("qh", "u1", (64,)), ("scales", "i1", (16,)), ("d", "<f2")]),
    "q8_k": np.dtype([("d", "<f4"), ("qs", "i1", (256,)), ("bsums", "<i2", (16,))]),
}
for _name, _dt in _BLOCK_DTYPES.items():
    assert _dt.itemsize == next(t.block_bytes for t in ELEMENT_TYPES.values() if t.name == _name)

# kq4 (§7.3). grid[level]: the integers, exactly in binary32.
_KQ4_GRID = np.array(
    [-127, -102, -82, -64, -48, -34, -20, -6, 6, 20, 34, 48, 64, 82, 102, 127], dtype=np.float32
)
# M[k]: the binary32 values given in §7.3 (each exactly representable; checked below).
_KQ4_M_HEX = (
    "0x1.000000p+0", "0x1.172b84p+0", "0x1.306fe0p+0", "0x1.4bfdaep+0",
    "0x1.6a09e6p+0", "0x1.8ace54p+0", "0x1.ae89fap+0", "0x1.d5818ep+0",
)  # fmt: skip
_KQ4_M = np.array([float.fromhex(h) for h in _KQ4_M_HEX], dtype=np.float32)
assert all(float(m) == float.fromhex(h) for m, h in zip(_KQ4_M, _KQ4_M_HEX))


def _kq4_scale_table() -> np.ndarray:
    """scale(e) = M[e mod 8] x 2^(floor(e / 8) - 28) for every byte e, in binary32. ldexp on a
    binary32 mantissa is exact here: every result (2^-28 .. M[7] x 2^3) is a normal binary32."""
    e = np.arange(256, dtype=np.intc)
    s = np.ldexp(_KQ4_M[e % 8], (e // 8 - 28).astype(np.intc))
    assert s.dtype == np.float32
    return s


_KQ4_SCALE = _kq4_scale_table()

# --------------------------------------------------------------------------------------------
# Metadata (§5)
# --------------------------------------------------------------------------------------------

TAG_BOOL, TAG_INT, TAG_UINT, TAG_FLOAT, TAG_STRING, TAG_BYTES, TAG_ARRAY, TAG_MAP = range(1, 9)
TAG_NAMES = {
    TAG_BOOL: "bool",
    TAG_INT: "int",
    TAG_UINT: "uint",
    TAG_FLOAT: "float",
    TAG_STRING: "string",
    TAG_BYTES: "bytes",
    TAG_ARRAY: "array",
    TAG_MAP: "map",
}
# Smallest possible payload of each tag, used to reject counts before allocating.
_MIN_PAYLOAD = {
    TAG_BOOL: 1,
    TAG_INT: 8,
    TAG_UINT: 8,
    TAG_FLOAT: 8,
    TAG_STRING: 8,
    TAG_BYTES: 8,
    TAG_ARRAY: 9,  # element tag + count
    TAG_MAP: 8,  # count
}
_MIN_MAP_ENTRY = 8 + 1 + 1  # key length, tag, smallest payload
# name length + 1 name byte (non-empty) + type + ndim + offset + stored_length + checksum + compression + filter
_MIN_TENSOR_RECORD = 8 + 1 + 4 + 4 + 8 + 8 + 8 + 1 + 1


@dataclass(slots=True)
class MetaValue:
    """A typed metadata value as stored. For floats `value` is the raw 64-bit pattern (int).
    Arrays: value is a list of MetaValue and `elem_tag` the element tag. Maps: value is a list of
    (key, MetaValue) pairs in file order."""

    tag: int
    value: object
    elem_tag: int | None = None

    def to_python(self):
        t = self.tag
        if t == TAG_FLOAT:
            return struct.unpack("<d", struct.pack("<Q", self.value))[0]
        if t == TAG_ARRAY:
            return [v.to_python() for v in self.value]
        if t == TAG_MAP:
            return {k: v.to_python() for k, v in self.value}
        return self.value

    def to_json(self):
        t = self.tag
        if t == TAG_FLOAT:
            v = format(self.value, "016x")
        elif t == TAG_BYTES:
            v = self.value.hex()
        elif t == TAG_ARRAY:
            v = [e.to_json() for e in self.value]
        elif t == TAG_MAP:
            v = {k: e.to_json() for k, e in self.value}
        else:
            v = self.value
        return {"type": TAG_NAMES[t], "value": v}


# --------------------------------------------------------------------------------------------
# Tensors (§6)
# --------------------------------------------------------------------------------------------


@dataclass
class TensorInfo:
    name: str
    type: str  # element type name, e.g. "f32"
    type_id: int
    shape: tuple
    offset: int
    stored_length: int
    checksum: int
    compression: int
    filter: int
    length: int  # decompressed, unfiltered byte length
    count: int  # number of elements (product of shape, 1 for a scalar)
    record_offset: int = field(default=0, repr=False)  # absolute offset of the record in the file
    offset_field: int = field(default=0, repr=False)  # absolute offset of the record's `offset` field

    @property
    def element_type(self) -> ElementType:
        return ELEMENT_TYPES[self.type_id]

    @property
    def checksum_hex(self) -> str:
        return format(self.checksum, "016x")


_U64 = struct.Struct("<Q")


class _HeaderParser:
    """Bounds-checked cursor over the header bytes; error messages give absolute file offsets."""

    def __init__(self, buf: bytes, base: int):
        self.buf = buf
        self.base = base
        self.pos = 0

    def at(self, pos: int | None = None) -> int:
        return self.base + (self.pos if pos is None else pos)

    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def fail(self, what: str, msg: str, pos: int | None = None):
        raise KilnFormatError(f"{what} at offset {self.at(pos)}: {msg}")

    def need(self, n: int, what: str):
        if n > self.remaining():
            self.fail(what, f"needs {n} bytes but only {self.remaining()} remain in the header")

    def u8(self, what: str) -> int:
        self.need(1, what)
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def u32(self, what: str) -> int:
        self.need(4, what)
        v = int.from_bytes(self.buf[self.pos : self.pos + 4], "little")
        self.pos += 4
        return v

    def u64(self, what: str) -> int:
        self.need(8, what)
        v = int.from_bytes(self.buf[self.pos : self.pos + 8], "little")
        self.pos += 8
        return v

    def i64(self, what: str) -> int:
        self.need(8, what)
        v = int.from_bytes(self.buf[self.pos : self.pos + 8], "little", signed=True)
        self.pos += 8
        return v

    def raw(self, what: str) -> bytes:
        start = self.pos
        n = self.u64(f"{what} length")
        if n > self.remaining():
            self.fail(
                f"{what} length",
                f"{n} bytes but only {self.remaining()} remain in the header",
                start,
            )
        v = self.buf[self.pos : self.pos + n]
        self.pos += n
        return v

    def string(self, what: str) -> str:
        start = self.pos
        b = self.raw(what)
        try:
            return b.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            self.fail(what, f"invalid UTF-8 ({e.reason} at byte {e.start} of the string)", start)

    def count(self, what: str, min_each: int) -> int:
        start = self.pos
        n = self.u64(what)
        if n * min_each > self.remaining():
            self.fail(
                what,
                f"count {n} cannot fit: needs at least {n * min_each} bytes but only "
                f"{self.remaining()} remain in the header",
                start,
            )
        return n

    # ---- metadata ------------------------------------------------------------------------

    def tag(self, what: str) -> int:
        start = self.pos
        t = self.u8(what)
        if t not in TAG_NAMES:
            self.fail(what, f"unknown metadata tag {t}", start)
        return t

    def value(self, tag: int, depth: int, what: str) -> MetaValue:
        """Payload of `tag`. `depth` is the nesting level this value would have if it is a
        container: values of the top-level map are at level 1."""
        start = self.pos
        if tag in (TAG_ARRAY, TAG_MAP) and depth > MAX_NESTING:
            self.fail(what, f"nesting deeper than {MAX_NESTING} levels", start)
        if tag == TAG_BOOL:
            b = self.u8(what)
            if b > 1:
                self.fail(what, f"bool byte {b} (must be 0 or 1)", start)
            return MetaValue(tag, b == 1)
        if tag == TAG_INT:
            return MetaValue(tag, self.i64(what))
        if tag == TAG_UINT:
            return MetaValue(tag, self.u64(what))
        if tag == TAG_FLOAT:
            return MetaValue(tag, self.u64(what))
        if tag == TAG_STRING:
            return MetaValue(tag, self.string(what))
        if tag == TAG_BYTES:
            return MetaValue(tag, bytes(self.raw(what)))
        if tag == TAG_ARRAY:
            et = self.tag(f"{what} element tag")
            n = self.count(f"{what} count", _MIN_PAYLOAD[et])
            if et in (TAG_ARRAY, TAG_MAP):
                items = [self.value(et, depth + 1, f"{what}[{i}]") for i in range(n)]
            else:
                items = self.scalar_array(et, n, what)
            return MetaValue(tag, items, et)
        if tag == TAG_MAP:
            return MetaValue(tag, self.map_entries(what, depth + 1))
        raise AssertionError(tag)

    def scalar_array(self, et: int, n: int, what: str) -> list:
        """Fast path for the elements of an array of a scalar tag (large tokenizer arrays)."""
        buf, pos = self.buf, self.pos
        if et in (TAG_INT, TAG_UINT, TAG_FLOAT):
            self.need(8 * n, f"{what} elements")
            vals = struct.unpack_from(f"<{n}{'q' if et == TAG_INT else 'Q'}", buf, pos)
            self.pos = pos + 8 * n
            return [MetaValue(et, v) for v in vals]
        if et == TAG_BOOL:
            self.need(n, f"{what} elements")
            raw = buf[pos : pos + n]
            for i, b in enumerate(raw):
                if b > 1:
                    self.fail(f"{what}[{i}]", f"bool byte {b} (must be 0 or 1)", pos + i)
            self.pos = pos + n
            return [MetaValue(et, b == 1) for b in raw]
        # strings and byte strings
        end = len(buf)
        unpack = _U64.unpack_from
        out = []
        is_str = et == TAG_STRING
        for i in range(n):
            if pos + 8 > end:
                self.fail(f"{what}[{i}] length", f"needs 8 bytes but only {end - pos} remain in the header", pos)
            (ln,) = unpack(buf, pos)
            if ln > end - pos - 8:
                self.fail(f"{what}[{i}] length", f"{ln} bytes but only {end - pos - 8} remain in the header", pos)
            b = buf[pos + 8 : pos + 8 + ln]
            if is_str:
                try:
                    v = b.decode("utf-8")
                except UnicodeDecodeError as e:
                    self.fail(f"{what}[{i}]", f"invalid UTF-8 ({e.reason} at byte {e.start} of the string)", pos)
            else:
                v = bytes(b)
            out.append(MetaValue(et, v))
            pos += 8 + ln
        self.pos = pos
        return out

    def map_entries(self, what: str, child_depth: int) -> list:
        n = self.count(f"{what} count", _MIN_MAP_ENTRY)
        entries = []
        seen = set()
        for _ in range(n):
            kpos = self.pos
            key = self.string(f"{what} key")
            if key in seen:
                self.fail(f"{what} key {key!r}", "duplicate key", kpos)
            seen.add(key)
            label = f"metadata {key!r}" if what == "metadata" else f"{what}.{key}"
            t = self.tag(f"{label} tag")
            entries.append((key, self.value(t, child_depth, label)))
        return entries


def _checked_mul(a: int, b: int, what: str) -> int:
    r = a * b
    if r > U64_MAX:
        raise KilnFormatError(what)
    return r


class KilnFile:
    """An opened, validated .kiln file. Tensor data is memory-mapped, never read on open."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._cache: dict[str, bytes] = {}
        size = os.stat(self.path).st_size
        self.file_size = size
        if size < PREAMBLE_SIZE:
            raise KilnFormatError(
                f"file at offset 0: {size} bytes, shorter than the {PREAMBLE_SIZE}-byte preamble"
            )
        self._mm = np.memmap(self.path, dtype=np.uint8, mode="r")
        pre = bytes(self._mm[:PREAMBLE_SIZE])
        self._parse_preamble(pre, size)
        header = bytes(self._mm[self.header_offset : self.header_offset + self.header_length])
        actual = xxh64(pre[:56] + header)
        if actual != self.header_checksum:
            raise KilnFormatError(
                f"header_checksum at offset 56: stored {self.header_checksum:016x}, "
                f"computed {actual:016x}"
            )
        self._parse_header(header)
        self._check_placement()

    # ---- preamble (§3) ---------------------------------------------------------------------

    def _parse_preamble(self, pre: bytes, size: int):
        if pre[0:4] != MAGIC:
            raise KilnFormatError(f"magic at offset 0: {pre[0:4].hex()} is not 4b494c4e ('KILN')")
        bom = pre[4:8]
        if bom == BOM_BE:
            raise KilnFormatError(
                "byte_order_mark at offset 4: 0a0b0c0d is a big-endian file; only little-endian is valid"
            )
        if bom != BOM_LE:
            raise KilnFormatError(f"byte_order_mark at offset 4: bytes {bom.hex()} (expected 0d0c0b0a)")
        self.major, self.minor = struct.unpack_from("<HH", pre, 8)
        if self.major != KNOWN_MAJOR:
            raise KilnFormatError(
                f"major_version at offset 8: {self.major} is not supported (this reader knows {KNOWN_MAJOR})"
            )
        (self.flags,) = struct.unpack_from("<I", pre, 12)
        if self.flags != 0:
            raise KilnFormatError(f"flags at offset 12: {self.flags:#x} has bits set (must be 0)")
        self.header_offset, self.header_length = struct.unpack_from("<QQ", pre, 16)
        (self.header_checksum,) = struct.unpack_from("<Q", pre, 56)
        ho, hl = self.header_offset, self.header_length
        if ho < PREAMBLE_SIZE or ho % ALIGN != 0:
            raise KilnFormatError(
                f"header_offset at offset 16: {ho} must be a multiple of {ALIGN} and at least {PREAMBLE_SIZE}"
            )
        if ho > size:
            raise KilnFormatError(f"header_offset at offset 16: {ho} is past the end of the {size}-byte file")
        if ho + hl != size:
            raise KilnFormatError(
                f"header_length at offset 24: header_offset {ho} + header_length {hl} = {ho + hl} "
                f"does not equal the file size {size}"
            )

    @property
    def version(self) -> tuple:
        return (self.major, self.minor)

    # ---- header (§4–§6) --------------------------------------------------------------------

    def _parse_header(self, header: bytes):
        p = _HeaderParser(header, self.header_offset)
        self._meta_entries = p.map_entries("metadata", 1)
        n = p.count("tensor_count", _MIN_TENSOR_RECORD)
        self.tensors: "OrderedDict[str, TensorInfo]" = OrderedDict()
        for i in range(n):
            t = self._parse_record(p, i)
            self.tensors[t.name] = t
        if p.remaining() != 0:
            p.fail("header", f"{p.remaining()} trailing bytes after the last tensor record")

    def _parse_record(self, p: _HeaderParser, index: int) -> TensorInfo:
        rec = p.pos
        what = f"tensor #{index}"
        name = p.string(f"{what} name")
        if name == "":
            p.fail(f"{what} name", "empty tensor name", rec)
        if name in self.tensors:
            p.fail(f"tensor {name!r} name", "duplicate tensor name", rec)
        what = f"tensor {name!r}"
        tpos = p.pos
        type_id = p.u32(f"{what} type")
        if type_id not in ELEMENT_TYPES:
            p.fail(f"{what} type", f"unknown element type id {type_id}", tpos)
        et = ELEMENT_TYPES[type_id]
        npos = p.pos
        ndim = p.u32(f"{what} ndim")
        if ndim > MAX_NDIM:
            p.fail(f"{what} ndim", f"{ndim} dimensions (at most {MAX_NDIM})", npos)
        dpos = p.pos
        dims = tuple(p.u64(f"{what} dims[{k}]") for k in range(ndim))
        # n = product of dims, checked at every step (outermost first).
        n = 1
        for k, d in enumerate(dims):
            n *= d
            if n > U64_MAX:
                p.fail(f"{what} dims", f"element count overflows u64 at dims[{k}] (shape {list(dims)})", dpos)
        if et.is_block:
            if ndim < 1:
                p.fail(f"{what} ndim", f"block type {et.name} needs at least one dimension", npos)
            if dims[-1] % et.block_values != 0:
                p.fail(
                    f"{what} dims",
                    f"innermost dimension {dims[-1]} is not a multiple of the {et.name} block size "
                    f"{et.block_values}",
                    dpos,
                )
            if et.group_rows > 1:  # §7.4: rows padded to whole groups
                rows = 1
                for d in dims[:-1]:
                    rows *= d
                groups = -(-rows // et.group_rows)
                length = groups * et.group_rows * (dims[-1] // et.block_values) * et.block_bytes
            else:
                length = (n // et.block_values) * et.block_bytes
        else:
            length = n * et.block_bytes
        if length > U64_MAX:
            p.fail(f"{what} dims", f"byte length overflows u64 (shape {list(dims)}, type {et.name})", dpos)
        opos = p.pos
        offset = p.u64(f"{what} offset")
        stored_length = p.u64(f"{what} stored_length")
        checksum = p.u64(f"{what} checksum")
        cpos = p.pos
        compression = p.u8(f"{what} compression")
        fpos = p.pos
        filt = p.u8(f"{what} filter")
        if compression not in (0, 1):
            p.fail(f"{what} compression", f"unknown compression {compression}", cpos)
        if filt not in (0, 1):
            p.fail(f"{what} filter", f"unknown filter {filt}", fpos)
        if compression == 0:
            if stored_length != length:
                p.fail(
                    f"{what} stored_length",
                    f"uncompressed tensor stores {stored_length} bytes but its length is {length}",
                    opos + 8,
                )
            if filt != 0:
                p.fail(f"{what} filter", f"filter {filt} on an uncompressed tensor", fpos)
        else:
            if stored_length == 0:
                p.fail(f"{what} stored_length", "compressed tensor with stored_length 0", opos + 8)
        if filt == 1 and (et.is_block or et.block_bytes <= 1):
            p.fail(
                f"{what} filter",
                f"byte-shuffle on type {et.name} (only plain types of more than one byte)",
                fpos,
            )
        return TensorInfo(
            name=name,
            type=et.name,
            type_id=type_id,
            shape=dims,
            offset=offset,
            stored_length=stored_length,
            checksum=checksum,
            compression=compression,
            filter=filt,
            length=length,
            count=n,
            record_offset=self.header_offset + rec,
            offset_field=self.header_offset + opos,
        )

    def _check_placement(self):
        ho = self.header_offset
        spans = []
        for t in self.tensors.values():
            at = f"tensor {t.name!r} offset at offset {t.offset_field}"
            end = t.offset + t.stored_length
            if end > U64_MAX:
                raise KilnFormatError(f"{at}: offset {t.offset} + stored_length {t.stored_length} overflows u64")
            if t.offset < PREAMBLE_SIZE or end > ho:
                raise KilnFormatError(
                    f"{at}: bytes [{t.offset}, {end}) are outside the data section [{PREAMBLE_SIZE}, {ho})"
                )
            if t.offset % ALIGN != 0:
                raise KilnFormatError(f"{at}: offset {t.offset} is not a multiple of {ALIGN}")
            if t.stored_length >= LARGE_TENSOR and t.offset % LARGE_ALIGN != 0:
                raise KilnFormatError(
                    f"{at}: offset {t.offset} of a tensor of {t.stored_length} bytes (>= 1 MiB) "
                    f"is not a multiple of {LARGE_ALIGN}"
                )
            if t.stored_length > 0:
                spans.append((t.offset, end, t))
        spans.sort(key=lambda s: (s[0], s[1]))
        for (s0, e0, t0), (s1, e1, t1) in zip(spans, spans[1:]):
            if s1 < e0:
                raise KilnFormatError(
                    f"tensor {t1.name!r} offset at offset {t1.offset_field}: bytes [{s1}, {e1}) "
                    f"overlap tensor {t0.name!r} bytes [{s0}, {e0})"
                )

    # ---- metadata --------------------------------------------------------------------------

    @property
    def metadata(self) -> dict:
        return {k: v.to_python() for k, v in self._meta_entries}

    @property
    def metadata_typed(self) -> "OrderedDict[str, MetaValue]":
        return OrderedDict(self._meta_entries)

    # ---- tensor data -----------------------------------------------------------------------

    def _info(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"no tensor named {name!r}") from None

    def _stored(self, t: TensorInfo) -> np.ndarray:
        return self._mm[t.offset : t.offset + t.stored_length].view(np.ndarray)

    def raw_bytes(self, name: str) -> memoryview:
        """The tensor's `length` bytes, decompressed and un-filtered (read-only memoryview;
        a zero-copy view into the mapping for uncompressed tensors)."""
        t = self._info(name)
        if t.compression == 0:
            return memoryview(self._stored(t)).toreadonly()
        if name not in self._cache:
            data = self._decompress(t)
            if t.filter == 1:
                data = _unshuffle(data, t.element_type.block_bytes)
            self._cache[name] = data
        return memoryview(self._cache[name]).toreadonly()

    def _decompress(self, t: TensorInfo) -> bytes:
        at = f"tensor {t.name!r} data at offset {t.offset}"
        if _zstd is None:
            raise KilnUnsupportedError(
                f"tensor {t.name!r} is zstd-compressed and the Python module 'zstandard' is not "
                f"installed; it cannot be read (pip install zstandard)"
            )
        src = bytes(self._stored(t))
        try:
            params = _zstd.get_frame_parameters(src)
        except _zstd.ZstdError as e:
            raise KilnFormatError(f"{at}: not a Zstandard frame ({e})") from None
        if params.dict_id != 0:
            raise KilnFormatError(f"{at}: zstd frame needs dictionary {params.dict_id}")
        dctx = _zstd.ZstdDecompressor()
        if params.content_size != U64_MAX:  # content size recorded in the frame header
            if params.content_size != t.length:
                raise KilnFormatError(
                    f"{at}: zstd frame content size {params.content_size} differs from the "
                    f"tensor length {t.length}"
                )
            dobj = dctx.decompressobj()
            try:
                out = dobj.decompress(src)
            except _zstd.ZstdError as e:
                raise KilnFormatError(f"{at}: zstd decompression failed ({e})") from None
        else:
            # No recorded size: decompress in small input steps and stop as soon as the output
            # exceeds `length`, so a hostile frame cannot make us allocate without bound.
            dobj = dctx.decompressobj()
            parts, total = [], 0
            try:
                for i in range(0, len(src), 1024):
                    chunk = dobj.decompress(src[i : i + 1024])
                    total += len(chunk)
                    if total > t.length:
                        break
                    parts.append(chunk)
                    if dobj.eof:
                        break
            except _zstd.ZstdError as e:
                raise KilnFormatError(f"{at}: zstd decompression failed ({e})") from None
            out = b"".join(parts)
            if total > t.length:
                raise KilnFormatError(
                    f"{at}: zstd frame decompresses to more than the tensor length {t.length}"
                )
        if not dobj.eof:
            raise KilnFormatError(f"{at}: zstd frame is truncated")
        if dobj.unused_data:
            raise KilnFormatError(
                f"{at}: {len(dobj.unused_data)} bytes after the zstd frame (must be exactly one frame)"
            )
        if len(out) != t.length:
            raise KilnFormatError(
                f"{at}: zstd frame decompresses to {len(out)} bytes, tensor length is {t.length}"
            )
        return out

    def array(self, name: str, bf16: str = "uint16") -> np.ndarray:
        """The tensor as a numpy array of its stored type and shape (plain types only).
        bf16 is returned as its uint16 bit patterns, or upcast exactly with bf16="float32".
        bool is returned as numpy bool (non-zero byte = True). Uncompressed tensors are
        read-only views into the mapping."""
        t = self._info(name)
        et = t.element_type
        if et.is_block:
            raise TypeError(f"tensor {name!r} has block type {et.name}; use dequantize()")
        raw = self.raw_bytes(name)
        a = np.frombuffer(raw, dtype=np.dtype(et.dtype)).reshape(t.shape)
        if et.name == "bool":
            return a != 0
        if et.name == "bf16" and bf16 == "float32":
            return _bf16_to_f32(a)
        if et.name == "bf16" and bf16 != "uint16":
            raise ValueError("bf16 must be 'uint16' or 'float32'")
        return a

    def dequantize(self, name: str) -> np.ndarray:
        """The tensor as float32, for every element type (quantised blocks decoded per §7.1–§7.4)."""
        t = self._info(name)
        et = t.element_type
        if not et.is_block:
            if et.name == "bf16":
                return self.array(name, bf16="float32")
            return self.array(name).astype(np.float32)
        if et.group_rows > 1:
            blocks = _ungroup(et, self.raw_bytes(name), t.shape)
            return _dequantize_blocks(et.base, blocks).reshape(t.shape)
        blocks = np.frombuffer(self.raw_bytes(name), dtype=_BLOCK_DTYPES[et.name])
        return _dequantize_blocks(et.name, blocks).reshape(t.shape)

    def checksum_ok(self, name: str) -> bool:
        t = self._info(name)
        return xxh64(self.raw_bytes(name)) == t.checksum

    def verify(self) -> None:
        """Check every tensor checksum; raise KilnFormatError naming every mismatch."""
        bad = []
        for t in self.tensors.values():
            actual = xxh64(self.raw_bytes(t.name))
            if actual != t.checksum:
                bad.append(
                    f"tensor {t.name!r} data at offset {t.offset}: checksum stored "
                    f"{t.checksum:016x}, computed {actual:016x}"
                )
        if bad:
            raise KilnFormatError("; ".join(bad))

    def close(self):
        self._cache.clear()
        mm = getattr(self, "_mm", None)
        self._mm = None
        if mm is not None and getattr(mm, "_mmap", None) is not None:
            try:
                mm._mmap.close()
            except (BufferError, ValueError):
                pass  # views still alive; the mapping closes when they are collected

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _unshuffle(data: bytes, s: int) -> bytes:
    """Undo byte-shuffle: filtered[p*n + i] = original[i*s + p]."""
    n = len(data) // s
    return np.frombuffer(data, dtype=np.uint8).reshape(s, n).T.tobytes()


def _bf16_to_f32(a: np.ndarray) -> np.ndarray:
    return (a.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _dequantize_kq4(b: np.ndarray) -> np.ndarray:
    """kq4 blocks (§7.3): element j is grid[level] x scale(e), one binary32 multiplication
    (round to nearest even), e = e0 for j < 16 and e1 otherwise. Arrays are indexed [block, j]."""
    qs = b["qs"]
    level = np.concatenate([qs & 15, qs >> 4], axis=1)  # j < 16: low nibble of qs[j]; j >= 16: high of qs[j-16]
    e = np.concatenate([np.repeat(b["e0"][:, None], 16, axis=1), np.repeat(b["e1"][:, None], 16, axis=1)], axis=1)
    out = _KQ4_GRID[level] * _KQ4_SCALE[e]  # float32 x float32 -> float32
    assert out.dtype == np.float32
    return out


def _ungroup(et: ElementType, data: bytes, shape: tuple) -> np.ndarray:
    """§7.4: reassemble the base blocks of an interleaved tensor, row-major, padding dropped."""
    g = et.group_rows
    k = shape[-1] if shape else 0
    rows = 1
    for d in shape[:-1]:
        rows *= d
    columns = k // et.block_values
    groups = -(-rows // g)
    header = 4 if et.base in ("q4_1", "q5_1") else 2  # bytes of 2-byte fields in one base block
    quant = et.block_bytes - header
    raw = np.frombuffer(data, dtype=np.uint8).reshape(groups, columns, g * et.block_bytes)
    base = np.empty((groups, g, columns, et.block_bytes), dtype=np.uint8)
    for f in range(header // 2):  # field f of row i is at 2*g*f + 2*i
        fields = raw[:, :, 2 * g * f : 2 * g * (f + 1)].reshape(groups, columns, g, 2)
        base[:, :, :, 2 * f : 2 * f + 2] = fields.transpose(0, 2, 1, 3)
    chunks = raw[:, :, header * g :].reshape(groups, columns, quant // 4, g, 4)  # [chunk][row][4]
    base[:, :, :, header:] = chunks.transpose(0, 3, 1, 2, 4).reshape(groups, g, columns, quant)
    flat = base.reshape(groups * g, columns * et.block_bytes)[:rows].tobytes()
    return np.frombuffer(flat, dtype=_BLOCK_DTYPES[et.base])


def _dequantize_blocks(kind: str, b: np.ndarray) -> np.ndarray:
    f32 = np.float32
    if kind == "kq4":
        return _dequantize_kq4(b)
    if kind.endswith("_k"):
        return _dequantize_k(kind, b)
    d = b["d"].astype(f32)[:, None]
    if kind == "q8_0":
        return d * b["q"].astype(f32)
    qs = b["qs"]
    lo = (qs & 15).astype(np.int32)
    hi = (qs >> 4).astype(np.int32)
    q = np.concatenate([lo, hi], axis=1)  # element j<16 from low nibbles, j>=16 from high
    if kind in ("q5_0", "q5_1"):
        qh = b["qh"].astype(np.uint32)[:, None]
        bit4 = ((qh >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int32)
        q = q | (bit4 << 4)
    if kind == "q4_0":
        return d * (q - 8).astype(f32)
    if kind == "q5_0":
        return d * (q - 16).astype(f32)
    m = b["m"].astype(f32)[:, None]
    return d * q.astype(f32) + m  # q4_1, q5_1 (multiply then add, each rounded to f32)


def _dequantize_k(kind: str, b: np.ndarray) -> np.ndarray:
    """K-quant super-blocks of 256 values (§7.2). Arrays are indexed [block, j]."""
    f32 = np.float32
    n_blocks = len(b)
    j = np.arange(256)
    d = b["d"].astype(f32)[:, None]
    if kind == "q8_k":
        return d * b["qs"].astype(f32)
    if kind in ("q2_k", "q3_k", "q6_k"):
        n, i, l = j // 128, (j // 32) % 4, j % 32  # j = 128n + 32i + l
        sub = 8 * n + 2 * i + l // 16
    if kind == "q2_k":
        q = (b["qs"][:, 32 * n + l] >> (2 * i)) & 3
        sc = (b["scales"][:, sub] & 15).astype(f32)
        mn = (b["scales"][:, sub] >> 4).astype(f32)
        return (d * sc) * q.astype(f32) - b["dmin"].astype(f32)[:, None] * mn
    if kind == "q3_k":
        low = ((b["qs"][:, 32 * n + l] >> (2 * i)) & 3).astype(np.int32)
        high_set = (b["hmask"][:, l] >> (4 * n + i)) & 1
        q = np.where(high_set == 1, low, low - 4)
        s = np.arange(16)
        lo4 = (b["scales"][:, s % 8] >> (4 * (s // 8))) & 15
        hi2 = (b["scales"][:, 8 + s % 4] >> (2 * (s // 4))) & 3
        scales = (lo4 | (hi2 << 4)).astype(np.int32) - 32
        return (d * scales[:, sub].astype(f32)) * q.astype(f32)
    if kind == "q6_k":
        low = (b["ql"][:, 64 * n + 32 * (i % 2) + l] >> (4 * (i // 2))) & 15
        high = (b["qh"][:, 32 * n + l] >> (2 * i)) & 3
        q = (low | (high << 4)).astype(np.int32) - 32
        return (d * b["scales"][:, sub].astype(f32)) * q.astype(f32)
    # q4_k, q5_k: j = 64c + 32h + l, sub-block t = 2c + h
    c, h, l = j // 64, (j // 32) % 2, j % 32
    t = 2 * c + h
    qs = b["qs"][:, 32 * c + l]
    q = np.where(h == 0, qs & 15, qs >> 4).astype(np.int32)
    if kind == "q5_k":
        q = q + 16 * ((b["qh"][:, l] >> t) & 1)
    sc_bytes = b["scales"].astype(np.int32)
    sc = np.empty((n_blocks, 8), dtype=np.int32)
    mn = np.empty((n_blocks, 8), dtype=np.int32)
    for k in range(8):
        if k < 4:
            sc[:, k] = sc_bytes[:, k] & 63
            mn[:, k] = sc_bytes[:, k + 4] & 63
        else:
            sc[:, k] = (sc_bytes[:, k + 4] & 15) | ((sc_bytes[:, k - 4] >> 6) << 4)
            mn[:, k] = (sc_bytes[:, k + 4] >> 4) | ((sc_bytes[:, k] >> 6) << 4)
    dmin = b["dmin"].astype(f32)[:, None]
    return (d * sc[:, t].astype(f32)) * q.astype(f32) - dmin * mn[:, t].astype(f32)


def read(path) -> KilnFile:
    """Open and validate a .kiln file (preamble, header checksum, header, tensor placement)."""
    return KilnFile(path)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _to_json(f: KilnFile, with_data: bool) -> tuple[dict, list]:
    problems = []
    tensors = []
    for t in f.tensors.values():
        entry = {
            "name": t.name,
            "type": t.type,
            "shape": list(t.shape),
            "offset": t.offset,
            "stored_length": t.stored_length,
            "compression": t.compression,
            "filter": t.filter,
            "checksum": t.checksum_hex,
        }
        try:
            raw = f.raw_bytes(t.name)
            entry["checksum_ok"] = xxh64(raw) == t.checksum
            if with_data:
                entry["hex"] = raw.hex()
        except KilnUnsupportedError as e:
            entry["checksum_ok"] = None
            entry["error"] = str(e)
            problems.append(str(e))
        tensors.append(entry)
    obj = {
        "major": f.major,
        "minor": f.minor,
        "metadata": {k: v.to_json() for k, v in f._meta_entries},
        "tensors": tensors,
    }
    return obj, problems


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="kiln_read", description="Independent .kiln reader")
    ap.add_argument("file")
    ap.add_argument("--json", action="store_true", help="print the file as one JSON object")
    ap.add_argument("--no-data", action="store_true", help="omit tensor bytes ('hex') from the JSON")
    ap.add_argument("--verify", action="store_true", help="check every tensor checksum")
    args = ap.parse_args(argv)
    try:
        f = read(args.file)
        if args.json:
            obj, problems = _to_json(f, not args.no_data)
            sys.stdout.write(json.dumps(obj) + "\n")
            for p in problems:
                print(f"kiln_read: {p}", file=sys.stderr)
            return 2 if problems else 0
        if args.verify:
            f.verify()
        print(f"kiln {f.major}.{f.minor}: {len(f._meta_entries)} metadata keys, {len(f.tensors)} tensors")
        for t in f.tensors.values():
            print(f"  {t.name}: {t.type} {list(t.shape)} @{t.offset} +{t.stored_length}"
                  f" c={t.compression} f={t.filter} xxh64={t.checksum_hex}")
        return 0
    except KilnFormatError as e:
        print(f"kiln_read: {e}", file=sys.stderr)
        return 1
    except KilnUnsupportedError as e:
        print(f"kiln_read: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"kiln_read: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
