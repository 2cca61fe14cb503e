#!/usr/bin/env python3
"""Self-test for Tools/kiln_read.py.

No Kiln writer is used: the test carries its own minimal writer, written from docs/FORMAT.md,
and checks round trips and rejection of corrupt files. Run: python3 Tools/test_kiln_read.py
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

sys.dont_write_bytecode = True  # do not leave Tools/__pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kiln_read as kr  # noqa: E402

try:
    import xxhash  # used only here, to cross-check kiln_read.xxh64 and in the test writer
except ImportError:  # pragma: no cover
    xxhash = None

try:
    import zstandard
except ImportError:  # pragma: no cover
    zstandard = None

READER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kiln_read.py")

# ------------------------------------------------------------------------------------------
# A minimal writer, from the spec
# ------------------------------------------------------------------------------------------

TAGS = {"bool": 1, "int": 2, "uint": 3, "float": 4, "string": 5, "bytes": 6, "array": 7, "map": 8}
TYPE_IDS = {
    "f32": 0, "f16": 1, "bf16": 2, "f64": 3, "i8": 16, "i16": 17, "i32": 18, "i64": 19,
    "u8": 20, "u16": 21, "u32": 22, "u64": 23, "bool": 24,
    "q8_0": 64, "q4_0": 65, "q4_1": 66, "q5_0": 67, "q5_1": 68, "kq4": 72,
}  # fmt: skip


def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def sized(b): return u64(len(b)) + b
def string(s): return sized(s.encode("utf-8") if isinstance(s, str) else s)


def hash64(b: bytes) -> int:
    return xxhash.xxh64_intdigest(b) if xxhash else kr.xxh64(b)


def payload(v) -> bytes:
    """v is a typed tuple: (kind, value) or ("array", elem_kind, [typed...]) or ("map", [(k, typed)...]).
    ("floatbits", int) writes tag 4 with an explicit bit pattern."""
    kind = v[0]
    if kind == "bool":
        return u8(v[1] if isinstance(v[1], int) and not isinstance(v[1], bool) else int(v[1]))
    if kind == "int":
        return struct.pack("<q", v[1])
    if kind == "uint":
        return u64(v[1])
    if kind == "float":
        return struct.pack("<d", v[1])
    if kind == "floatbits":
        return u64(v[1])
    if kind == "string":
        return string(v[1])
    if kind == "bytes":
        return sized(v[1])
    if kind == "array":
        return u8(TAGS[v[1]]) + u64(len(v[2])) + b"".join(payload(e) for e in v[2])
    if kind == "map":
        return u64(len(v[1])) + b"".join(entry(k, e) for k, e in v[1])
    raise ValueError(kind)


def tag_of(v) -> int:
    return TAGS["float"] if v[0] == "floatbits" else TAGS[v[0]]


def entry(key, v) -> bytes:
    return string(key) + u8(tag_of(v)) + payload(v)


def shuffle(b: bytes, s: int) -> bytes:
    n = len(b) // s
    return np.frombuffer(b, np.uint8).reshape(n, s).T.tobytes()


def record(name, type_id, dims, offset, stored_length, checksum, compression, filter, ndim=None):
    return (
        string(name) + u32(type_id) + u32(len(dims) if ndim is None else ndim)
        + b"".join(u64(d) for d in dims)
        + u64(offset) + u64(stored_length) + u64(checksum) + u8(compression) + u8(filter)
    )  # fmt: skip


def round_up(x, a):
    return (x + a - 1) // a * a


def build(meta=(), tensors=(), *, magic=b"KILN", bom=b"\x0d\x0c\x0b\x0a", major=1, minor=0,
          flags=0, reserved=bytes(24), meta_raw=None, tensor_count=None, trailing=b"",
          fixup=None, header_offset_delta=0):
    """Build a .kiln file. tensors: dicts with name, type, shape, data (original bytes) and
    optional compression, filter, zstd_kwargs, stored (override stored bytes). fixup(records)
    may mutate the record dicts before they are encoded."""
    data = bytearray(64)
    recs = []
    for t in tensors:
        raw = bytes(t["data"])
        et = kr.ELEMENT_TYPES[TYPE_IDS[t["type"]]] if t["type"] in TYPE_IDS else None
        stored = raw
        if t.get("filter"):
            stored = shuffle(stored, et.block_bytes)
        if t.get("compression"):
            stored = zstandard.ZstdCompressor(**t.get("zstd_kwargs", {})).compress(stored)
        if "stored" in t:
            stored = t["stored"]
        align = 16384 if len(stored) >= 1 << 20 else 64
        off = round_up(len(data), align)
        data += bytes(off - len(data)) + stored
        recs.append(dict(name=t["name"], type_id=TYPE_IDS.get(t["type"], t.get("type_id")),
                         dims=list(t["shape"]), offset=off, stored_length=len(stored),
                         checksum=hash64(raw), compression=t.get("compression", 0),
                         filter=t.get("filter", 0)))
    if fixup:
        fixup(recs)
    ho = round_up(len(data), 64) + header_offset_delta
    data += bytes(max(0, ho - len(data)))
    del data[ho:]
    md = meta_raw if meta_raw is not None else u64(len(meta)) + b"".join(entry(k, v) for k, v in meta)
    header = (md + u64(len(recs) if tensor_count is None else tensor_count)
              + b"".join(record(**r) for r in recs) + trailing)
    pre = magic + bom + u16(major) + u16(minor) + u32(flags) + u64(ho) + u64(len(header)) + reserved
    assert len(pre) == 56
    return pre + u64(hash64(pre + header)) + bytes(data[64:]) + header


def t_(name, arr, type_name=None, **kw):
    """A tensor dict from a numpy array (stored little-endian)."""
    a = np.asarray(arr)
    return dict(name=name, type=type_name, shape=a.shape, data=a.astype(a.dtype.newbyteorder("<")).tobytes(), **kw)


# ------------------------------------------------------------------------------------------
# Reference dequantisation, written from the §7.1 formulas one element at a time
# ------------------------------------------------------------------------------------------


def f16(b, o):
    return float(np.frombuffer(b[o:o + 2], "<f2")[0])


def ref_dequant_block(kind, blk):
    out = []
    F = np.float32
    if kind == "q8_0":
        d = F(f16(blk, 0))
        return [d * F(struct.unpack_from("b", blk, 2 + j)[0]) for j in range(32)]
    if kind in ("q4_0", "q4_1"):
        d = F(f16(blk, 0))
        m = F(f16(blk, 2)) if kind == "q4_1" else None
        qs = blk[4:20] if kind == "q4_1" else blk[2:18]
        for j in range(32):
            q = qs[j] & 15 if j < 16 else qs[j - 16] >> 4
            out.append(d * F(q - 8) if kind == "q4_0" else d * F(q) + m)
        return out
    d = F(f16(blk, 0))
    if kind == "q5_0":
        qh = struct.unpack_from("<I", blk, 2)[0]
        qs = blk[6:22]
    else:
        m = F(f16(blk, 2))
        qh = struct.unpack_from("<I", blk, 4)[0]
        qs = blk[8:24]
    for j in range(32):
        q = (qs[j] & 15 if j < 16 else qs[j - 16] >> 4) | (((qh >> j) & 1) << 4)
        out.append(d * F(q - 16) if kind == "q5_0" else d * F(q) + m)
    return out


def h16(x):
    return np.float16(x).tobytes()


# ------------------------------------------------------------------------------------------
# kq4 (§7.3): a writer and a per-element reference, both from the spec text
# ------------------------------------------------------------------------------------------

KQ4_GRID = [-127, -102, -82, -64, -48, -34, -20, -6, 6, 20, 34, 48, 64, 82, 102, 127]
KQ4_M = [float.fromhex(h) for h in ("0x1.000000p+0", "0x1.172b84p+0", "0x1.306fe0p+0", "0x1.4bfdaep+0",
                                    "0x1.6a09e6p+0", "0x1.8ace54p+0", "0x1.ae89fap+0", "0x1.d5818ep+0")]


def kq4_block(e0: int, e1: int, levels) -> bytes:
    """One 18-byte kq4 block: e0, e1, then qs[i] = level[i] | level[i + 16] << 4."""
    assert len(levels) == 32 and all(0 <= v < 16 for v in levels)
    return bytes([e0, e1]) + bytes(levels[i] | (levels[i + 16] << 4) for i in range(16))


def to_f32(x: float) -> float:
    """Round a Python float (binary64) to binary32, nearest even, via struct."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def ref_kq4_block(blk: bytes) -> list:
    """Element by element, in Python floats: scale(e) is exact in binary64 (math.ldexp of a
    24-bit mantissa), grid x scale is exact in binary64 (7 x 24 bits < 53), so one rounding to
    binary32 gives the correctly rounded binary32 product."""
    out = []
    for j in range(32):
        e = blk[0] if j < 16 else blk[1]
        level = blk[2 + j] & 15 if j < 16 else blk[2 + j - 16] >> 4
        scale = math.ldexp(KQ4_M[e % 8], e // 8 - 28)
        assert to_f32(scale) == scale  # a binary32, as §7.3 says
        out.append(to_f32(KQ4_GRID[level] * scale))
    return out


# ------------------------------------------------------------------------------------------


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.n = 0

    def tearDown(self):
        self.dir.cleanup()

    def write(self, blob: bytes) -> str:
        self.n += 1
        p = os.path.join(self.dir.name, f"f{self.n}.kiln")
        with open(p, "wb") as f:
            f.write(blob)
        return p

    def open(self, blob):
        return kr.read(self.write(blob))

    def reject(self, blob, *needles):
        with self.assertRaises(kr.KilnFormatError) as cm:
            self.open(blob)
        msg = str(cm.exception)
        for n in needles:
            self.assertIn(n, msg)
        self.assertRegex(msg, r"offset \d+")
        return msg

    def cli(self, path, *args):
        return subprocess.run([sys.executable, READER, path, *args], capture_output=True, text=True)


class TestXXH64(unittest.TestCase):
    def test_known_values(self):
        self.assertEqual(kr.xxh64(b""), 0xEF46DB3751D8E999)
        self.assertEqual(kr.xxh64(b"a"), 0xD24EC4F1A98C6E5B)

    @unittest.skipIf(xxhash is None, "xxhash not installed")
    def test_cross_check(self):
        rng = np.random.default_rng(1)
        for n in list(range(0, 130)) + [255, 256, 1000, 4096 + 7, 100_003]:
            b = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            for seed in (0, 1, 2**64 - 1):
                self.assertEqual(kr.xxh64(b, seed), xxhash.xxh64_intdigest(b, seed), (n, seed))
        arr = np.arange(1000, dtype=np.float32)[::1]
        self.assertEqual(kr.xxh64(arr), xxhash.xxh64_intdigest(arr.tobytes()))


class TestMetadata(Base):
    META = [
        ("b.false", ("bool", False)),
        ("b.true", ("bool", True)),
        ("i.min", ("int", -(2**63))),
        ("i.max", ("int", 2**63 - 1)),
        ("i.neg", ("int", -5)),
        ("u.max", ("uint", 2**64 - 1)),
        ("u.zero", ("uint", 0)),
        ("f.one", ("float", 1.5)),
        ("f.negzero", ("float", -0.0)),
        ("f.inf", ("float", math.inf)),
        ("f.nan", ("floatbits", 0x7FF8000000000123)),
        ("s.empty", ("string", "")),
        ("s.uni", ("string", "héllo ✓ 😀\x00nul")),
        ("by.empty", ("bytes", b"")),
        ("by.data", ("bytes", b"\x00\xff\x10")),
        ("a.empty", ("array", "bool", [])),
        ("a.empty_str", ("array", "string", [])),
        ("a.ints", ("array", "int", [("int", 1), ("int", -2), ("int", 3)])),
        ("a.strs", ("array", "string", [("string", "a b"), ("string", "")])),
        ("a.arrays", ("array", "array", [
            ("array", "uint", [("uint", 7)]),
            ("array", "string", [("string", "x")]),
            ("array", "bool", []),
        ])),
        ("a.maps", ("array", "map", [("map", [("name", ("string", "f.bin")), ("bytes", ("uint", 9))]),
                                     ("map", [])])),
        ("m.nested", ("map", [("inner", ("map", [("x", ("float", 2.0)), ("deep", ("array", "map", [("map", [("k", ("bytes", b"z"))])]))])),
                              ("empty", ("map", []))])),
        ("ключ", ("string", "unicode key")),
        ("", ("string", "empty key")),
    ]  # fmt: skip

    def test_round_trip(self):
        p = self.write(build(self.META))
        f = kr.read(p)
        md = f.metadata
        self.assertEqual(f.version, (1, 0))
        self.assertIs(md["b.false"], False)
        self.assertIs(md["b.true"], True)
        self.assertEqual(md["i.min"], -(2**63))
        self.assertEqual(md["i.max"], 2**63 - 1)
        self.assertEqual(md["u.max"], 2**64 - 1)
        self.assertEqual(md["f.one"], 1.5)
        self.assertEqual(math.copysign(1, md["f.negzero"]), -1.0)
        self.assertEqual(md["f.inf"], math.inf)
        self.assertTrue(math.isnan(md["f.nan"]))
        self.assertEqual(md["s.uni"], "héllo ✓ 😀\x00nul")
        self.assertEqual(md["by.empty"], b"")
        self.assertEqual(md["by.data"], b"\x00\xff\x10")
        self.assertEqual(md["a.empty"], [])
        self.assertEqual(md["a.ints"], [1, -2, 3])
        self.assertEqual(md["a.arrays"], [[7], ["x"], []])
        self.assertEqual(md["a.maps"], [{"name": "f.bin", "bytes": 9}, {}])
        self.assertEqual(md["m.nested"], {"inner": {"x": 2.0, "deep": [{"k": b"z"}]}, "empty": {}})
        self.assertEqual(md["ключ"], "unicode key")
        self.assertEqual(md[""], "empty key")
        self.assertEqual(len(f.tensors), 0)

        r = self.cli(p, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual((j["major"], j["minor"], j["tensors"]), (1, 0, []))
        m = j["metadata"]
        self.assertEqual(m["b.true"], {"type": "bool", "value": True})
        self.assertEqual(m["i.min"], {"type": "int", "value": -(2**63)})
        self.assertEqual(m["u.max"], {"type": "uint", "value": 2**64 - 1})
        self.assertEqual(m["f.one"], {"type": "float", "value": "3ff8000000000000"})
        self.assertEqual(m["f.negzero"]["value"], "8000000000000000")
        self.assertEqual(m["f.inf"]["value"], "7ff0000000000000")
        self.assertEqual(m["f.nan"]["value"], "7ff8000000000123")
        self.assertEqual(m["by.data"], {"type": "bytes", "value": "00ff10"})
        self.assertEqual(m["a.empty"], {"type": "array", "value": []})
        self.assertEqual(m["a.arrays"]["value"][1], {"type": "array", "value": [{"type": "string", "value": "x"}]})
        self.assertEqual(m["m.nested"]["value"]["inner"]["value"]["deep"]["value"][0],
                         {"type": "map", "value": {"k": {"type": "bytes", "value": "7a"}}})
        self.assertEqual(m[""], {"type": "string", "value": "empty key"})

    def nest(self, levels):
        """`levels` containers, alternating map and array, around a uint."""
        v = ("uint", 1)
        for i in range(levels):
            v = ("map", [("k", v)]) if i % 2 == 0 else ("array", v[0], [v])
        return v

    def test_nesting_limit(self):
        self.open(build([("deep", self.nest(32))]))  # 32 container levels: accepted
        self.reject(build([("deep", self.nest(33))]), "nesting")
        # arrays only
        v = ("array", "uint", [("uint", 1)])
        for _ in range(31):
            v = ("array", "array", [v])
        self.open(build([("a", v)]))
        self.reject(build([("a", ("array", "array", [v]))]), "nesting")

    def test_rejections(self):
        self.reject(build([("k", ("bool", 2))]), "bool byte 2", "'k'")
        self.reject(build([("k", ("array", "bool", [("bool", 1), ("bool", 255)]))]), "bool byte 255")
        self.reject(build([("k", ("uint", 1)), ("k", ("uint", 2))]), "duplicate", "'k'")
        self.reject(build([("m", ("map", [("x", ("int", 1)), ("x", ("int", 1))]))]), "duplicate")
        self.reject(build(meta_raw=u64(1) + string("k") + u8(9) + u64(0)), "unknown metadata tag 9")
        self.reject(build(meta_raw=u64(1) + string("k") + u8(0)), "unknown metadata tag 0")
        self.reject(build(meta_raw=u64(1) + string("k") + u8(7) + u8(0) + u64(0)), "unknown metadata tag 0")
        self.reject(build(meta_raw=u64(1) + sized(b"\xff\xfe") + u8(1) + u8(0)), "invalid UTF-8")
        self.reject(build([("k", ("string", b"\xed\xa0\x80"))]), "invalid UTF-8")  # surrogate
        self.reject(build([("k", ("string", b"\xc0\xaf"))]), "invalid UTF-8")  # overlong
        self.reject(build(meta_raw=u64(1) + string("k") + u8(2) + b"\x01\x02"), "remain")
        self.reject(build(trailing=b"\x00"), "trailing")

    def test_absurd_counts_fail_fast(self):
        cases = [
            build(meta_raw=u64(2**60)),
            build(meta_raw=u64(2**64 - 1)),
            build(meta_raw=u64(1) + string("k") + u8(5) + u64(2**62)),
            build(meta_raw=u64(1) + string("k") + u8(6) + u64(2**64 - 1)),
            build(meta_raw=u64(1) + string("k") + u8(7) + u8(1) + u64(2**60)),
            build(meta_raw=u64(1) + string("k") + u8(7) + u8(2) + u64(100)),  # 100 ints, 800 bytes
            build(meta_raw=u64(1) + string("k") + u8(8) + u64(2**60)),
            build(meta_raw=u64(1) + u64(2**63) + b"k"),  # key length
            build(tensor_count=2**60),
            build(tensor_count=2**64 - 1),
        ]
        for blob in cases:
            t0 = time.monotonic()
            msg = self.reject(blob)
            self.assertLess(time.monotonic() - t0, 0.5, msg)
            self.assertTrue("cannot fit" in msg or "remain" in msg, msg)
        # records whose dims count is absurd
        rec = string("t") + u32(0) + u32(2**32 - 1)
        t0 = time.monotonic()
        self.reject(self._raw_header(u64(0) + u64(1) + rec + bytes(40)), "dimensions")
        self.assertLess(time.monotonic() - t0, 0.5)

    def _raw_header(self, header: bytes) -> bytes:
        pre = b"KILN" + b"\x0d\x0c\x0b\x0a" + u16(1) + u16(0) + u32(0) + u64(64) + u64(len(header)) + bytes(24)
        return pre + u64(hash64(pre + header)) + header


class TestTensors(Base):
    def test_plain_types(self):
        rng = np.random.default_rng(7)
        arrays = {
            "f32": rng.standard_normal((3, 5, 7)).astype(np.float32),
            "f16": rng.standard_normal((13,)).astype(np.float16),
            "f64": np.array([math.pi, -0.0, math.inf, math.nan]),
            "i8": np.array([[-128, 127, 0]], np.int8),
            "i16": np.array([-32768, 32767], np.int16),
            "i32": rng.integers(-2**31, 2**31, (2, 2, 2), dtype=np.int32),
            "i64": np.array([-(2**63), 2**63 - 1], np.int64),
            "u8": np.arange(256, dtype=np.uint8).reshape(16, 16),
            "u16": np.array([0, 65535], np.uint16),
            "u32": np.array([2**32 - 1], np.uint32),
            "u64": np.array([2**64 - 1, 0, 5], np.uint64),
        }
        tensors = [t_(k, v, k) for k, v in arrays.items()]
        bf = np.array([0x3F80, 0xC000, 0x7F80, 0x0001], np.uint16)  # 1, -2, inf, tiny
        tensors.append(t_("bf16", bf, "bf16"))
        tensors.append(dict(name="bool", type="bool", shape=(2, 3), data=bytes([0, 1, 2, 255, 0, 0])))
        tensors.append(t_("scalar", np.array(2.5, np.float32), "f32"))
        tensors.append(t_("empty", np.zeros((0,), np.float32), "f32"))
        tensors.append(t_("empty3", np.zeros((3, 0, 2), np.int16), "i16"))
        tensors.append(t_("eight_dims", np.arange(16, dtype=np.int32).reshape(1, 2, 1, 2, 1, 2, 1, 2), "i32"))
        tensors.append(t_("odd", rng.standard_normal((1, 3, 1, 17)).astype(np.float32), "f32"))
        p = self.write(build([("general.name", ("string", "t"))], tensors))
        f = kr.read(p)
        self.assertEqual(list(f.tensors), [t["name"] for t in tensors])
        for k, v in arrays.items():
            a = f.array(k)
            self.assertEqual(a.dtype, v.dtype.newbyteorder("<"), k)
            self.assertEqual(a.shape, v.shape, k)
            np.testing.assert_array_equal(a, v, err_msg=k)
            self.assertEqual(f.tensors[k].type, k)
            np.testing.assert_array_equal(f.dequantize(k), v.astype(np.float32), err_msg=k)
        np.testing.assert_array_equal(f.array("bf16"), bf)
        np.testing.assert_array_equal(f.array("bf16", bf16="float32"), np.array([1, -2, np.inf, 2**-133], np.float32))
        np.testing.assert_array_equal(f.dequantize("bf16"), np.array([1, -2, np.inf, 2**-133], np.float32))
        np.testing.assert_array_equal(f.array("bool"), [[False, True, True], [True, False, False]])
        self.assertEqual(f.array("scalar").shape, ())
        self.assertEqual(float(f.array("scalar")), 2.5)
        self.assertEqual(f.tensors["scalar"].shape, ())
        self.assertEqual(f.array("empty").shape, (0,))
        self.assertEqual(f.array("empty3").shape, (3, 0, 2))
        self.assertEqual(f.tensors["empty"].stored_length, 0)
        self.assertEqual(f.tensors["empty"].checksum, 0xEF46DB3751D8E999)
        self.assertEqual(f.array("eight_dims").shape, (1, 2, 1, 2, 1, 2, 1, 2))
        self.assertEqual(f.array("odd").shape, (1, 3, 1, 17))
        f.verify()
        for t in f.tensors.values():
            self.assertEqual(t.offset % 64, 0)
        # data is a view into the mapping, not a copy
        self.assertFalse(f.array("f32").flags.writeable)

        r = self.cli(p, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual([t["name"] for t in j["tensors"]], list(f.tensors))
        by = {t["name"]: t for t in j["tensors"]}
        self.assertEqual(by["f32"]["hex"], arrays["f32"].tobytes().hex())
        self.assertEqual(by["bool"]["hex"], "000102ff0000")
        self.assertEqual(by["empty"]["hex"], "")
        self.assertEqual(by["scalar"]["shape"], [])
        self.assertEqual(by["empty"]["checksum"], "ef46db3751d8e999")
        self.assertTrue(all(t["checksum_ok"] for t in j["tensors"]))
        self.assertEqual(by["u8"]["type"], "u8")
        self.assertEqual(set(by["u8"]), {"name", "type", "shape", "offset", "stored_length", "compression",
                                         "filter", "checksum", "checksum_ok", "hex"})
        r = self.cli(p, "--json", "--no-data")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("hex", json.loads(r.stdout)["tensors"][0])

    def test_large_tensor_page_aligned(self):
        big = np.arange(300_000, dtype=np.float32)  # 1.2 MB
        blob = build(tensors=[t_("small", np.ones(3, np.float32), "f32"), t_("big", big, "f32")])
        f = self.open(blob)
        self.assertEqual(f.tensors["big"].offset % 16384, 0)
        np.testing.assert_array_equal(f.array("big"), big)

        def misalign(recs):
            recs[1]["offset"] -= 64  # still 64-aligned, not 16 KiB aligned, no overlap with "small"
        self.reject(build(tensors=[t_("small", np.ones(3, np.float32), "f32"), t_("big", big, "f32")],
                          fixup=misalign), "'big'", "16384")

    def test_quantised_hand_computed(self):
        # q8_0: two rows of 64 -> 4 blocks
        q = np.arange(-64, 64, dtype=np.int8)  # 128 values
        ds = [0.5, -2.0, 0.25, 1.0]
        blocks = b"".join(h16(ds[i]) + q[i * 32:(i + 1) * 32].tobytes() for i in range(4))
        # q4_0: d = 0.25, qs[j] = j | (15 - j) << 4
        q40 = h16(0.25) + bytes(j | ((15 - j) << 4) for j in range(16))
        exp40 = [-2.0, -1.75, -1.5, -1.25, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75,
                 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25, 0.0, -0.25, -0.5, -0.75, -1.0, -1.25, -1.5, -1.75, -2.0]
        # q4_1: d = 0.5, m = -1, qs[j] = j | j << 4
        q41 = h16(0.5) + h16(-1.0) + bytes(j | (j << 4) for j in range(16))
        exp41 = [0.5 * j - 1 for j in range(16)] * 2
        # q5_0: d = 1, qh = bits 0 and 31, qs[15] = 0xF3, rest 0
        q50 = h16(1.0) + u32(0x80000001) + bytes(15) + b"\xf3"
        exp50 = [0.0] + [-16.0] * 14 + [3 - 16.0] + [-16.0] * 15 + [15.0]
        # q5_1: d = 2, m = 0.5, qh = high 16 bits set, qs[0] = 0x21
        q51 = h16(2.0) + h16(0.5) + u32(0xFFFF0000) + b"\x21" + bytes(15)
        exp51 = [2.5] + [0.5] * 15 + [36.5] + [32.5] * 15
        tensors = [
            dict(name="q8", type="q8_0", shape=(2, 64), data=blocks),
            dict(name="q40", type="q4_0", shape=(32,), data=q40),
            dict(name="q41", type="q4_1", shape=(1, 32), data=q41),
            dict(name="q50", type="q5_0", shape=(32,), data=q50),
            dict(name="q51", type="q5_1", shape=(32,), data=q51),
            dict(name="q8empty", type="q8_0", shape=(0, 32), data=b""),
        ]
        f = self.open(build(tensors=tensors))
        d8 = f.dequantize("q8")
        self.assertEqual((d8.shape, d8.dtype), ((2, 64), np.float32))
        self.assertEqual(d8[0, 0], 0.5 * -64)
        self.assertEqual(d8[0, 31], 0.5 * -33)
        self.assertEqual(d8[0, 32], -2.0 * -32)
        self.assertEqual(d8[1, 0], 0.25 * 0)
        self.assertEqual(d8[1, 33], 1.0 * 33)
        self.assertEqual(d8[1, 63], 63.0)
        self.assertEqual(f.dequantize("q40").tolist(), exp40)
        self.assertEqual(f.dequantize("q41").tolist(), [exp41])
        self.assertEqual(f.dequantize("q50").tolist(), exp50)
        self.assertEqual(f.dequantize("q51").tolist(), exp51)
        self.assertEqual(f.dequantize("q8empty").shape, (0, 32))
        self.assertEqual(f.tensors["q41"].length, 20)
        with self.assertRaises(TypeError):
            f.array("q8")
        f.verify()

    def test_quantised_random_vs_reference(self):
        rng = np.random.default_rng(3)
        for kind, bb in [("q8_0", 34), ("q4_0", 18), ("q4_1", 20), ("q5_0", 22), ("q5_1", 24)]:
            nblk = 6
            raw = bytearray(rng.integers(0, 256, nblk * bb, dtype=np.uint8).tobytes())
            for i in range(nblk):  # finite scales
                raw[i * bb:i * bb + 2] = h16(rng.standard_normal())
                if kind in ("q4_1", "q5_1"):
                    raw[i * bb + 2:i * bb + 4] = h16(rng.standard_normal())
            f = self.open(build(tensors=[dict(name="w", type=kind, shape=(3, 64), data=bytes(raw))]))
            ref = [x for i in range(nblk) for x in ref_dequant_block(kind, bytes(raw[i * bb:(i + 1) * bb]))]
            got = f.dequantize("w")
            self.assertEqual(got.shape, (3, 64))
            np.testing.assert_array_equal(got.ravel(), np.array(ref, np.float32), err_msg=kind)

    def test_kq4_constants(self):
        # M[k] as printed in §7.3 is the binary32 nearest to 2^(k/8) (checked with 60-digit decimals).
        from decimal import Decimal, getcontext
        getcontext().prec = 60
        for k, m in enumerate(KQ4_M):
            exact = Decimal(2) ** (Decimal(k) / 8) * 2**23  # 1 <= 2^(k/8) < 2: 23 fraction bits
            self.assertEqual(m * 2**23, int(exact.to_integral_value()), k)
            self.assertEqual(to_f32(m), m)
        self.assertEqual(kr.ELEMENT_TYPES[72].name, "kq4")
        self.assertEqual((kr.ELEMENT_TYPES[72].block_values, kr.ELEMENT_TYPES[72].block_bytes), (32, 18))

    def test_kq4_hand_computed(self):
        # e0 = 224: scale 2^0 = 1 exactly; e1 = 8: scale 2^-27. levels 0..15, then 15..0.
        levels = list(range(16)) + list(range(15, -1, -1))
        blk = kq4_block(224, 8, levels)
        self.assertEqual(blk[2], 0xF0)  # qs[0]: level 0 low, level 15 high
        exp = [float(g) for g in KQ4_GRID] + [math.ldexp(g, -27) for g in reversed(KQ4_GRID)]
        # named exponents with level 15 (127) and level 7 (-6)
        named = kq4_block(0, 7, [15] * 16 + [7] * 16) + kq4_block(223, 255, [15] * 16 + [7] * 16)
        f = self.open(build(tensors=[dict(name="k", type="kq4", shape=(32,), data=blk),
                                     dict(name="n", type="kq4", shape=(2, 32), data=named)]))
        got = f.dequantize("k")
        self.assertEqual((got.shape, got.dtype), ((32,), np.float32))
        self.assertEqual(got.tolist(), exp)
        n = f.dequantize("n")
        self.assertEqual(n[0, 0], np.float32(math.ldexp(127, -28)))  # e = 0: 127 x 2^-28, exact
        # e = 7 and e = 255: -6 x M[7] x 2^k is exact in binary64 and needs rounding in binary32
        self.assertEqual(n[0, 16], np.float32(to_f32(-6 * math.ldexp(KQ4_M[7], -28))))
        self.assertEqual(n[1, 16], np.float32(to_f32(-6 * KQ4_M[7] * 8)))
        self.assertNotEqual(-6 * KQ4_M[7], to_f32(-6 * KQ4_M[7]))
        self.assertEqual(n[1, 0], np.float32(to_f32(127 * KQ4_M[7] / 2)))  # e = 223: needs rounding
        self.assertNotEqual(127 * KQ4_M[7] / 2, to_f32(127 * KQ4_M[7] / 2))
        self.assertEqual(f.tensors["n"].length, 36)
        with self.assertRaises(TypeError):
            f.array("k")
        f.verify()

    def test_kq4_every_exponent_and_level_vs_reference(self):
        # Block b: e0 = b, e1 = 255 - b, low nibbles levels rotated by b, high nibbles reversed:
        # every (exponent, level) pair occurs in both halves of a block.
        blocks = []
        for b in range(256):
            lo = [(i + b) % 16 for i in range(16)]
            hi = [(15 - i + b) % 16 for i in range(16)]
            blocks.append(kq4_block(b, 255 - b, lo + hi))
        rng = np.random.default_rng(11)
        for _ in range(64):  # random blocks too
            blocks.append(rng.integers(0, 256, 18, dtype=np.uint8).tobytes())
        raw = b"".join(blocks)  # 320 blocks
        pairs = {(blk[0] if j < 16 else blk[1], blk[2 + j % 16] & 15 if j < 16 else blk[2 + j % 16] >> 4)
                 for blk in blocks for j in range(32)}
        self.assertEqual(len(pairs), 256 * 16)
        for e in (0, 7, 8, 223, 224, 255):
            self.assertTrue(all((e, lv) in pairs for lv in range(16)))
        tensors = [dict(name="w", type="kq4", shape=(4, 10, 256), data=raw),
                   dict(name="empty", type="kq4", shape=(3, 0, 64), data=b"")]
        if zstandard:
            tensors.append(dict(name="z", type="kq4", shape=(320 * 32,), data=raw, compression=1))
        f = self.open(build(tensors=tensors))
        ref = np.array([x for blk in blocks for x in ref_kq4_block(blk)], np.float32)
        got = f.dequantize("w")
        self.assertEqual((got.shape, got.dtype), ((4, 10, 256), np.float32))
        np.testing.assert_array_equal(got.ravel().view(np.uint32), ref.view(np.uint32))  # bit for bit
        self.assertEqual(f.dequantize("empty").shape, (3, 0, 64))
        if zstandard:
            np.testing.assert_array_equal(f.dequantize("z").view(np.uint32), ref.view(np.uint32))
        f.verify()
        # each row of 256 is 8 blocks, in order
        self.assertEqual(got[0, 1, 0], ref[256])
        # block-type rules apply to kq4
        self.reject(build(tensors=[dict(name="q", type="kq4", shape=(2, 48), data=bytes(54))]),
                    "multiple of the kq4 block size")
        self.reject(build(tensors=[dict(name="q", type="kq4", shape=(), data=bytes(18))]), "at least one dimension")
        if zstandard:
            self.reject(build(tensors=[dict(name="q", type="kq4", shape=(32,), data=bytes(18), compression=1,
                                            filter=1)]), "byte-shuffle")

    @unittest.skipIf(zstandard is None, "zstandard not installed")
    def test_compressed_and_shuffled(self):
        rng = np.random.default_rng(5)
        a = rng.standard_normal((100, 33)).astype(np.float32)
        h = rng.standard_normal((7, 9)).astype(np.float16)
        u = np.arange(1000, dtype=np.uint8)
        tensors = [
            t_("plain", a, "f32"),
            t_("zs", a, "f32", compression=1, filter=1),
            t_("z", h, "f16", compression=1),
            t_("z_nosize", h, "f16", compression=1, filter=1, zstd_kwargs=dict(write_content_size=False)),
            t_("z_u8", u, "u8", compression=1),
            dict(name="z_q", type="q8_0", shape=(64,), data=h16(1.0) + bytes(range(32)) + h16(2.0) + bytes(32),
                 compression=1),
            dict(name="z_empty", type="f32", shape=(0,), data=b"", compression=1),
        ]
        p = self.write(build(tensors=tensors))
        f = kr.read(p)
        self.assertEqual(f.tensors["zs"].checksum, f.tensors["plain"].checksum)
        self.assertNotEqual(f.tensors["zs"].stored_length, a.nbytes)
        np.testing.assert_array_equal(f.array("zs"), a)
        np.testing.assert_array_equal(f.array("z"), h)
        np.testing.assert_array_equal(f.array("z_nosize"), h)
        np.testing.assert_array_equal(f.array("z_u8"), u)
        self.assertEqual(f.dequantize("z_q").tolist(), list(map(float, range(32))) + [0.0] * 32)
        self.assertEqual(f.array("z_empty").shape, (0,))
        self.assertEqual(bytes(f.raw_bytes("zs")), a.tobytes())
        f.verify()
        j = json.loads(self.cli(p, "--json").stdout)
        by = {t["name"]: t for t in j["tensors"]}
        self.assertEqual(by["zs"]["hex"], a.tobytes().hex())
        self.assertEqual((by["zs"]["compression"], by["zs"]["filter"]), (1, 1))
        self.assertTrue(by["z_nosize"]["checksum_ok"])

        cz = zstandard.ZstdCompressor()
        # frame decompressing to the wrong size (content size recorded)
        bad = [t_("w", a, "f32", compression=1, stored=cz.compress(a.tobytes()[:-4]))]
        with self.assertRaises(kr.KilnFormatError) as cm:
            self.open(build(tensors=bad)).array("w")
        self.assertIn("'w'", str(cm.exception))
        # wrong size, no recorded content size: too long
        cz2 = zstandard.ZstdCompressor(write_content_size=False)
        for stored in (cz2.compress(a.tobytes() + b"1234"), cz2.compress(a.tobytes()[:-4])):
            with self.assertRaises(kr.KilnFormatError):
                self.open(build(tensors=[t_("w", a, "f32", compression=1, stored=stored)])).array("w")
        # trailing bytes after the frame, two frames, garbage
        for stored in (cz.compress(a.tobytes()) + b"\0",
                       cz2.compress(a.tobytes()[:64]) + cz2.compress(a.tobytes()[64:]),
                       b"not zstd at all"):
            with self.assertRaises(kr.KilnFormatError):
                self.open(build(tensors=[t_("w", a, "f32", compression=1, stored=stored)])).array("w")

    def test_data_checksum_mismatch(self):
        a = np.arange(10, dtype=np.float32)

        def bad(recs):
            recs[0]["checksum"] ^= 1
        p = self.write(build(tensors=[t_("w", a, "f32"), t_("ok", a, "f32")], fixup=bad))
        f = kr.read(p)  # not checked on open
        with self.assertRaises(kr.KilnFormatError) as cm:
            f.verify()
        self.assertIn("'w'", str(cm.exception))
        self.assertNotIn("'ok'", str(cm.exception))
        self.assertFalse(f.checksum_ok("w"))
        j = json.loads(self.cli(p, "--json").stdout)
        self.assertEqual([t["checksum_ok"] for t in j["tensors"]], [False, True])


class TestWithoutZstandard(Base):
    @unittest.skipIf(zstandard is None, "zstandard not installed (needed to build the file)")
    def test_compressed_unreadable_without_zstandard(self):
        a = np.arange(10, dtype=np.float32)
        p = self.write(build(tensors=[t_("z", a, "f32", compression=1), t_("p", a, "f32")]))
        saved = kr._zstd
        kr._zstd = None
        try:
            f = kr.read(p)  # opening never touches tensor data
            with self.assertRaises(kr.KilnUnsupportedError) as cm:
                f.array("z")
            self.assertIn("zstandard", str(cm.exception))
            self.assertIn("'z'", str(cm.exception))
            np.testing.assert_array_equal(f.array("p"), a)
        finally:
            kr._zstd = saved
        code = ("import sys, runpy; sys.modules['zstandard'] = None; "
                f"sys.argv = ['kiln_read', {p!r}, '--json']; runpy.run_path({READER!r}, run_name='__main__')")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("kiln_read: ", r.stderr)
        self.assertIn("zstandard", r.stderr)
        j = json.loads(r.stdout)
        self.assertIsNone(j["tensors"][0]["checksum_ok"])
        self.assertNotIn("hex", j["tensors"][0])
        self.assertTrue(j["tensors"][1]["checksum_ok"])


class TestCorruption(Base):
    def good(self, **kw):
        a = np.arange(20, dtype=np.float32).reshape(4, 5)
        b = np.arange(8, dtype=np.int16)
        return build([("general.architecture", ("string", "llama"))], [t_("a", a, "f32"), t_("b", b, "i16")], **kw)

    def test_good_is_good(self):
        f = self.open(self.good())
        f.verify()

    def test_flipped_bytes(self):
        blob = self.good()
        ho = struct.unpack_from("<Q", blob, 16)[0]
        for pos in (ho, ho + 5, len(blob) - 1, 40, 56, 10):  # header, reserved, checksum, minor
            bad = bytearray(blob)
            bad[pos] ^= 0x01
            self.reject(bytes(bad), "header_checksum", "offset 56")
        # a flipped byte in tensor data is not seen on open, only by verify
        bad = bytearray(blob)
        bad[64] ^= 1
        f = self.open(bytes(bad))
        self.assertRaises(kr.KilnFormatError, f.verify)

    def test_preamble(self):
        self.reject(b"", "shorter")
        self.reject(self.good()[:63], "shorter")
        self.reject(self.good()[:-1], "file size")
        self.reject(self.good() + b"\0", "file size")
        self.reject(self.good(magic=b"KILM"), "magic")
        self.reject(self.good(bom=b"\x0a\x0b\x0c\x0d"), "big-endian")
        self.reject(self.good(bom=b"\x0d\x0c\x0b\x0b"), "byte_order_mark")
        self.reject(self.good(major=2), "major_version")
        self.reject(self.good(major=0), "major_version")
        self.reject(self.good(flags=1), "flags")
        self.reject(self.good(flags=0x80000000), "flags")
        f = self.open(self.good(minor=7, reserved=b"\x01" * 24))  # higher minor, reserved ignored
        self.assertEqual(f.version, (1, 7))
        blob = bytearray(self.good())  # header offset not a multiple of 64 (checksum still right)
        ho, hl = struct.unpack_from("<QQ", blob, 16)
        for new_ho, new_hl in ((ho - 8, hl + 8), (0, len(blob)), (32, len(blob) - 32), (ho, hl - 1),
                               (2**64 - 64, 64 + len(blob))):
            b2 = bytearray(blob)
            struct.pack_into("<QQ", b2, 16, new_ho, new_hl & (2**64 - 1))
            struct.pack_into("<Q", b2, 56, hash64(bytes(b2[:56]) + bytes(b2[new_ho:new_ho + new_hl])))
            self.reject(bytes(b2), "header_")

    def test_truncated(self):
        blob = self.good()
        for cut in (64, 100, len(blob) // 2, len(blob) - 1):
            self.reject(blob[:cut])
        # truncated header with consistent preamble: header cut short inside the tensor table
        full = self.good()
        ho, hl = struct.unpack_from("<QQ", full, 16)
        for keep in (0, 7, 20, hl - 1):
            pre = bytearray(full[:56])
            struct.pack_into("<Q", pre, 24, keep)
            header = full[ho:ho + keep]
            blob = bytes(pre) + u64(hash64(bytes(pre) + header)) + full[64:ho] + header
            self.reject(blob, "remain")

    def fix(self, fn, *needles, **kw):
        return self.reject(self.good(fixup=fn, **kw), *needles)

    def test_placement(self):
        def set_(i, **kv):
            def f(recs):
                recs[i].update(kv)
            return f

        ho = struct.unpack_from("<Q", self.good(), 16)[0]
        self.fix(set_(1, offset=ho), "'b'", "outside the data section")  # past header offset
        self.fix(set_(0, offset=0), "'a'", "outside")  # inside the preamble
        self.fix(set_(1, offset=2**64 - 8), "'b'", "overflow")
        self.fix(set_(0, offset=96), "'a'", "multiple of 64")
        self.fix(set_(1, offset=64), "overlap")  # same place as 'a'
        self.fix(lambda r: r.reverse() or r[0].update(offset=128), "overlap", "'a'", "'b'")  # table order reversed

        def partial_overlap(recs):  # 'b' starts inside 'a' (a is 80 bytes at 64)
            recs[1]["offset"] = 128
        self.fix(partial_overlap, "overlap")

        # zero-length tensors may share an offset with others
        f = self.open(build(tensors=[t_("a", np.ones(4, np.float32), "f32"), t_("e", np.zeros(0, np.float32), "f32")],
                            fixup=lambda r: r[1].update(offset=64)))
        self.assertEqual(f.tensors["e"].offset, 64)

    def test_records(self):
        self.fix(lambda r: r[1].update(type_id=5), "unknown element type id 5", "'b'")
        self.fix(lambda r: r[1].update(type_id=2**32 - 1), "4294967295", "'b'")
        self.fix(lambda r: r[1].update(name="a"), "duplicate", "'a'")
        self.fix(lambda r: r[1].update(name=""), "empty tensor name")
        self.fix(lambda r: r[1].update(name=b"\xff"), "invalid UTF-8")
        self.fix(lambda r: r[0].update(dims=[1] * 9), "9 dimensions")
        self.fix(lambda r: r[0].update(dims=[2**32, 2**32]), "overflow")
        self.fix(lambda r: r[0].update(dims=[2**62, 1]), "'a'", "overflow")  # length 2**64: overflow
        self.fix(lambda r: r[0].update(dims=[2**62]), "overflow")  # 4 * 2**62 = 2**64
        self.fix(lambda r: r[0].update(dims=[4, 4]), "stored_length")  # length 64 != 80
        self.fix(lambda r: r[0].update(stored_length=84), "stored_length")
        self.fix(lambda r: r[0].update(filter=1), "filter")  # filter without compression
        self.fix(lambda r: r[0].update(compression=2), "unknown compression 2")
        self.fix(lambda r: r[0].update(compression=1, filter=2), "unknown filter 2")
        self.fix(lambda r: r[0].update(compression=1, stored_length=0), "stored_length")
        self.fix(lambda r: r[0].update(ndim=3), "'a'")  # record misparsed: dims eat the next fields
        # block types
        blk = dict(name="q", type="q8_0", shape=(2, 32), data=bytes(68))
        self.reject(build(tensors=[dict(blk, shape=(2, 33), data=bytes(68))]), "multiple of the q8_0 block size")
        self.reject(build(tensors=[dict(blk, shape=(), data=bytes(34))]), "at least one dimension")
        self.reject(build(tensors=[dict(blk, shape=(2, 2**64 - 32))]), "overflow")
        if zstandard:
            self.reject(build(tensors=[dict(blk, compression=1, filter=1)]), "byte-shuffle")
            self.reject(build(tensors=[dict(name="u", type="u8", shape=(3,), data=b"abc", compression=1, filter=1)]),
                        "byte-shuffle")
            self.reject(build(tensors=[dict(name="u", type="bool", shape=(3,), data=b"\0\1\0", compression=1,
                                            filter=1)]), "byte-shuffle")
        self.reject(self.good(trailing=b"\0\0"), "trailing")

    def test_cli_error(self):
        p = self.write(self.good(major=3))
        r = self.cli(p, "--json")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("kiln_read: major_version at offset 8"), r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
