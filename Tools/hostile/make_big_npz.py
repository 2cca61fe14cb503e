#!/usr/bin/env python3
"""Writes an .npz whose one member, x.npy, honestly holds N float32 zeros deflated (ZIP64),
in a few MB: deflate's full-flush blocks of zeros repeat byte for byte, so the stream is one
block written many times. Kiln must refuse it with a clear error when it cannot hold the
inflated bytes (tests run it under `ulimit -v`), never abort.

usage: make_big_npz.py OUT.npz [ELEMENTS]   (default 1,200,000,000: 4.8 GB inflated)
"""
import struct
import sys
import zlib

out = sys.argv[1]
elements = int(sys.argv[2]) if len(sys.argv) > 2 else 1_200_000_000
name = b"x.npy"

header = ("{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % elements).encode()
header += b" " * (127 - 10 - len(header)) + b"\n"
npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
assert len(npy) % 64 == 0
data_bytes = 4 * elements
size = len(npy) + data_bytes

chunk = 1 << 20
zeros = bytes(chunk)
compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
parts = [compressor.compress(npy) + compressor.flush(zlib.Z_FULL_FLUSH)]
block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
assert block == again, "full-flush blocks of zeros should repeat"
full, rest = divmod(data_bytes, chunk)
# `block` stands for one chunk; two were compressed above, so reuse them for the first two.
parts += [block] * full
parts.append(compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FINISH))
stream = b"".join(parts)

crc = zlib.crc32(npy)
for _ in range(full):
    crc = zlib.crc32(zeros, crc)
crc = zlib.crc32(bytes(rest), crc)

def zip64_extra(*values):
    return struct.pack("<HH", 1, 8 * len(values)) + b"".join(struct.pack("<Q", v) for v in values)

local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20)
local += name + zip64_extra(size, len(stream))
central_offset = len(local) + len(stream)
central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                      len(name), 28, 0, 0, 0, 0, 0)
central += name + zip64_extra(size, len(stream), 0)
end64_offset = central_offset + len(central)
end64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(central), central_offset)
locator = struct.pack("<IIQI", 0x07064B50, 0, end64_offset, 1)
end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
with open(out, "wb") as f:
    f.write(local + stream + central + end64 + locator + end)
