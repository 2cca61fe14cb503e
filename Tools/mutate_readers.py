#!/usr/bin/env python3
"""Mutation fuzzing of every reader Kiln has, through the release tools, as an attacker would.

    python3 Tools/mutate_readers.py [--iterations N] [--max-seconds S] [--seed N] [--readers a,b]
                                    [--findings DIR] [--summary FILE] [--jobs N] [--minimize]

Seeds are valid files of every format Kiln reads (Fixtures/, the vocabularies and the real model
in .models/ when present, and files made from them by `kiln convert`: .kiln raw, compressed and
quantised, GGUF). Each iteration takes a seed of one reader, applies one to four mutations —
bit flips, bytes set to 0/0xFF/0x7F/0x80, 32- and 64-bit length, count and offset fields (found by
parsing the format) set to huge, negative or off-by-one values, truncation, chunks duplicated,
moved or removed, two files spliced, edits of a safetensors or npy header as JSON or Python
literal, ZIP central-directory and local-header edits, archive members rebuilt around a mutated
pickle or npy, pickle opcode edits, config/tokenizer JSON edits — and runs `kiln inspect`, `kiln
verify`, `kiln convert -o …` and, on model-like seeds, `kiln-run generate -n 2` (and `kiln-run
tokenize` on vocabularies), each with a CPU-time limit, an address-space limit and a wall-clock
timeout.

A finding is a signal death, a hang (CPU or wall limit), peak RSS over --rss-mb, an exit status
outside {0, 1, 2}, an allocation refused for an input far smaller than the allocation (memory
sized by a claim, not by the file), a failed `convert` that leaves its output or a temporary
behind, or a failure without a `kiln: error:` line. Each is saved with its input files and the
command lines under --findings. Every iteration draws from its own RNG seeded by (seed, reader,
iteration), so a run is reproducible and one iteration can be replayed (--replay READER:N).

Stdlib only. Run it on the release build (`swift build -c release`) under `nice`.
"""
import argparse
import copy
import hashlib
import itertools
import io
import json
import os
import pickle
import pickletools
import random
import re
import resource
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# XXH64 (seed 0), so mutated .kiln headers can carry a valid checksum and reach the parser.

P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
M64 = (1 << 64) - 1


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, lane):
    return (_rotl((acc + lane * P2) & M64, 31) * P1) & M64


def xxh64(data, seed=0):
    n = len(data)
    i = 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while i + 32 <= n:
            lanes = struct.unpack_from('<4Q', data, i)
            v = [_round(v[k], lanes[k]) for k in range(4)]
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for k in range(4):
            h = ((h ^ _round(0, v[k])) * P1 + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h = (_rotl(h ^ _round(0, struct.unpack_from('<Q', data, i)[0]), 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h = (_rotl(h ^ (struct.unpack_from('<I', data, i)[0] * P1 & M64), 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h = (_rotl(h ^ (data[i] * P5 & M64), 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    h ^= h >> 32
    return h


# ---------------------------------------------------------------------------------------------
# Field locators: (offset, width) of the integers a reader trusts — lengths, counts, offsets,
# shapes, type tags — found by parsing the (unmutated) format. A parse that fails returns what it
# found so far; mutations then fall back to random offsets.

class Cursor:
    def __init__(self, data, offset=0):
        self.data, self.offset = data, offset

    def take(self, fmt):
        value = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += struct.calcsize(fmt)
        return value[0] if len(value) == 1 else value


def gguf_fields(data):
    fields = []
    c = Cursor(data, 4)
    try:
        fields.append((4, 4))
        c.take('<I')
        fields += [(8, 8), (16, 8)]
        tensors, kvs = c.take('<Q'), c.take('<Q')

        def string():
            fields.append((c.offset, 8))
            n = c.take('<Q')
            c.offset += n

        def value(tag, depth=0):
            sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
            if tag in sizes:
                c.offset += sizes[tag]
            elif tag == 8:
                string()
            elif tag == 9:
                fields.append((c.offset, 4))
                inner = c.take('<I')
                fields.append((c.offset, 8))
                count = c.take('<Q')
                if inner in sizes:
                    c.offset += sizes[inner] * count
                else:
                    for _ in range(min(count, 1 << 20)):
                        value(inner, depth + 1)
            else:
                raise ValueError(tag)

        for _ in range(min(kvs, 1 << 16)):
            string()
            fields.append((c.offset, 4))
            value(c.take('<I'))
        for _ in range(min(tensors, 1 << 16)):
            string()
            fields.append((c.offset, 4))
            ndim = c.take('<I')
            for _ in range(min(ndim, 8)):
                fields.append((c.offset, 8))
                c.take('<Q')
            fields.append((c.offset, 4))
            c.take('<I')
            fields.append((c.offset, 8))
            c.take('<Q')
    except (struct.error, ValueError, OverflowError):
        pass
    return fields


def kiln_fields(data):
    fields = [(4, 4), (8, 2), (12, 4), (16, 8), (24, 8), (56, 8)]
    try:
        header_offset = struct.unpack_from('<Q', data, 16)[0]
        c = Cursor(data, header_offset)

        def string():
            fields.append((c.offset, 8))
            n = c.take('<Q')  # (not `c.offset += c.take()`: that reads offset before the take)
            c.offset += n

        def value(tag):
            if tag == 1:
                c.offset += 1
            elif tag in (2, 3, 4):
                c.offset += 8
            elif tag in (5, 6):
                string()
            elif tag == 7:
                inner = c.take('<B')
                fields.append((c.offset, 8))
                count = c.take('<Q')
                for _ in range(min(count, 1 << 20)):
                    value(inner)
            elif tag == 8:
                fields.append((c.offset, 8))
                for _ in range(min(c.take('<Q'), 1 << 16)):
                    string()
                    value(c.take('<B'))
            else:
                raise ValueError(tag)

        fields.append((c.offset, 8))
        for _ in range(min(c.take('<Q'), 1 << 16)):
            string()
            value(c.take('<B'))
        fields.append((c.offset, 8))
        for _ in range(min(c.take('<Q'), 1 << 16)):
            string()
            fields.append((c.offset, 4))
            c.take('<I')
            fields.append((c.offset, 4))
            ndim = c.take('<I')
            for _ in range(min(ndim, 8)):
                fields.append((c.offset, 8))
                c.take('<Q')
            for _ in range(3):
                fields.append((c.offset, 8))
                c.take('<Q')
            fields += [(c.offset, 1), (c.offset + 1, 1)]
            c.offset += 2
    except (struct.error, ValueError, OverflowError):
        pass
    return fields


def kiln_fix_checksum(data):
    """Recomputes the header checksum so that a mutated header reaches the parser."""
    try:
        header_offset, header_length = struct.unpack_from('<QQ', data, 16)
        if len(data) < 64 or header_offset + header_length != len(data):
            return data
        digest = xxh64(bytes(data[:56]) + bytes(data[header_offset:]))
        out = bytearray(data)
        struct.pack_into('<Q', out, 56, digest)
        return out
    except struct.error:
        return data


def zip_fields(data):
    fields = []
    end = data.rfind(b'PK\x05\x06')
    if end < 0:
        return fields
    fields += [(end + 4, 2), (end + 6, 2), (end + 8, 2), (end + 10, 2), (end + 12, 4), (end + 16, 4), (end + 20, 2)]
    locator = data.rfind(b'PK\x06\x07', 0, end)
    if locator >= 0:
        fields += [(locator + 4, 4), (locator + 8, 8), (locator + 16, 4)]
        record = data.rfind(b'PK\x06\x06', 0, locator)
        if record >= 0:
            fields += [(record + 4, 8)] + [(record + o, 8) for o in (24, 32, 40, 48)]
    position = 0
    while True:
        position = data.find(b'PK\x01\x02', position)
        if position < 0:
            break
        fields += [(position + o, w) for o, w in ((8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (42, 4))]
        try:
            name_length, extra_length = struct.unpack_from('<HH', data, position + 28)
            extra = position + 46 + name_length
            k = extra
            while k + 4 <= extra + extra_length:  # ZIP64 extra fields hold 64-bit sizes
                tag, size = struct.unpack_from('<HH', data, k)
                fields.append((k + 2, 2))
                if tag == 1:
                    fields += [(k + 4 + 8 * j, 8) for j in range(size // 8)]
                k += 4 + size
        except struct.error:
            pass
        position += 4
    position = 0
    while True:
        position = data.find(b'PK\x03\x04', position)
        if position < 0:
            break
        fields += [(position + o, w) for o, w in ((6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2))]
        position += 4
    return fields


def npy_fields(data):
    if data[:6] != b'\x93NUMPY' or len(data) < 10:
        return []
    return [(6, 1), (7, 1), (8, 2 if data[6] == 1 else 4)]


def safetensors_fields(data):
    return [(0, 8)]


def llama2c_fields(data):
    # v1/v2: magic "ak42", version, then seven i32 (dim, hidden, layers, heads, kv heads, vocab,
    # seq len); v0: the seven i32 at 0 (a negative vocab means unshared classifier).
    if data[:4] == b'ak42':
        return [(4, 4)] + [(8 + 4 * k, 4) for k in range(7)] + [(36, 1), (37, 4)]
    return [(4 * k, 4) for k in range(7)]


def llmc_fields(data):
    return [(4 * k, 4) for k in range(8)]


def pickle_fields(data):
    """(offset, width) of the length and index arguments of pickle opcodes."""
    fields = []
    widths = {'BINUNICODE': 4, 'BINSTRING': 4, 'BINBYTES': 4, 'SHORT_BINUNICODE': 1, 'SHORT_BINSTRING': 1,
              'SHORT_BINBYTES': 1, 'BINUNICODE8': 8, 'BINBYTES8': 8, 'BYTEARRAY8': 8, 'FRAME': 8,
              'LONG1': 1, 'LONG4': 4, 'BINGET': 1, 'LONG_BINGET': 4, 'BINPUT': 1, 'LONG_BINPUT': 4,
              'BININT': 4, 'BININT1': 1, 'BININT2': 2, 'PROTO': 1, 'EXT1': 1, 'EXT2': 2, 'EXT4': 4}
    try:
        for op, _, position in pickletools.genops(bytes(data)):
            if op.name in widths and position is not None:
                fields.append((position + 1, widths[op.name]))
    except Exception:
        pass
    return fields


LOCATORS = {'gguf': gguf_fields, 'kiln': kiln_fields, 'zip': zip_fields, 'npy': npy_fields,
            'safetensors': safetensors_fields, 'llama2c': llama2c_fields, 'llmc': llmc_fields,
            'pickle': pickle_fields}

# ---------------------------------------------------------------------------------------------
# Mutations. Each takes (rng, data: bytearray, context) and returns new bytes.

BOUNDARY_BYTES = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE]


def interesting_values(width, original, file_size):
    bits = width * 8
    top = (1 << bits) - 1
    values = [0, 1, top, top - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1, original + 1, original - 1,
              original * 2, original * 256, file_size, file_size + 1, file_size - 1, file_size * 2,
              original + file_size, 64, 4096]
    if bits >= 32:
        values += [0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000 & top, 1 << 30, 1 << 31]
    if bits == 64:
        values += [1 << 40, 1 << 48, (1 << 63) - 1, 1 << 63, (1 << 62) + 1]
    return [v & top for v in values]


def m_bitflip(rng, data, ctx):
    for _ in range(rng.choice([1, 1, 2, 4, 8])):
        if data:
            k = rng.randrange(len(data) * 8)
            data[k // 8] ^= 1 << (k % 8)
    return data


def m_byteset(rng, data, ctx):
    for _ in range(rng.choice([1, 1, 2, 3])):
        if data:
            data[_offset(rng, data, ctx)] = rng.choice(BOUNDARY_BYTES)
    return data


def _offset(rng, data, ctx):
    """A random offset, biased towards the header (where the trusted fields live)."""
    limit = len(data)
    if rng.random() < 0.7:
        limit = min(limit, ctx.get('header_end') or 4096)
    return rng.randrange(max(1, limit)) if data else 0


def m_field(rng, data, ctx):
    """A length, count, offset, shape or tag field set to a boundary value."""
    fields = [f for f in ctx['fields'] if f[0] + f[1] <= len(data)]
    if fields and rng.random() < 0.9:
        offset, width = rng.choice(fields)
    else:
        width = rng.choice([4, 8])
        if len(data) < width:
            return data
        offset = rng.randrange(len(data) - width + 1)
        if rng.random() < 0.5:
            offset -= offset % width
    original = int.from_bytes(data[offset:offset + width], 'little')
    value = rng.choice(interesting_values(width, original, len(data)))
    data[offset:offset + width] = value.to_bytes(width, 'little')
    return data


def m_truncate(rng, data, ctx):
    points = [o for o, _ in ctx['fields'] if o < len(data)]
    if points and rng.random() < 0.4:
        cut = rng.choice(points) + rng.choice([0, 1, 2, 4])
    elif rng.random() < 0.3:
        cut = len(data) - rng.choice([1, 2, 3, 4, 7, 8, 16, 64])
    else:
        cut = rng.randrange(len(data) + 1)
    return data[:max(0, cut)]


def _chunk(rng, data):
    if not data:
        return 0, 0
    size = min(len(data), rng.choice([1, 2, 4, 8, 16, 64, 256, 4096, len(data) // 2 or 1]))
    start = rng.randrange(len(data) - size + 1)
    return start, start + size


def m_duplicate(rng, data, ctx):
    a, b = _chunk(rng, data)
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[a:b] * rng.choice([1, 1, 2, 16]) + data[at:]


def m_remove(rng, data, ctx):
    a, b = _chunk(rng, data)
    return data[:a] + data[b:]


def m_move(rng, data, ctx):
    a, b = _chunk(rng, data)
    at = rng.randrange(len(data) - (b - a) + 1)
    data[at:at + (b - a)] = data[a:b]
    return data


def m_append(rng, data, ctx):
    return data + bytes(rng.choice(BOUNDARY_BYTES) for _ in range(rng.choice([1, 8, 64, 4096])))


def m_splice(rng, data, ctx):
    """The front of this file joined to the back of another (of the same reader, or any)."""
    others = ctx['splice']
    if not others:
        return data
    other = rng.choice(others)
    cut_a = rng.randrange(len(data) + 1)
    cut_b = rng.randrange(len(other) + 1)
    return data[:cut_a] + other[cut_b:]


GENERIC = [(m_bitflip, 3), (m_byteset, 3), (m_field, 6), (m_truncate, 2), (m_duplicate, 1),
           (m_remove, 1), (m_move, 1), (m_append, 1), (m_splice, 1)]

# --- JSON-aware edits (safetensors and npy headers, config.json, tokenizer.json, indexes) ---

HOSTILE_JSON = [0, -1, 1, 2 ** 31, 2 ** 32, 2 ** 63 - 1, 2 ** 63, 2 ** 64, -(2 ** 63), 1e308, -1e308, 0.5,
                '', 'x' * 70000, None, True, [], {}, [2 ** 62, 2 ** 62], [-1], [0] * 70, 'F64', 'Q8_0',
                '../../etc/passwd', '/abs/path', 'model-00001-of-00002.safetensors', '\u0000', '\ud800x']


def _paths(node, prefix=()):
    yield prefix
    if len(prefix) > 40:  # a nest an earlier edit made: its inside is not worth visiting
        return
    if isinstance(node, dict):
        for k, v in list(node.items())[:200]:
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in list(enumerate(node))[:50]:
            yield from _paths(v, prefix + (i,))


def mutate_json_value(rng, root):
    paths = list(itertools.islice(_paths(root), 20000))
    path = rng.choice(paths)
    parent, key = None, None
    node = root
    for k in path:
        parent, key, node = node, k, node[k]
    choice = rng.random()
    if parent is None:
        return rng.choice([[], 1, 'x', None, {'a': root}])
    if choice < 0.45:
        parent[key] = rng.choice(HOSTILE_JSON)
    elif choice < 0.6 and isinstance(parent, dict):
        del parent[key]
    elif choice < 0.7 and isinstance(parent, list):
        del parent[key]
    elif choice < 0.8:
        depth = rng.choice([10, 100, 5000])
        value = 1
        for _ in range(depth):
            value = [value]
        parent[key] = value
    elif choice < 0.9 and isinstance(node, (int, float)) and not isinstance(node, bool):
        parent[key] = rng.choice([node + 1, node - 1, -node, node * 1000003, str(node)])
    elif isinstance(node, list) and node:
        parent[key] = node + node * (1000 if len(node) < 100 else 1)
    else:
        other = rng.choice(paths)
        value = root
        try:
            for k in other:
                value = value[k]
            # A copy: the other node may be an ancestor of this one, and a cycle would make
            # the next walk of the tree endless (it grew this process to 19 GB).
            parent[key] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError, RecursionError):
            parent[key] = None
    return root


def json_text_mutation(rng, text):
    """Edits a JSON document as a tree, falling back to text edits."""
    try:
        root = json.loads(text)
    except (ValueError, RecursionError):
        root = None
    if root is not None and rng.random() < 0.85:
        for _ in range(rng.choice([1, 1, 2, 3])):
            root = mutate_json_value(rng, root)
        try:
            out = json.dumps(root, ensure_ascii=rng.random() < 0.5, separators=(',', ':'))
        except (ValueError, RecursionError):
            out = text
        if rng.random() < 0.1:  # a duplicated key, which json.dumps cannot write
            out = out.replace('{', '{"dup":1,"dup":2,', 1)
        return out.encode('utf-8', 'surrogatepass')
    data = bytearray(text.encode('utf-8', 'surrogatepass'))
    return bytes(rng.choice([m_bitflip, m_truncate, m_duplicate, m_remove])(rng, data, {'fields': [], 'header_end': None}))


def m_safetensors_header(rng, data, ctx):
    try:
        length = struct.unpack_from('<Q', data, 0)[0]
        header = bytes(data[8:8 + length]).decode('utf-8')
        json.loads(header)
    except (struct.error, UnicodeDecodeError, ValueError):
        return m_field(rng, data, ctx)
    body = data[8 + length:]
    new = json_text_mutation(rng, header)
    new += b' ' * rng.choice([0, 0, (8 - len(new) % 8) % 8])
    declared = len(new)
    if rng.random() < 0.2:
        declared = rng.choice([declared + 1, declared - 1, len(data), 2 ** 63, 2 ** 64 - 1, 100 * 2 ** 20 + 1])
    return struct.pack('<Q', declared & M64) + new + body


NPY_EDITS = [
    (r"'shape': \([^)]*\)", ["'shape': (4611686018427387904, 4)", "'shape': (-1,)", "'shape': (0, -5)",
                            "'shape': (" + '1, ' * 70 + ")", "'shape': (((((1,),),),),)", "'shape': [2, 2]",
                            "'shape': (2.5,)", "'shape': (9223372036854775807, 9223372036854775807)",
                            "'shape': ()", "'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1)"]),
    (r"'descr': '[^']*'", ["'descr': '|O'", "'descr': '<c16'", "'descr': '<U10'", "'descr': '|V8'",
                          "'descr': '<f2'", "'descr': '>f8'", "'descr': '<i9'", "'descr': ''",
                          "'descr': [('a', '<f4')]", "'descr': '<M8[s]'", "'descr': '<f" + '9' * 30 + "'"]),
    (r"'fortran_order': \w+", ["'fortran_order': 1", "'fortran_order': None", "'fortran_order': 'True'",
                              "'fortran_order': True"]),
]


def m_npy_header(rng, data, ctx):
    if data[:6] != b'\x93NUMPY' or len(data) < 10:
        return m_field(rng, data, ctx)
    version = data[6]
    size_width = 2 if version == 1 else 4
    length = int.from_bytes(data[8:8 + size_width], 'little')
    start = 8 + size_width
    text = bytes(data[start:start + length]).decode('latin-1')
    body = data[start + length:]
    if rng.random() < 0.75:
        pattern, replacements = rng.choice(NPY_EDITS)
        text = re.sub(pattern, rng.choice(replacements), text, count=1)
    else:
        edit = rng.choice(['nest', 'dup', 'drop', 'cut', 'long'])
        if edit == 'nest':
            text = text.replace('{', '{' + "'x': " + '[' * 5000 + ']' * 5000 + ', ', 1)
        elif edit == 'dup':
            text = text.replace('{', "{'shape': (3,), ", 1)
        elif edit == 'drop':
            text = re.sub(r"'(descr|shape|fortran_order)': [^,}]*(\([^)]*\))?,?", '', text, count=1)
        elif edit == 'cut':
            text = text[:rng.randrange(len(text) + 1)]
        else:
            text = text.replace('{', "{'z': '" + 'a' * 200000 + "', ", 1)
    encoded = text.encode('latin-1', 'replace')
    declared = len(encoded)
    if rng.random() < 0.15:
        declared = rng.choice([declared + 1, max(0, declared - 1), 0xFFFF, 0xFFFFFFFF])
    if size_width == 2 and declared > 0xFFFF:
        size_width = 4
        data[6] = 2
    return bytes(data[:8]) + (declared & ((1 << (8 * size_width)) - 1)).to_bytes(size_width, 'little') + encoded + body


# --- pickle-aware edits ---

PICKLE_INSERTS = [b'(', b'0', b'2', b'1', b'}', b']', b')', b'N', b'\x88', b'e', b'u', b's', b't', b'R', b'b',
                  b'\x94', b'h\xff', b'j\xff\xff\xff\x7f', b'q\x00', b'r\xff\xff\xff\xff', b'(' * 10000,
                  b']' * 100000, b'\x8c\x08builtins\x8c\x04eval\x93', b'ctorch\nFloatStorage\n',
                  b'\x95\xff\xff\xff\xff\xff\xff\xff\x7f', b'X\xff\xff\xff\x7f', b'\x8a\xff' + b'\xff' * 255,
                  b'Q', b'\x81', b'\x92', b'\x82\xff', b'.']


def m_pickle(rng, data, ctx):
    try:
        ops = [(op, position) for op, _, position in pickletools.genops(bytes(data))]
    except Exception:
        ops = []
    if not ops:
        return m_field(rng, data, ctx)
    op, position = rng.choice(ops)
    choice = rng.random()
    if choice < 0.35:
        insert = rng.choice(PICKLE_INSERTS)
        if insert in (b'(' * 10000, b']' * 100000):
            insert = insert[:rng.choice([65, 1000, len(insert)])]
        return data[:position] + insert + data[position:]
    if choice < 0.55:  # replace an opcode byte
        data[position] = rng.choice(b'()012N}]tRbesuh\x94\x85\x86\x87\x88\x89Q.aq')
        return data
    if choice < 0.75:  # remove one opcode with its argument
        later = [p for _, p in ops if p > position]
        end = later[0] if later else len(data)
        return data[:position] + data[end:]
    # duplicate a run of opcodes
    positions = [p for _, p in ops]
    i = positions.index(position)
    j = min(len(positions) - 1, i + rng.choice([1, 2, 5, 20]))
    run = data[position:positions[j]]
    return data[:position] + run * rng.choice([2, 3, 100]) + data[position:]


# --- zip-aware edits: rebuild an archive around a mutated member, keeping CRCs valid ---

def m_zip_member(rng, data, ctx):
    try:
        source = zipfile.ZipFile(io.BytesIO(bytes(data)))
        infos = source.infolist()
        members = [(info, source.read(info)) for info in infos]
    except Exception:
        return m_field(rng, data, ctx)
    if not members:
        return data
    inner = ctx['member_kind']
    candidates = [i for i, (info, _) in enumerate(members)
                  if (inner == 'pickle' and info.filename.endswith('.pkl')) or (inner == 'npy' and info.filename.endswith('.npy'))]
    index = rng.choice(candidates) if candidates and rng.random() < 0.8 else rng.randrange(len(members))
    info, payload = members[index]
    member = bytearray(payload)
    member_ctx = {'fields': LOCATORS[inner](member) if inner in LOCATORS else [], 'header_end': 256,
                  'splice': [], 'member_kind': None}
    special = m_pickle if inner == 'pickle' else m_npy_header
    for _ in range(rng.choice([1, 1, 2])):
        if rng.random() < 0.6:
            member = bytearray(special(rng, member, member_ctx))
        else:
            member = bytearray(rng.choice([m_bitflip, m_field, m_truncate, m_byteset])(rng, member, member_ctx))
    edit = rng.random()
    out = io.BytesIO()
    method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]) if rng.random() < 0.3 else None
    with zipfile.ZipFile(out, 'w') as target:
        for i, (old, content) in enumerate(members):
            if i == index and edit < 0.1:
                continue  # the member removed
            name = old.filename
            if i == index and 0.1 <= edit < 0.2:
                name = rng.choice(['../' + name, name + '\x00', '/' + name, name.upper(), name * 4])
            new = zipfile.ZipInfo(name, date_time=old.date_time)
            new.compress_type = method if method is not None else old.compress_type
            target.writestr(new, bytes(member) if i == index else content)
        if 0.2 <= edit < 0.3:  # a duplicated member name
            dup = zipfile.ZipInfo(infos[index].filename)
            target.writestr(dup, bytes(member))
    return out.getvalue()


def m_zip_deflate_bomb(rng, data, ctx):
    """A member replaced by one that inflates far beyond its stored size."""
    try:
        source = zipfile.ZipFile(io.BytesIO(bytes(data)))
        members = [(info, source.read(info)) for info in source.infolist()]
    except Exception:
        return m_field(rng, data, ctx)
    if not members:
        return data
    index = rng.randrange(len(members))
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as target:
        for i, (old, content) in enumerate(members):
            if i == index:
                content = content + b'\x00' * rng.choice([1 << 20, 1 << 24, 1 << 26])
            target.writestr(zipfile.ZipInfo(old.filename, date_time=old.date_time), content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


# --- text edits (merges.txt, chat templates) ---

TEMPLATE_INSERTS = ['{% for i in range(999999999) %}x{% endfor %}', '{{ ' + '(' * 500 + '1' + ')' * 500 + ' }}',
                    '{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}', "{{ ''.__class__ }}", '{% if %}', '{{',
                    '{% for m in messages %}{% for n in messages %}{{ n }}{% endfor %}{% endfor %}',
                    '{{ "x" * 100000000 }}', '{% set x = x %}', '{{ raise_exception("boom") }}']


def m_text(rng, data, ctx):
    text = bytes(data).decode('utf-8', 'replace')
    lines = text.split('\n')
    choice = rng.random()
    if choice < 0.3 and ctx.get('template'):
        at = rng.randrange(len(text) + 1)
        return (text[:at] + rng.choice(TEMPLATE_INSERTS) + text[at:]).encode()
    if choice < 0.5 and lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i] * (rng.choice([2, 1000]) if len(lines[i]) < 1000 else 2))
    elif choice < 0.65 and lines:
        del lines[rng.randrange(len(lines))]
    elif choice < 0.75:
        lines.append(rng.choice(['a', 'a b c', ' ', '\x00 \x00', 'Ġ' * 20000 + ' x', '#version: 0.2']))
    else:
        return bytes(rng.choice([m_bitflip, m_byteset, m_truncate, m_duplicate])(rng, bytearray(data), ctx))
    return '\n'.join(lines).encode('utf-8', 'surrogatepass')


def m_json_file(rng, data, ctx):
    return json_text_mutation(rng, bytes(data).decode('utf-8', 'replace'))


SPECIAL = {
    'safetensors': [(m_safetensors_header, 6)],
    'npy': [(m_npy_header, 6)],
    'zip-pickle': [(m_zip_member, 8), (m_zip_deflate_bomb, 1)],
    'zip-npy': [(m_zip_member, 8), (m_zip_deflate_bomb, 1)],
    'pickle': [(m_pickle, 8)],
    'gguf': [(m_field, 6)],
    'kiln': [(m_field, 6)],
    'llama2c': [(m_field, 4)],
    'llmc': [(m_field, 4)],
    'json': [(m_json_file, 12)],
    'text': [(m_text, 12)],
    'template': [(m_text, 12)],
}
LOCATOR_OF = {'safetensors': 'safetensors', 'npy': 'npy', 'zip-pickle': 'zip', 'zip-npy': 'zip', 'pickle': 'pickle',
              'gguf': 'gguf', 'kiln': 'kiln', 'llama2c': 'llama2c', 'llmc': 'llmc'}


def header_end(kind, data):
    try:
        if kind == 'safetensors':
            return 8 + struct.unpack_from('<Q', data, 0)[0]
        if kind in ('gguf', 'kiln'):
            fields = LOCATORS[kind](data)
            return max(o + w for o, w in fields) if fields else 4096
        if kind in ('llama2c', 'llmc'):
            return 1024
    except struct.error:
        pass
    return None


def mutate(rng, data, kind, splice, member_kind=None):
    """Applies one to four mutations of the kind's mix to data; returns (bytes, names)."""
    data = bytearray(data)
    original_kind = kind
    ctx = {'fields': LOCATORS[LOCATOR_OF[kind]](data) if kind in LOCATOR_OF else [],
           'header_end': header_end(kind, data), 'splice': splice, 'member_kind': member_kind,
           'template': kind == 'template'}
    mix = SPECIAL.get(kind, []) + GENERIC
    names = []
    # Stacked duplications grow a file geometrically (a 2 MB vocabulary reached gigabytes in
    # this process): a mutant is cut to four times its seed plus 1 MiB.
    cap = 4 * len(data) + (1 << 20)
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        function = rng.choices([f for f, _ in mix], weights=[w for _, w in mix])[0]
        data = bytearray(function(rng, data, ctx))
        if len(data) > cap:
            del data[cap:]
        names.append(function.__name__[2:])
    if original_kind == 'kiln' and rng.random() < 0.8:
        data = kiln_fix_checksum(data)
        names.append('checksum-fixed')
    return bytes(data), names


# ---------------------------------------------------------------------------------------------
# Seeds: every format Kiln reads, grouped by reader.

class Seed:
    """A directory of files; `main` is what the tools are given; `mutable` maps files to kinds."""

    def __init__(self, reader, directory, main, mutable, model=False, tokenizer=False, weight=1.0):
        self.reader, self.directory, self.main = reader, Path(directory), main
        self.mutable, self.model, self.tokenizer, self.weight = mutable, model, tokenizer, weight
        self.name = f'{Path(directory).name}/{main}'


def single(reader, path, kind, staging, model=False, tokenizer=False, name=None):
    """A seed of one file, staged alone in its own directory (so side files do not leak in)."""
    path = Path(path)
    directory = staging / reader / (name or path.name)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / path.name
    if not target.exists():
        shutil.copyfile(path, target)
    return Seed(reader, directory, path.name, {path.name: kind}, model, tokenizer)


def folder(reader, source, main, kinds, staging, model=False, name=None):
    directory = staging / reader / (name or Path(source).name)
    if not directory.exists():
        shutil.copytree(source, directory)
    mutable = {}
    for file in sorted(os.listdir(directory)):
        for suffix, kind in kinds.items():
            if file.endswith(suffix):
                mutable[file] = kind
                break
    return Seed(reader, directory, main, mutable, model)


def run_quiet(command):
    return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def prepare_seeds(staging, kiln, use_models):
    """Collects the seeds; derived files (.kiln raw/compressed/quantised, GGUF with a tokenizer,
    plain pickles) are made here with the tools and Python's pickle."""
    F = REPO / 'Fixtures'
    derived = staging / 'derived'
    derived.mkdir(parents=True, exist_ok=True)
    writer = F / 'models' / 'writer-llama' / 'model.safetensors'
    made = {}
    for name, extra in [('writer.kiln', []), ('writer-zstd.kiln', ['--compress', '3']),
                        ('writer-q8.kiln', ['--quantize', 'q8_0']), ('writer.gguf', []),
                        ('hf-llama.kiln', ['--compress', '1'])]:
        source = F / 'diff' / 'llama_hf' / 'model.safetensors' if name.startswith('hf-') else writer
        out = derived / name
        if not out.exists():
            result = run_quiet([kiln, 'convert', str(source), '-o', str(out)] + extra)
            if result.returncode != 0:
                print(f'note: could not make {name}: {result.stderr.strip()}', file=sys.stderr)
                continue
        made[name] = out
    plain = {'a': [1, 2.5, 'x', (1, 2), None, True], 'b': {'c': b'bytes', 'd': list(range(40))}, 'e': 2 ** 70}
    for protocol in (0, 2, 4, 5):
        out = derived / f'plain-p{protocol}.pkl'
        out.write_bytes(pickle.dumps(plain, protocol=protocol))
        made[out.name] = out
    with zipfile.ZipFile(F / 'pytorch' / 'state_dict.pt') as archive:
        (derived / 'state_dict-data.pkl').write_bytes(archive.read('state_dict/data.pkl'))
    made['state_dict-data.pkl'] = derived / 'state_dict-data.pkl'

    seeds = {}

    def add(seed):
        seeds.setdefault(seed.reader, []).append(seed)

    for p in sorted((F / 'safetensors').glob('*.safetensors')) + [F / 'diff' / 'plain_a.safetensors']:
        add(single('safetensors', p, 'safetensors', staging))
    add(folder('safetensors-sharded', F / 'safetensors' / 'sharded', 'model.safetensors.index.json',
               {'.json': 'json', '.safetensors': 'safetensors'}, staging))
    for p in sorted((F / 'gguf').glob('*.gguf')) + [F / 'diff' / 'llama.gguf', F / 'diff' / 'quant.gguf']:
        add(single('gguf', p, 'gguf', staging))
    if 'writer.gguf' in made:
        add(single('gguf', made['writer.gguf'], 'gguf', staging, model=True))
    for p in sorted((F / 'pytorch').glob('*.pt')) + [F / 'pytorch' / 'gpt2_tiny' / 'pytorch_model.bin']:
        if p.read_bytes()[:2] == b'PK':
            add(single('pytorch', p, 'zip-pickle', staging, name=p.parent.name + '-' + p.name))
    add(folder('pytorch', F / 'models' / 'tiny-gpt2-pt', 'pytorch_model.bin',
               {'.bin': 'zip-pickle', '.json': 'json'}, staging))
    add(folder('pytorch-sharded', F / 'models' / 'tiny-llama-pt-sharded', 'pytorch_model.bin.index.json',
               {'.json': 'json', '.bin': 'zip-pickle'}, staging))
    add(single('pickle', F / 'pytorch' / 'legacy.pt', 'pickle', staging))
    for name in ('plain-p0.pkl', 'plain-p2.pkl', 'plain-p4.pkl', 'plain-p5.pkl', 'state_dict-data.pkl'):
        add(single('pickle', made[name], 'pickle', staging))
    for p in sorted((F / 'numpy').glob('*.npy')):
        add(single('npy', p, 'npy', staging))
    for p in sorted((F / 'numpy').glob('*.npz')):
        add(single('npz', p, 'zip-npy', staging))
    for p in sorted((F / 'llama2c').glob('*.bin')):
        add(single('llama2c', p, 'llama2c', staging))
    for p in sorted((F / 'llmc').glob('*.bin')):
        add(single('llmc', p, 'llmc', staging))
    for p in sorted((F / 'fuzz' / 'seeds' / 'kiln').glob('*.kiln')):
        add(single('kiln', p, 'kiln', staging))
    for name in ('writer.kiln', 'writer-zstd.kiln', 'writer-q8.kiln', 'hf-llama.kiln'):
        if name in made:
            add(single('kiln', made[name], 'kiln', staging, model=True))
    side = {'.safetensors': 'safetensors', 'config.json': 'json', 'tokenizer.json': 'json', 'vocab.json': 'json',
            '.txt': 'text', '.jinja': 'template'}
    add(folder('hf-folder', F / 'diff' / 'llama_hf', 'model.safetensors', side, staging, model=True))
    add(folder('hf-folder', F / 'models' / 'writer-llama', 'model.safetensors', side, staging, model=True))
    add(folder('hf-folder', F / 'models' / 'tiny-qwen2', 'model.safetensors', side, staging))
    if use_models:
        vocab = REPO / '.models' / 'vocab' / 'ggml-vocab-gpt-2.gguf'
        if vocab.exists():
            seed = single('gguf-vocab', vocab, 'gguf', staging, tokenizer=True)
            add(seed)
        real = REPO / '.models' / 'SmolLM2-135M-Instruct.Q4_1.gguf'
        if real.exists():
            seed = single('real-model', real, 'gguf', staging, model=True)
            seed.weight = 0.1  # 98 MB and a real forward pass: a tenth of the iterations
            add(seed)
    # Splice partners: every seed file of the same reader.
    return seeds


# ---------------------------------------------------------------------------------------------
# Running the tools under limits.

class Limits:
    def __init__(self, cpu_seconds, wall_seconds, address_space_mb, rss_mb, file_mb):
        self.cpu, self.wall, self.address_space, self.rss, self.file = cpu_seconds, wall_seconds, address_space_mb, rss_mb, file_mb


def _ends(data, keep=10000):
    """The beginning and end of a tool's output (a verdict may follow a long listing)."""
    if len(data) > 2 * keep:
        data = data[:keep] + b'\n[...]\n' + data[-keep:]
    return data.decode('utf-8', 'replace')


GNU_TIME = '/usr/bin/time' if os.access('/usr/bin/time', os.X_OK) else None


def run_limited(command, cwd, limits):
    """Runs command with RLIMIT_CPU/AS/FSIZE/CORE and a wall-clock timeout.

    Returns (status, signal, timed_out, maxrss_kb, seconds, stderr, stdout). Peak RSS comes from
    GNU time when there is one: the rusage of a child forked from this (large) Python process
    counts the pages it shared with Python before exec, so it would overstate every run.
    """
    def preexec():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu, limits.cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.address_space << 20, limits.address_space << 20))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file << 20, limits.file << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    err_path, out_path, time_path = Path(cwd) / '.stderr', Path(cwd) / '.stdout', Path(cwd) / '.time'
    argv = [GNU_TIME, '-f', '%x %M', '-o', str(time_path)] + list(command) if GNU_TIME else list(command)
    start = time.monotonic()
    with open(err_path, 'wb') as err, open(out_path, 'wb') as out:
        process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   preexec_fn=preexec, env=dict(os.environ, SWIFT_BACKTRACE='enable=no'))
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(limits.wall, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = 0  # reaped here; keeps Popen from waiting again
    seconds = time.monotonic() - start
    stderr, stdout = (_ends(path.read_bytes()) for path in (err_path, out_path))
    err_path.unlink()
    out_path.unlink()
    maxrss = usage.ru_maxrss
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    if GNU_TIME and time_path.exists():
        lines = time_path.read_text(errors='replace').strip().splitlines()
        time_path.unlink()
        if lines:
            fields = lines[-1].split()
            if len(fields) == 2 and fields[1].isdigit():
                maxrss = int(fields[1])
            terminated = re.search(r'terminated by signal (\d+)', ' '.join(lines))
            if terminated:
                code, sig = None, int(terminated.group(1))
            elif code is not None and fields and fields[0].lstrip('-').isdigit():
                code = int(fields[0])
    return code, sig, timed_out.is_set(), maxrss, seconds, stderr, stdout


def classify(result, limits, input_bytes, tool, verb):
    """The finding's kind for one run, or None when the run kept Kiln's contract."""
    status, sig, timed_out, maxrss_kb, _, stderr, stdout = result
    if timed_out:
        return 'hang-wall'
    if sig == signal.SIGXCPU or sig == signal.SIGKILL and not timed_out:
        return 'hang-cpu'
    if sig is not None:
        return f'signal-{signal.Signals(sig).name}'
    if status not in (0, 1, 2):
        return f'exit-{status}'
    if maxrss_kb > limits.rss * 1024:
        return 'memory'
    match = re.search(r'cannot allocate (\d+) bytes', stderr)
    if match and int(match.group(1)) > max(64 << 20, 64 * input_bytes):
        return 'alloc-from-claim'
    if status != 0 and f'{tool}: error:' not in stderr and not (verb == 'verify' and 'FAIL' in stdout):
        return 'no-error-line'
    return None


def case_commands(seed, main, rng, kiln, kiln_run):
    """The commands for one mutant: (tool name, verb, argv)."""
    commands = [('kiln', 'inspect', [kiln, 'inspect', main]), ('kiln', 'verify', [kiln, 'verify', main])]
    extension = rng.choice(['kiln', 'kiln', 'gguf', 'safetensors'])
    extra = rng.choice([[], [], ['--compress', '1'], ['--dtype', 'f16'], ['--quantize', 'q8_0']] if extension == 'kiln' else [[], ['--dtype', 'f32']])
    commands.append(('kiln', 'convert', [kiln, 'convert', main, '-o', f'out/converted.{extension}'] + extra))
    if seed.model:
        commands.append(('kiln-run', 'generate', [kiln_run, 'generate', main, '-p', 'Hello world', '-n', '2', '--temp', '0',
                                                  '--ctx', '64', '--threads', '1']))
    if seed.tokenizer:
        commands.append(('kiln-run', 'tokenize', [kiln_run, 'tokenize', main, 'Hello, world! 123 ünïcode <|endoftext|>']))
    return commands


def litter(case):
    """What a failed convert left in the output directory."""
    return sorted(os.listdir(case / 'out'))


BIG_FILE = 16 << 20
HEAD_OF_BIG_FILE = 4 << 20


class Fuzzer:
    def __init__(self, args, seeds, kiln, kiln_run, work):
        self.args, self.seeds, self.kiln, self.kiln_run, self.work = args, seeds, kiln, kiln_run, work
        self.limits = Limits(args.cpu_seconds, args.timeout, args.address_space_mb, args.rss_mb, args.file_mb)
        self.findings_dir = Path(args.findings)
        self.lock = threading.Lock()
        self.stats = {reader: {'mutants': 0, 'executions': 0, 'exit0': 0, 'exit1': 0, 'exit2': 0, 'findings': 0,
                               'max_rss_mb': 0.0, 'max_seconds': 0.0, 'seconds': 0.0, 'seeds': len(s)}
                      for reader, s in seeds.items()}
        self.signatures = {}
        self.findings = []
        self.harness_errors = 0
        self.exit2 = {reader: {} for reader in seeds}
        self.splice = {}
        for reader, list_ in seeds.items():
            files = []
            for seed in list_:
                for file, kind in seed.mutable.items():
                    if (seed.directory / file).stat().st_size <= (8 << 20):
                        files.append((kind, (seed.directory / file).read_bytes()))
            self.splice[reader] = files

    def rng_for(self, reader, iteration):
        digest = hashlib.sha256(f'{self.args.seed}:{reader}:{iteration}'.encode()).digest()
        return random.Random(int.from_bytes(digest[:8], 'little'))

    def make_case(self, reader, iteration, case):
        """Builds mutant (reader, iteration) in directory case; returns (seed, file, names, rng)."""
        rng = self.rng_for(reader, iteration)
        seeds = self.seeds[reader]
        seed = rng.choice(seeds)
        if case.exists():
            shutil.rmtree(case)
        shutil.copytree(seed.directory, case)
        (case / 'out').mkdir()
        files = list(seed.mutable)
        target = seed.main if seed.main in seed.mutable and (len(files) == 1 or rng.random() < 0.6) else rng.choice(files)
        kind = seed.mutable[target]
        path = case / target
        size = path.stat().st_size
        # A big file (the real model) is mutated in its first 4 MiB (header, vocabulary) and
        # not held in memory whole.
        head_size = size if size <= BIG_FILE else HEAD_OF_BIG_FILE
        with open(path, 'rb') as file:
            original = file.read(head_size)
        splice = [d for k, d in self.splice[reader] if k == kind] or [d for _, d in self.splice[reader]]
        if rng.random() < 0.1:  # sometimes another reader's bytes
            other = rng.choice(sorted(self.splice))
            splice = [d for _, d in self.splice[other]] or splice
        member = 'pickle' if kind == 'zip-pickle' else 'npy' if kind == 'zip-npy' else None
        mutated, names = mutate(rng, original, kind, splice, member)
        if head_size == size:
            path.write_bytes(mutated)
        else:
            rest = case / (target + '.rest')
            path.rename(rest)
            with open(rest, 'rb') as source, open(path, 'wb') as out:
                out.write(mutated)
                source.seek(head_size)
                shutil.copyfileobj(source, out, 1 << 20)
            rest.unlink()
        return seed, target, names, rng

    def one(self, reader, iteration, slot):
        case = self.work / f'case-{slot}'
        seed, target, names, rng = self.make_case(reader, iteration, case)
        main = seed.main
        input_bytes = sum(f.stat().st_size for f in case.iterdir() if f.is_file())
        results = []
        for tool, verb, command in case_commands(seed, main, rng, self.kiln, self.kiln_run):
            result = run_limited(command, case, self.limits)
            kind = classify(result, self.limits, input_bytes, tool, verb)
            if verb == 'convert' and result[0] not in (0, None) and kind is None:
                left = litter(case)
                if left:
                    kind = 'convert-litter'
            results.append((tool, verb, command, result, kind))
            if verb == 'convert':
                shutil.rmtree(case / 'out')
                (case / 'out').mkdir()
        with self.lock:
            stats = self.stats[reader]
            stats['mutants'] += 1
            for tool, verb, command, result, kind in results:
                stats['executions'] += 1
                status = result[0]
                if status in (0, 1, 2):
                    stats[f'exit{status}'] += 1
                if status == 2:  # usage and I/O errors: kept by message, to review against the contract
                    line = next((l for l in result[5].splitlines() if 'error:' in l), '')
                    line = re.sub(r'\d+', 'N', line.split(': error: ', 1)[-1])
                    line = re.sub(r"'[^']*'", "'…'", line)[:140]
                    self.exit2[reader][line] = self.exit2[reader].get(line, 0) + 1
                stats['max_rss_mb'] = max(stats['max_rss_mb'], round(result[3] / 1024, 1))
                stats['max_seconds'] = max(stats['max_seconds'], round(result[4], 2))
                stats['seconds'] += result[4]
                if kind:
                    self.record(reader, iteration, seed, target, names, case, tool, verb, command, result, kind)

    def record(self, reader, iteration, seed, target, names, case, tool, verb, command, result, kind):
        status, sig, timed_out, maxrss_kb, seconds, stderr, stdout = result
        first = next((line for line in stderr.splitlines() if line.strip()), '')
        signature = (reader, verb, kind, re.sub(r'\d+', 'N', first)[:120])
        self.stats[reader]['findings'] += 1
        count = self.signatures.get(signature, 0)
        self.signatures[signature] = count + 1
        entry = {'reader': reader, 'iteration': iteration, 'seed': seed.name, 'mutated': target, 'mutations': names,
                 'tool': tool, 'verb': verb, 'kind': kind, 'status': status,
                 'signal': signal.Signals(sig).name if sig else None, 'max_rss_mb': round(maxrss_kb / 1024, 1),
                 'seconds': round(seconds, 2), 'stderr': stderr[-2000:], 'stdout': stdout[-1000:]}
        if count >= self.args.keep_per_signature:
            return
        directory = self.findings_dir / reader / f'{iteration:06d}-{verb}-{kind}'
        if directory.exists():
            shutil.rmtree(directory)
        shutil.copytree(case, directory, ignore=shutil.ignore_patterns('out', '.stderr', '.stdout', '.time'))
        (directory / 'out').mkdir()
        shown = ' '.join(shlex.quote(str(c)) for c in command)
        limits = self.limits
        (directory / 'command.sh').write_text(
            f'#!/bin/sh\n# {kind}: {reader} iteration {iteration} (seed {self.args.seed}), {seed.name}, '
            f'mutated {target} by {names}\ncd "$(dirname "$0")"\n'
            f'ulimit -t {limits.cpu}\nulimit -v {limits.address_space << 10}\nexec {shown}\n')
        (directory / 'finding.json').write_text(json.dumps(entry, indent=1) + '\n')
        entry['directory'] = str(directory)
        self.findings.append(entry)
        print(f'FINDING {kind}: {reader} #{iteration} {verb} → {entry["status"] or entry["signal"]} '
              f'({entry["max_rss_mb"]} MB, {entry["seconds"]} s) {first[:160]}', flush=True)

    def run(self):
        start = time.monotonic()
        readers = sorted(self.seeds)
        schedule = []
        for iteration in range(self.args.iterations):
            for reader in readers:
                weight = min(seed.weight for seed in self.seeds[reader])
                if weight < 1 and iteration % round(1 / weight) != 0:
                    continue
                schedule.append((reader, iteration))
        deadline = start + self.args.max_seconds
        slots = list(range(self.args.jobs))
        slot_lock = threading.Lock()
        done = [0]

        def task(item):
            if time.monotonic() > deadline:
                return
            with slot_lock:
                slot = slots.pop()
            try:
                self.one(*item, slot)
            except Exception as error:  # a bug of this script: say so, and go on
                print(f'harness error on {item}: {error!r}', flush=True)
                with self.lock:
                    self.harness_errors += 1
            finally:
                with slot_lock:
                    slots.append(slot)
                    done[0] += 1
                    if done[0] % 500 == 0:
                        total = sum(s['executions'] for s in self.stats.values())
                        print(f'… {done[0]}/{len(schedule)} mutants, {total} executions, '
                              f'{len(self.findings)} findings kept, {time.monotonic() - start:.0f} s', flush=True)

        with ThreadPoolExecutor(self.args.jobs) as pool:
            for _ in pool.map(task, schedule):
                pass
        return time.monotonic() - start


# ---------------------------------------------------------------------------------------------
# Minimising a finding: drop chunks of the mutated file while the same kind of finding remains.

def minimize(directory, limits, budget=400):
    info = json.loads((directory / 'finding.json').read_text())
    command_line = (directory / 'command.sh').read_text().strip().splitlines()[-1][len('exec '):]
    command = shlex.split(command_line)
    path = directory / info['mutated']
    data = path.read_bytes()
    input_extra = sum(f.stat().st_size for f in directory.iterdir() if f.is_file()) - len(data)

    def still(candidate):
        path.write_bytes(candidate)
        result = run_limited(command, directory, limits)
        kind = classify(result, limits, input_extra + len(candidate), info['tool'], info['verb'])
        return kind == info['kind']

    runs = 0
    chunk = max(1, len(data) // 2)
    while chunk >= 1 and runs < budget:
        i = 0
        changed = False
        while i < len(data) and runs < budget:
            candidate = data[:i] + data[i + chunk:]
            runs += 1
            if candidate and still(candidate):
                data = candidate
                changed = True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    path.write_bytes(data)
    return len(data), runs


def main():
    warnings.simplefilter('ignore')  # zipfile warns about the duplicate names it is asked to write
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--kiln', default=str(REPO / '.build' / 'release' / 'kiln'))
    parser.add_argument('--kiln-run', default=str(REPO / '.build' / 'release' / 'kiln-run'))
    parser.add_argument('--iterations', type=int, default=1000, help='mutants per reader (default 1000)')
    parser.add_argument('--max-seconds', type=float, default=3600, help='stop starting mutants after this long')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--readers', help='comma-separated readers (default: all)')
    parser.add_argument('--jobs', type=int, default=1)
    parser.add_argument('--findings', default=str(REPO / '.build' / 'mutate-findings'))
    parser.add_argument('--summary', help='write the per-reader figures as JSON here')
    parser.add_argument('--cpu-seconds', type=int, default=10, help='RLIMIT_CPU of each run (a hang)')
    parser.add_argument('--timeout', type=float, default=60, help='wall-clock limit of each run (a hang)')
    parser.add_argument('--address-space-mb', type=int, default=4096, help='RLIMIT_AS of each run')
    parser.add_argument('--rss-mb', type=int, default=1024, help='peak RSS above this is a finding')
    parser.add_argument('--file-mb', type=int, default=2048, help='RLIMIT_FSIZE of each run')
    parser.add_argument('--keep-per-signature', type=int, default=3, help='findings saved per distinct kind and message')
    parser.add_argument('--no-models', action='store_true', help='leave out the vocabulary and real model in .models/')
    parser.add_argument('--replay', help='READER:ITERATION: rebuild that mutant into --findings/replay and run it')
    parser.add_argument('--minimize', action='store_true', help='shrink each saved finding (its mutated file)')
    args = parser.parse_args()

    args.kiln, args.kiln_run = os.path.abspath(args.kiln), os.path.abspath(args.kiln_run)  # runs are in case folders
    for tool in (args.kiln, args.kiln_run):
        if not os.access(tool, os.X_OK):
            sys.exit(f'{tool} is not built: swift build -c release')
    work = Path(tempfile.mkdtemp(prefix='kiln-mutate-', dir='/dev/shm' if os.path.isdir('/dev/shm') else None))
    try:
        seeds = prepare_seeds(work / 'seeds', args.kiln, not args.no_models)
        if args.readers:
            wanted = args.readers.split(',')
            unknown = [r for r in wanted if r not in seeds]
            if unknown:
                sys.exit(f'unknown readers {unknown}; readers: {", ".join(sorted(seeds))}')
            seeds = {r: seeds[r] for r in wanted}
        fuzzer = Fuzzer(args, seeds, args.kiln, args.kiln_run, work)
        if args.replay:
            reader, iteration = args.replay.rsplit(':', 1)
            case = Path(args.findings) / 'replay'
            case.parent.mkdir(parents=True, exist_ok=True)
            seed, target, names, rng = fuzzer.make_case(reader, int(iteration), case)
            print(f'{reader} #{iteration}: {seed.name}, mutated {target} by {names}, in {case}')
            for tool, verb, command in case_commands(seed, seed.main, rng, args.kiln, args.kiln_run):
                result = run_limited(command, case, fuzzer.limits)
                kind = classify(result, fuzzer.limits, 0, tool, verb)
                print(f'{verb}: status {result[0]} signal {result[1]} rss {result[3] // 1024} MB '
                      f'{result[4]:.2f} s {kind or "ok"}\n{result[5].strip()[:500]}')
            return
        print(f'seeds: ' + ', '.join(f'{r} {len(s)}' for r, s in sorted(seeds.items())), flush=True)
        elapsed = fuzzer.run()
        if args.minimize:
            for finding in fuzzer.findings:
                size, runs = minimize(Path(finding['directory']), fuzzer.limits)
                print(f'minimised {finding["directory"]} to {size} bytes in {runs} runs')
        print(f'\n{"reader":20} {"seeds":>5} {"mutants":>8} {"execs":>8} {"exit 0":>7} {"exit 1":>7} {"exit 2":>7} '
              f'{"findings":>8} {"max RSS MB":>10} {"max s":>6}')
        for reader, s in sorted(fuzzer.stats.items()):
            print(f'{reader:20} {s["seeds"]:5} {s["mutants"]:8} {s["executions"]:8} {s["exit0"]:7} {s["exit1"]:7} '
                  f'{s["exit2"]:7} {s["findings"]:8} {s["max_rss_mb"]:10} {s["max_seconds"]:6}')
        total = sum(s['executions'] for s in fuzzer.stats.values())
        print(f'{total} executions in {elapsed:.0f} s (seed {args.seed}); {sum(fuzzer.signatures.values())} findings, '
              f'{len(fuzzer.signatures)} distinct; kept in {args.findings}; {fuzzer.harness_errors} harness errors')
        for signature, count in sorted(fuzzer.signatures.items()):
            print(f'  {count:5} × {signature}')
        print('exit status 2 (usage and I/O errors) by message:')
        for reader, messages in sorted(fuzzer.exit2.items()):
            for message, count in sorted(messages.items(), key=lambda item: -item[1])[:10]:
                print(f'  {reader:20} {count:5} × {message}')
        if args.summary:
            Path(args.summary).write_text(json.dumps({'seed': args.seed, 'seconds': round(elapsed), 'readers': fuzzer.stats,
                                                      'harness_errors': fuzzer.harness_errors, 'exit2': fuzzer.exit2,
                                                      'signatures': [list(k) + [v] for k, v in fuzzer.signatures.items()],
                                                      'findings': fuzzer.findings}, indent=1) + '\n')
        sys.exit(1 if fuzzer.signatures else 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
