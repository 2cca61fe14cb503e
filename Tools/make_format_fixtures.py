#!/usr/bin/env python3
"""Generate the fixtures of Kiln's other format readers with the real libraries.

Writes (relative to the repository root):

    Fixtures/pytorch/*          torch.save checkpoints (zip, legacy, nanoGPT, HF GPT-2) + *.expected.json
    Fixtures/numpy/*            .npy v1/v2/v3, Fortran order, big-endian, bool, .npz stored/deflated
    Fixtures/llama2c/*.bin      llama2.c v0/v1/v2 (a transcription of export.py)
    Fixtures/llmc/*.bin         llm.c GPT-2 v3 (fp32) and v5 (bf16) (train_gpt2.py write_model)
    Fixtures/safetensors/sharded/   a two-shard set with model.safetensors.index.json
    Fixtures/malformed/{pytorch,numpy,llama2c,llmc,sharded}/   hostile and broken files

Needs: torch, numpy, safetensors, xxhash, and optionally transformers (for the GPT-2 state
dict; a hand-made one with the same names is used otherwise). See Tools/requirements-fixtures.txt.

Expected values (`<file>.expected.json`): for every tensor its name (as Kiln's reader names
it), Kiln element type, shape and the hex of its raw little-endian C-order bytes as the
Python library reads them back (`torch.load(weights_only=True)`, `numpy.load`), plus the
metadata the reader should report.

Random values come from the SplitMix64 generator of Tools/make_fixtures.py (stable across
numpy versions). Nothing here ever loads a hostile pickle except through
`torch.load(weights_only=True)`, which refuses it.

Usage:
    python3 Tools/make_format_fixtures.py          # (re)write fixtures
    python3 Tools/make_format_fixtures.py --check  # exit 1 if any fixture would change
"""

from __future__ import annotations

import argparse
import builtins
import collections
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import webbrowser
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (shared deterministic generator and Writer)

ROOT = mf.ROOT
FIX = ROOT / "Fixtures"

KILN_TORCH = {
    torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16", torch.float64: "f64",
    torch.int8: "i8", torch.int16: "i16", torch.int32: "i32", torch.int64: "i64",
    torch.uint8: "u8", torch.bool: "bool",
}
KILN_NUMPY = {
    "f2": "f16", "f4": "f32", "f8": "f64", "i1": "i8", "i2": "i16", "i4": "i32", "i8": "i64",
    "u1": "u8", "u2": "u16", "u4": "u32", "u8": "u64", "b1": "bool",
}


def dump_json(obj) -> bytes:
    return mf.dump_json(obj)


# --------------------------------------------------------------------------
# Deterministic tensors
# --------------------------------------------------------------------------

def t_f32(name, shape, scale=1.0):
    return torch.from_numpy(mf.rand_f32(name, shape, scale).copy())


def t_of(name, shape, dtype):
    if dtype == torch.float32:
        return t_f32(name, shape)
    if dtype == torch.float16:
        return torch.from_numpy(mf.rand_f16(name, shape).copy())
    if dtype == torch.bfloat16:
        return t_f32(name, shape).to(torch.bfloat16)
    if dtype == torch.float64:
        return torch.from_numpy(mf.rand_f64(name, shape).copy())
    if dtype == torch.bool:
        return torch.from_numpy((mf.rand_u64(name, int(np.prod(shape))) & np.uint64(1)).astype(np.bool_).reshape(shape))
    npdt = {torch.int8: np.int8, torch.int16: np.int16, torch.int32: np.int32, torch.int64: np.int64,
            torch.uint8: np.uint8}[dtype]
    return torch.from_numpy(mf.rand_int(name, shape, npdt).copy())


def torch_hex(t: torch.Tensor) -> str:
    c = t.detach().contiguous().reshape(-1)
    return c.view(torch.uint8).numpy().tobytes().hex() if c.numel() else ""


# --------------------------------------------------------------------------
# What Kiln's PyTorch reader should report (a Python port of TorchObjectTree)
# --------------------------------------------------------------------------

WEIGHT_KEYS = ["model", "state_dict", "model_state_dict"]


def holds_tensor(v) -> bool:
    if isinstance(v, torch.Tensor):
        return True
    if isinstance(v, dict):
        return any(holds_tensor(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return any(holds_tensor(x) for x in v)
    return False


def flatten(v, prefix, out):
    if isinstance(v, torch.Tensor):
        out.append((prefix or "tensor", v))
    elif isinstance(v, dict):
        for k, x in v.items():
            if holds_tensor(x):
                flatten(x, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            if holds_tensor(x):
                flatten(x, f"{prefix}.{i}" if prefix else str(i), out)


def meta_value(v):
    if v is None or isinstance(v, torch.Tensor):
        return None
    if isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict):
        return {str(k): m for k, x in v.items() if (m := meta_value(x)) is not None}
    if isinstance(v, (list, tuple)):
        return [m for x in v if (m := meta_value(x)) is not None]
    return None


def torch_expected(obj, file_bytes: int) -> dict:
    found, metadata = [], {}
    if isinstance(obj, dict):
        weights = next((k for k in WEIGHT_KEYS if k in obj and holds_tensor(obj[k])), None)
        if weights is not None:
            flatten(obj[weights], "", found)
            for k, v in obj.items():
                if k != weights and not holds_tensor(v) and (m := meta_value(v)) is not None:
                    metadata[k] = m
        else:
            for k, v in obj.items():
                if holds_tensor(v):
                    flatten(v, str(k), found)
                elif (m := meta_value(v)) is not None:
                    metadata[k] = m
    else:
        flatten(obj, "", found)
    tensors = {}
    for name, t in found:
        name = name[len("_orig_mod."):] if name.startswith("_orig_mod.") else name
        assert name not in tensors, name
        tensors[name] = {"dtype": KILN_TORCH[t.dtype], "shape": list(t.shape), "hex": torch_hex(t),
                         "contiguous": bool(t.is_contiguous())}
    order = [n for n, _ in found]
    return {"file_bytes": file_bytes, "metadata": metadata, "tensors": tensors,
            "order": [n[len("_orig_mod."):] if n.startswith("_orig_mod.") else n for n in order]}


def normalize_legacy(data: bytes) -> bytes:
    """Legacy torch.save names storages by memory address (`str(storage._cdata)`), so each run
    writes different keys. Rename them to zero-padded counters of the same length, in the order
    of the key list (so it stays sorted); same lengths keep every length field valid."""
    import pickletools
    f = io.BytesIO(data)
    for _ in range(4):
        for _ in pickletools.genops(f):
            pass
    keys = [arg for op, arg, _ in pickletools.genops(f) if op.name in ("BINUNICODE", "SHORT_BINUNICODE")]
    for i, key in enumerate(keys):
        new = str(i + 1).rjust(len(key), "0")
        assert data.count(key.encode()) >= 2, key
        data = data.replace(key.encode(), new.encode())
    return data


def save_torch(w, path: Path, obj, trusted_full_load=False, **kwargs) -> dict:
    """torch.save to a temporary path named like the fixture (the zip's folder is the stem),
    read back with weights_only=True, and write file + expected JSON. torch's weights-only
    unpickler does not implement FRAME (protocol 4), so `trusted_full_load` reads those files
    (which this script just wrote from known objects) with weights_only=False."""
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / path.name
        torch.save(obj, tmp, **kwargs)
        data = tmp.read_bytes()
    if kwargs.get("_use_new_zipfile_serialization") is False:
        data = normalize_legacy(data)
        # The order of storages in a legacy file follows their memory addresses, so it changes
        # from run to run: an existing fixture is kept (and its expected values recomputed).
        if path.exists():
            data = path.read_bytes()
    loaded = torch.load(io.BytesIO(data), weights_only=not trusted_full_load)
    exp = torch_expected(loaded, len(data))
    w.write(path, data)
    w.write(path.with_name(path.name + ".expected.json"), dump_json(exp))
    return exp


def state_dict_all_dtypes():
    base = t_f32("base", (6, 8))
    sd = collections.OrderedDict()
    sd["f32"] = base
    sd["f32_row_view"] = base[2]                 # shares base's storage, offset 16: a zero-copy view
    sd["f32_block_view"] = base[1:4, 2:6]        # offset 10, strides (8, 1): gathered
    sd["f32_transposed"] = base.t()              # strides (1, 8): gathered
    sd["f32_every_third"] = base[:, ::3]         # strides (8, 3)
    sd["f32_broadcast"] = torch.arange(4, dtype=torch.float32).expand(3, 4)  # stride 0
    for dtype, shape in [(torch.float16, (5, 7)), (torch.bfloat16, (3, 9)), (torch.float64, (2, 3, 4)),
                         (torch.int8, (17,)), (torch.int16, (4, 4)), (torch.int32, (3, 1, 2)),
                         (torch.int64, (5,)), (torch.uint8, (2, 8)), (torch.bool, (11,))]:
        sd[KILN_TORCH[dtype]] = t_of(KILN_TORCH[dtype], shape, dtype)
    sd["bf16_transposed"] = sd["bf16"].t()
    sd["scalar"] = torch.tensor(3.25)
    sd["empty"] = torch.zeros(0, 3)
    sd["parameter"] = torch.nn.Parameter(t_f32("parameter", (2, 2)), requires_grad=False)
    return sd


# --------------------------------------------------------------------------
# PyTorch fixtures
# --------------------------------------------------------------------------

def nanogpt_checkpoint():
    V, C, T, L = 32, 16, 8, 2
    names = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C)}
    for i in range(L):
        names.update({f"transformer.h.{i}.ln_1.weight": (C,), f"transformer.h.{i}.attn.c_attn.weight": (3 * C, C),
                      f"transformer.h.{i}.attn.c_proj.weight": (C, C), f"transformer.h.{i}.ln_2.weight": (C,),
                      f"transformer.h.{i}.mlp.c_fc.weight": (4 * C, C), f"transformer.h.{i}.mlp.c_proj.weight": (C, 4 * C)})
    names["transformer.ln_f.weight"] = (C,)
    params = collections.OrderedDict((k, torch.nn.Parameter(t_f32(k, s, 0.1))) for k, s in names.items())
    # Weight tying as nanoGPT does it: lm_head.weight is wte.weight (one storage, two names).
    model = collections.OrderedDict(("_orig_mod." + k, p.detach()) for k, p in params.items())
    model["_orig_mod.lm_head.weight"] = model["_orig_mod.transformer.wte.weight"]
    opt = torch.optim.AdamW(list(params.values()), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    for p in params.values():
        p.grad = torch.full_like(p, 0.01)
    opt.step()
    model_args = dict(n_layer=L, n_head=2, n_embd=C, block_size=T, bias=False, vocab_size=V, dropout=0.0)
    config = {"out_dir": "out-shakespeare-char", "eval_interval": 250, "learning_rate": 6e-4, "compile": True,
              "dataset": "shakespeare_char", "betas": (0.9, 0.95), "decay_lr": True}
    return {"model": model, "optimizer": opt.state_dict(), "model_args": model_args, "iter_num": 5,
            "best_val_loss": torch.tensor(2.5), "config": config}


def gpt2_state_dict():
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
        torch.manual_seed(0)
        model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0))
        return model.state_dict(), "transformers.GPT2LMHeadModel"
    except ImportError:
        C, V, T = 32, 64, 16
        sd = collections.OrderedDict()
        sd["transformer.wte.weight"] = t_f32("wte", (V, C))
        sd["transformer.wpe.weight"] = t_f32("wpe", (T, C))
        for i in range(2):
            p = f"transformer.h.{i}."
            for n, s in [("ln_1.weight", (C,)), ("ln_1.bias", (C,)), ("attn.c_attn.weight", (C, 3 * C)),
                         ("attn.c_attn.bias", (3 * C,)), ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
                         ("ln_2.weight", (C,)), ("ln_2.bias", (C,)), ("mlp.c_fc.weight", (C, 4 * C)),
                         ("mlp.c_fc.bias", (4 * C,)), ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", (C,))]:
                sd[p + n] = t_f32(p + n, s)
        sd["transformer.ln_f.weight"] = t_f32("ln_f.w", (C,))
        sd["transformer.ln_f.bias"] = t_f32("ln_f.b", (C,))
        sd["lm_head.weight"] = sd["transformer.wte.weight"]
        return sd, "hand-made (transformers not installed)"


def rewrite_zip(data: bytes, edit) -> bytes:
    """Copies a zip member by member (stored), letting `edit(name, bytes)` replace contents."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            dst.writestr(new, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def make_pytorch(w) -> dict:
    out = FIX / "pytorch"
    results = {}
    results["state_dict.pt"] = save_torch(w, out / "state_dict.pt", state_dict_all_dtypes())
    results["protocol4.pt"] = save_torch(w, out / "protocol4.pt", state_dict_all_dtypes(), trusted_full_load=True, pickle_protocol=4)
    results["legacy.pt"] = save_torch(w, out / "legacy.pt", state_dict_all_dtypes(), _use_new_zipfile_serialization=False)
    results["ckpt.pt"] = save_torch(w, out / "ckpt.pt", nanogpt_checkpoint())
    sd, origin = gpt2_state_dict()
    results["gpt2_tiny/pytorch_model.bin"] = save_torch(w, out / "gpt2_tiny" / "pytorch_model.bin", sd)
    results["gpt2_tiny/pytorch_model.bin"]["origin"] = origin

    # Saved to a buffer: the zip's folder is "archive", not the file's name.
    buf = io.BytesIO()
    torch.save({"w": t_f32("buffer_w", (3, 4)), "n": torch.arange(5)}, buf)
    data = buf.getvalue()
    exp = torch_expected(torch.load(io.BytesIO(data), weights_only=True), len(data))
    w.write(out / "buffer_saved.pt", data)
    w.write(out / "buffer_saved.pt.expected.json", dump_json(exp))

    # Big-endian: torch writes only the machine's order, so rewrite a little-endian archive
    # (byteorder record "big", each f32 word reversed); torch.load reads it back swapped.
    buf = io.BytesIO()
    torch.save({"w": t_f32("big_w", (3, 4))}, buf)

    def to_big(name, raw):
        if name.endswith("/byteorder"):
            return b"big"
        if "/data/" in name and not name.endswith("serialization_id"):
            return np.frombuffer(raw, dtype="<f4").astype(">f4").tobytes()
        return raw
    data = rewrite_zip(buf.getvalue(), to_big)
    exp = torch_expected(torch.load(io.BytesIO(data), weights_only=True), len(data))
    w.write(out / "big_endian.pt", data)
    w.write(out / "big_endian.pt.expected.json", dump_json(exp))
    return results


# --------------------------------------------------------------------------
# Hostile pickles: what a checkpoint from a stranger may contain. Generating them only
# calls __reduce__; nothing here runs the payloads.
# --------------------------------------------------------------------------

def marker(name: str) -> str:
    return f"/tmp/kiln-pwned-{name}"


class Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class Payload:  # a plain class: pickled by NEWOBJ + BUILD as __main__.Payload (the script runs as __main__)
    def __init__(self):
        self.command = "touch " + marker("custom_class")


HOSTILE = {
    # name: (object, global the reader must name)
    "os_system": (Reduce(os.system, ("touch " + marker("os_system"),)), "posix.system"),
    "subprocess_popen": (Reduce(subprocess.Popen, (["touch", marker("subprocess_popen")],)), "commands.Popen"),
    "builtins_eval": (Reduce(builtins.eval, (f"__import__('os').system('touch {marker('builtins_eval')}')",)), "__builtin__.eval"),
    "builtins_exec": (Reduce(builtins.exec, (f"import os; os.system('touch {marker('builtins_exec')}')",)), "__builtin__.exec"),
    "shutil_copyfile": (Reduce(shutil.copyfile, ("/etc/hostname", marker("shutil_copyfile"))), "shutil.copyfile"),
    "webbrowser_open": (Reduce(webbrowser.open, ("http://127.0.0.1:9/kiln-pwned",)), "webbrowser.open"),
    "nested_pickle": (Reduce(pickle.loads, (pickle.dumps(Reduce(os.system, ("touch " + marker("nested_pickle"),)), protocol=2),)), "pickle.loads"),
    "custom_class": (Payload(), "__main__.Payload"),
}


def make_hostile(w) -> list:
    out = FIX / "malformed" / "pytorch"
    rows = []
    for name, (obj, glob) in HOSTILE.items():
        # As a torch checkpoint: a real state dict with the payload beside a real tensor, saved
        # by torch.save itself (so data.pkl is exactly what torch writes around it).
        with tempfile.TemporaryDirectory() as td:
            tmp = Path(td) / f"hostile_{name}.pt"
            torch.save({"weight": torch.ones(2, 2), "payload": obj}, tmp)
            zipped = tmp.read_bytes()
        bare = pickle.dumps(obj, protocol=2)
        for suffix, data in [("pt", zipped), ("pkl", bare)]:
            try:
                torch.load(io.BytesIO(data), weights_only=True)
                refused = "ACCEPTED"
            except Exception as e:  # torch's weights-only unpickler refuses: good
                refused = type(e).__name__
            assert refused != "ACCEPTED", (name, suffix)
            w.write(out / f"hostile_{name}.{suffix}", data)
        rows.append((name, glob))
    # Protocol 4 (STACK_GLOBAL) variant and an EXT opcode (copyreg extension registry).
    w.write(out / "hostile_stack_global.pkl", pickle.dumps(HOSTILE["os_system"][0], protocol=4))
    rows.append(("stack_global", "posix.system"))
    # Protocol 4 spells the nested loader by its real module name.
    w.write(out / "hostile_nested_pickle_p4.pkl", pickle.dumps(HOSTILE["nested_pickle"][0], protocol=4))
    rows.append(("nested_pickle_p4", "_pickle.loads"))
    w.write(out / "hostile_ext1.pkl", b"\x80\x02\x82\x01)R.")
    rows.append(("ext1", "extension-registry global #1"))
    return rows


def make_diamond(w) -> tuple:
    """A checkpoint whose object tree, unfolded, has 2^60 tensors: each level is a tuple holding
    the level below twice, which the pickle memo stores once. A small file; naming every path
    would never finish."""
    level = torch.ones(2)
    for _ in range(60):
        level = (level, level)
    buf = io.BytesIO()
    torch.save({"diamond": level}, buf)
    w.write(FIX / "malformed" / "pytorch" / "shared_diamond.pt", buf.getvalue())
    return ("shared_diamond.pt", "a dict whose value is 60 levels of tuples each holding the level below twice "
            "(shared through the memo): 2^60 tensor paths in a few KB")


def torch_zip(pkl: bytes, storages: dict, folder="archive") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        def put(name, data):
            z.writestr(zipfile.ZipInfo(f"{folder}/{name}", date_time=(1980, 1, 1, 0, 0, 0)), data)
        put("data.pkl", pkl)
        put("byteorder", b"little")
        for key, data in storages.items():
            put(f"data/{key}", data)
        put("version", b"3\n")
    return out.getvalue()


def make_malformed_pytorch(w) -> list:
    out = FIX / "malformed" / "pytorch"
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, buf)
    good = buf.getvalue()
    z = zipfile.ZipFile(io.BytesIO(good))
    folder = z.namelist()[0].split("/")[0]
    pkl = z.read(f"{folder}/data.pkl")
    storage = z.read(f"{folder}/data/0")
    assert b"K\x02K\x03\x86" in pkl and len(storage) == 24
    rows = []

    def add(name, data, purpose):
        w.write(out / name, data)
        rows.append((name, purpose))

    add("storage_too_small.pt", torch_zip(pkl, {"0": storage[:16]}),
        "the pickle declares a 6-element FloatStorage but data/0 holds 16 bytes (needs 24)")
    add("tensor_outside_storage.pt", torch_zip(pkl.replace(b"K\x02K\x03\x86", b"K\x04K\x03\x86", 1), {"0": storage}),
        "size (4, 3) with stride (3, 1) reaches element 11 of a 6-element storage")
    add("missing_storage.pt", torch_zip(pkl, {}), "the pickle references storage '0' but there is no data/0 record")
    add("unknown_opcode.pt", torch_zip(b"\x80\x02\xff" + pkl[2:], {"0": storage}), "opcode 0xff right after PROTO")
    add("memo_missing.pt", torch_zip(b"\x80\x02h\x05.", {}), "BINGET of memo entry 5, never stored")
    add("stack_underflow.pt", torch_zip(b"\x80\x02R.", {}), "REDUCE on an empty stack")
    add("string_past_end.pt", torch_zip(b"\x80\x02X\xff\xff\xff\x7fab.", {}), "BINUNICODE claims 2^31-1 bytes; 3 remain")
    add("deep_nesting.pt", torch_zip(b"\x80\x02N" + b"\x85" * 100000 + b".", {}),
        "100,000 nested 1-tuples (TUPLE1): must not overflow any stack")
    add("setitem_on_list.pt", torch_zip(b"\x80\x02]NNs.", {}), "SETITEM on a list")
    add("no_data_pkl.pt", torch_zip(b"", {}).replace(b"archive/data.pkl", b"archive/xata.pkl"),
        "a zip with no <folder>/data.pkl")
    add("truncated.pt", good[: len(good) // 2], "a valid checkpoint cut in half (no end of central directory)")
    # Encrypted flag (bit 0) set on data.pkl's central directory record.
    cd = good.find(b"PK\x01\x02")
    enc = bytearray(good)
    enc[cd + 8] |= 1
    add("encrypted_member.pt", bytes(enc), "data.pkl's central directory record has the encryption flag set")
    # ZIP64 end record pointing the central directory past the end of the file.
    bad = bytearray(good)
    z64 = good.rfind(b"PK\x06\x06")
    struct.pack_into("<Q", bad, z64 + 48, len(good) * 4)
    add("central_directory_outside.pt", bytes(bad), "ZIP64 end record puts the central directory past the end of the file")

    # Legacy format: cut, and a storage whose element count disagrees with its pickle.
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / "legacy.pt"
        torch.save({"w": torch.arange(6, dtype=torch.float32)}, tmp, _use_new_zipfile_serialization=False)
        legacy = normalize_legacy(tmp.read_bytes())
    add("legacy_truncated.pt", legacy[: len(legacy) - 10], "a legacy checkpoint missing its last 10 bytes")
    count_at = len(legacy) - 24 - 8
    assert struct.unpack_from("<q", legacy, count_at)[0] == 6
    bad = bytearray(legacy)
    struct.pack_into("<q", bad, count_at, 7)
    add("legacy_bad_count.pt", bytes(bad), "the storage section says 7 elements, the pickle 6")
    return rows


# --------------------------------------------------------------------------
# NumPy
# --------------------------------------------------------------------------

def np_expected(arrays: dict, file_bytes: int) -> dict:
    tensors = {}
    for name, a in arrays.items():
        kind = a.dtype.str[1:]
        le = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"))
        tensors[name] = {"dtype": KILN_NUMPY[kind], "shape": list(a.shape), "hex": le.tobytes().hex(),
                         "descr": a.dtype.str, "fortran_order": bool(a.flags.f_contiguous and not a.flags.c_contiguous)}
    return {"file_bytes": file_bytes, "tensors": tensors}


def npy_bytes(a, version=None) -> bytes:
    f = io.BytesIO()
    if version is None:
        np.save(f, a)
    else:
        np.lib.format.write_array(f, a, version=version)
    return f.getvalue()


def make_numpy(w) -> dict:
    out = FIX / "numpy"
    base = mf.rand_f32("np_base", (5, 7))
    files = {
        "v1_f32.npy": (base, None),
        "v2_i64.npy": (mf.rand_int("np_i64", (3, 4), np.int64), (2, 0)),
        "v3_f16.npy": (mf.rand_f16("np_f16", (4, 6)), (3, 0)),
        "fortran_f64.npy": (np.asfortranarray(mf.rand_f64("np_f64", (3, 4, 5))), None),
        "big_endian_f32.npy": (base.astype(">f4"), None),
        "big_endian_i16_fortran.npy": (np.asfortranarray(mf.rand_int("np_i16", (4, 3), np.int16).astype(">i2")), None),
        "bool.npy": (np.array([True, False, True, True, False]), None),
        "scalar_u64.npy": (np.array(0xDEADBEEFCAFEF00D, dtype=np.uint64), None),
        "empty_u8.npy": (np.zeros((0, 4), dtype=np.uint8), None),
    }
    results = {}
    for name, (a, version) in files.items():
        data = npy_bytes(a, version)
        back = np.load(io.BytesIO(data))
        assert back.dtype == a.dtype and np.array_equal(back, a)
        stem = name[:-4]
        exp = np_expected({stem: back}, len(data))
        w.write(out / name, data)
        w.write(out / (name + ".expected.json"), dump_json(exp))
        results[name] = exp
    members = {
        "weights": base,
        "ids": mf.rand_int("npz_ids", (6,), np.int32),
        "mask": np.array([[True, False], [False, True]]),
        "fortran": np.asfortranarray(mf.rand_f32("npz_fortran", (3, 5))),
        "big": mf.rand_int("npz_big", (2, 3), np.uint32).astype(">u4"),
        "half": mf.rand_f16("npz_half", (8,)),
        "nested/name": np.arange(3, dtype=np.int8),
    }
    for name, save in [("stored.npz", np.savez), ("deflated.npz", np.savez_compressed)]:
        f = io.BytesIO()
        save(f, **members)
        data = f.getvalue()
        with np.load(io.BytesIO(data)) as z:
            back = {k: z[k] for k in z.files}
        exp = np_expected(back, len(data))
        methods = {i.compress_type for i in zipfile.ZipFile(io.BytesIO(data)).infolist()}
        exp["zip_methods"] = sorted(methods)
        w.write(out / name, data)
        w.write(out / (name + ".expected.json"), dump_json(exp))
        results[name] = exp
    return results


def make_malformed_numpy(w) -> list:
    out = FIX / "malformed" / "numpy"
    rows = []

    def add(name, data, purpose):
        w.write(out / name, data)
        rows.append((name, purpose))

    good = npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3))
    add("truncated.npy", good[:-5], "data section 5 bytes short of shape (2, 3) × <f4")
    add("extra_bytes.npy", good + b"\0\0\0\0", "4 bytes after the data")
    bad = bytearray(good)
    struct.pack_into("<H", bad, 8, 0xFFFF)
    add("header_past_end.npy", bytes(bad), "v1 header length 65535 in a 152-byte file")
    add("object_dtype.npy", npy_bytes_object(), "dtype |O: elements are pickled Python objects")
    add("complex_dtype.npy", npy_bytes(np.zeros(3, dtype=np.complex64)), "dtype <c8 (complex)")
    add("structured_utf8_fields.npy", npy_bytes(np.zeros(2, dtype=[("größe", "<f4"), ("n", "<i2")])),
        "a structured dtype with UTF-8 field names (numpy writes it as version 3.0)")
    header_text = good[10:good.index(b"\n") + 1]
    evil = b"{'descr': __import__('os').system('touch /tmp/kiln-pwned-npy'), 'shape': (2, 3), }"
    evil_header = evil + b" " * (len(header_text) - len(evil) - 1) + b"\n"
    add("code_in_header.npy", good[:10] + evil_header + good[10 + len(header_text):],
        "header literal contains a function call (ast.literal_eval refuses it too)")
    add("shape_overflow.npy", npy_raw_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776, 1099511627776), }"),
        "shape (2^40, 2^40, 2^40): the element count overflows")
    bad = bytearray(good)
    bad[6] = 4
    add("version_4.npy", bytes(bad), "format version 4.0, which does not exist")

    arrays = {"a": np.arange(1000, dtype=np.float32), "b": np.ones(3, dtype=np.int8)}
    f = io.BytesIO()
    np.savez_compressed(f, **arrays)
    deflated = f.getvalue()
    cd = deflated.find(b"PK\x01\x02")
    bomb = bytearray(deflated)
    struct.pack_into("<I", bomb, cd + 24, 0xFFFFFFF0)
    add("bomb_claim.npz", bytes(bomb), "a deflated member whose central directory claims 4 GiB uncompressed from a few hundred bytes")
    crc = bytearray(deflated)
    struct.pack_into("<I", crc, cd + 16, (struct.unpack_from("<I", deflated, cd + 16)[0] ^ 1))
    add("bad_crc.npz", bytes(crc), "a deflated member whose CRC-32 is wrong (found when the tensor is read)")
    size = bytearray(deflated)
    true_size = struct.unpack_from("<I", deflated, cd + 24)[0]
    struct.pack_into("<I", size, cd + 24, true_size + 4)
    add("size_mismatch.npz", bytes(size), "central directory declares 4 more bytes than the array's header accounts for")
    add("truncated.npz", deflated[: len(deflated) * 2 // 3], "an archive cut at two thirds")
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w") as z:
        z.writestr(zipfile.ZipInfo("a.npy", date_time=(1980, 1, 1, 0, 0, 0)), npy_bytes(np.ones(2)))
        z.writestr(zipfile.ZipInfo("readme.txt", date_time=(1980, 1, 1, 0, 0, 0)), b"hello")
    add("not_npy_member.npz", f.getvalue(), "a member that is not <name>.npy")
    enc = bytearray(deflated)
    enc[cd + 8] |= 1
    add("encrypted.npz", bytes(enc), "the first member is flagged as encrypted")
    return rows


def npy_bytes_object() -> bytes:
    f = io.BytesIO()
    np.save(f, np.array([1, "a", None], dtype=object), allow_pickle=True)
    return f.getvalue()


def npy_raw_header(text: str) -> bytes:
    body = text.encode("latin1")
    pad = -(10 + len(body) + 1) % 64
    body = body + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body


# --------------------------------------------------------------------------
# llama2.c (transcription of karpathy/llama2.c export.py)
# --------------------------------------------------------------------------

class Llama:
    """The tensors of llama2.c's Transformer, as export.py reads them off the model."""

    def __init__(self, name, dim=32, hidden=64, layers=2, heads=4, kv_heads=2, vocab=48, seq_len=8, shared=True):
        self.p = dict(dim=dim, hidden_dim=hidden, n_layers=layers, n_heads=heads, n_kv_heads=kv_heads,
                      vocab_size=vocab, seq_len=seq_len)
        hs = dim // heads
        kv = kv_heads * hs
        r = lambda n, s: t_f32(f"{name}.{n}", s, 0.5)
        self.tok = r("tok", (vocab, dim))
        self.output = self.tok if shared else r("output", (vocab, dim))
        self.layers = []
        for i in range(layers):
            self.layers.append(dict(
                attention_norm=r(f"{i}.an", (dim,)), ffn_norm=r(f"{i}.fn", (dim,)),
                wq=r(f"{i}.wq", (dim, dim)), wk=r(f"{i}.wk", (kv, dim)), wv=r(f"{i}.wv", (kv, dim)),
                wo=r(f"{i}.wo", (dim, dim)), w1=r(f"{i}.w1", (hidden, dim)), w2=r(f"{i}.w2", (dim, hidden)),
                w3=r(f"{i}.w3", (hidden, dim))))
        self.norm = r("norm", (dim,))
        # model.py precompute_freqs_cis(dim // n_heads, max_seq_len)
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hs, 2)[: (hs // 2)].float() / hs))
        t = torch.arange(seq_len, device=freqs.device)
        freqs = torch.outer(t, freqs).float()
        self.freqs_cos, self.freqs_sin = torch.cos(freqs), torch.sin(freqs)
        self.shared = shared


def serialize_fp32(f, t):
    d = t.detach().cpu().view(-1).to(torch.float32).numpy()
    f.write(struct.pack(f"{len(d)}f", *d))


def serialize_int8(f, t):
    d = t.detach().cpu().view(-1).numpy().astype(np.int8)
    f.write(struct.pack(f"{len(d)}b", *d))


def quantize_q80(w, group_size):
    assert w.numel() % group_size == 0
    w = w.float().reshape(-1, group_size)
    wmax = torch.abs(w).max(dim=1).values
    scale = wmax / 127.0
    quant = w / scale[:, None]
    int8val = torch.round(quant).to(torch.int8)
    return int8val, scale


def legacy_export(m: Llama) -> bytes:
    f = io.BytesIO()
    p = m.p
    vocab = p["vocab_size"] if m.shared else -p["vocab_size"]
    f.write(struct.pack("iiiiiii", p["dim"], p["hidden_dim"], p["n_layers"], p["n_heads"], p["n_kv_heads"], vocab, p["seq_len"]))
    serialize_fp32(f, m.tok)
    for key in ["attention_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"]:
        for layer in m.layers:
            serialize_fp32(f, layer[key])
    serialize_fp32(f, m.norm)
    serialize_fp32(f, m.freqs_cos[: p["seq_len"]])
    serialize_fp32(f, m.freqs_sin[: p["seq_len"]])
    if not m.shared:
        serialize_fp32(f, m.output)
    return f.getvalue()


def version_header(m: Llama, version: int, group_size=None) -> bytes:
    p = m.p
    h = struct.pack("I", 0x616B3432) + struct.pack("i", version)
    h += struct.pack("iiiiiii", p["dim"], p["hidden_dim"], p["n_layers"], p["n_heads"], p["n_kv_heads"], p["vocab_size"], p["seq_len"])
    h += struct.pack("B", int(m.shared))
    if group_size is not None:
        h += struct.pack("i", group_size)
    return h + b"\0" * (256 - len(h))


def version1_export(m: Llama) -> bytes:
    f = io.BytesIO()
    f.write(version_header(m, 1))
    weights = [*[l["attention_norm"] for l in m.layers], *[l["ffn_norm"] for l in m.layers], m.norm, m.tok]
    for key in ["wq", "wk", "wv", "wo", "w1", "w2", "w3"]:
        weights += [l[key] for l in m.layers]
    if not m.shared:
        weights.append(m.output)
    for t in weights:
        serialize_fp32(f, t)
    return f.getvalue()


def version2_export(m: Llama, group_size=64) -> tuple[bytes, int]:
    while m.p["dim"] % group_size != 0:
        group_size //= 2
    weights = [m.tok]
    for key in ["wq", "wk", "wv", "wo", "w1", "w2", "w3"]:
        weights += [l[key] for l in m.layers]
    if not m.shared:
        weights.append(m.output)
    f = io.BytesIO()
    f.write(version_header(m, 2, group_size))
    for key in ["attention_norm", "ffn_norm"]:
        for layer in m.layers:
            serialize_fp32(f, layer[key])
    serialize_fp32(f, m.norm)
    for t in weights:
        q, s = quantize_q80(t, group_size)
        serialize_int8(f, q)
        serialize_fp32(f, s)
    return f.getvalue(), group_size


def f32_hex(t) -> str:
    return t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes().hex()


def llama_expected(m: Llama, version: int, data: bytes, group_size=None) -> dict:
    """Expected tensors, named as Kiln names them, taken from the model (not from the file)."""
    p = m.p
    tensors = {}

    def put(name, t, dtype="f32"):
        tensors[name] = {"dtype": dtype, "shape": list(t.shape),
                         "hex": f32_hex(t) if dtype == "f32" else t.contiguous().numpy().astype(np.int8).tobytes().hex()}

    mats = ["wq", "wk", "wv", "wo", "w1", "w2", "w3"]
    names = {"attention_norm": "rms_att_weight", "ffn_norm": "rms_ffn_weight"}
    for i, layer in enumerate(m.layers):
        for key, kname in names.items():
            put(f"layers.{i}.{kname}", layer[key])
    put("rms_final_weight", m.norm)
    if version in (0, 1):
        put("token_embedding_table", m.tok)
        for i, layer in enumerate(m.layers):
            for key in mats:
                put(f"layers.{i}.{key}", layer[key])
        if not m.shared:
            put("wcls", m.output)
        if version == 0:
            put("freq_cis_real", m.freqs_cos[: p["seq_len"]])
            put("freq_cis_imag", m.freqs_sin[: p["seq_len"]])
    else:
        def quant(name, t):
            q, s = quantize_q80(t, group_size)
            put(f"{name}.q", q.reshape(t.shape), "i8")
            put(f"{name}.s", s)
        quant("token_embedding_table", m.tok)
        for i, layer in enumerate(m.layers):
            for key in mats:
                quant(f"layers.{i}.{key}", layer[key])
        if not m.shared:
            quant("wcls", m.output)
    meta = {f"llama2c.{k}": v for k, v in p.items()}
    meta["llama2c.version"] = version
    meta["llama2c.shared_classifier"] = m.shared
    if group_size is not None:
        meta["llama2c.group_size"] = group_size
    return {"file_bytes": len(data), "metadata": meta, "tensors": tensors}


def make_llama2c(w) -> dict:
    out = FIX / "llama2c"
    results = {}
    cases = [
        ("v0_shared.bin", Llama("v0s", shared=True), 0),
        ("v0_unshared.bin", Llama("v0u", shared=False), 0),
        ("v1.bin", Llama("v1", shared=False), 1),
        ("v2_q80.bin", Llama("v2", shared=False), 2),
    ]
    for name, m, version in cases:
        gs = None
        if version == 0:
            data = legacy_export(m)
        elif version == 1:
            data = version1_export(m)
        else:
            data, gs = version2_export(m)
        exp = llama_expected(m, version, data, gs)
        w.write(out / name, data)
        w.write(out / (name + ".expected.json"), dump_json(exp))
        results[name] = exp
    return results


def make_malformed_llama2c(w) -> list:
    out = FIX / "malformed" / "llama2c"
    rows = []

    def add(name, data, purpose):
        w.write(out / name, data)
        rows.append((name, purpose))

    m = Llama("bad", dim=8, hidden=16, layers=1, heads=2, kv_heads=2, vocab=8, seq_len=4)
    v0 = legacy_export(m)
    add("truncated_v0.bin", v0[:-4], "a legacy file one float short (by extension and size it is not llama2.c)")
    add("absurd_layers_v0.bin", struct.pack("iiiiiii", 8, 16, 0x7FFFFFFF, 2, 2, 8, 4) + v0[28:],
        "n_layers = 2^31-1 in a 1 KB file")
    add("negative_dim_v0.bin", struct.pack("iiiiiii", -8, 16, 1, 2, 2, 8, 4) + v0[28:], "dim = -8")
    v2, _ = version2_export(m)
    bad = bytearray(v2)
    struct.pack_into("i", bad, 37, 0)
    add("group_size_zero_v2.bin", bytes(bad), "version 2 header with group_size 0 (at byte 37)")
    bad = bytearray(v2)
    struct.pack_into("i", bad, 37, 3)
    add("group_size_three_v2.bin", bytes(bad), "group_size 3 does not divide the matrices")
    add("version_7.bin", struct.pack("Ii", 0x616B3432, 7) + b"\0" * 248, "magic ak42 with version 7")
    v1 = version1_export(m)
    bad = bytearray(v1)
    bad[36] = 2
    add("bad_flag_v1.bin", bytes(bad), "shared_classifier byte is 2")
    add("extra_bytes_v1.bin", v1 + b"\0" * 4, "a version 1 file with 4 bytes more than its header implies")
    return rows


# --------------------------------------------------------------------------
# llm.c GPT-2 (train_gpt2.py write_model / write_tensors)
# --------------------------------------------------------------------------

def llmc_params(L=2, C=16, T=8, V=50):
    sd = collections.OrderedDict()
    sd["transformer.wte.weight"] = t_f32("llmc.wte", (V, C), 0.5)
    sd["transformer.wpe.weight"] = t_f32("llmc.wpe", (T, C), 0.5)
    for i in range(L):
        p = f"transformer.h.{i}."
        for n, s in [("ln_1.weight", (C,)), ("ln_1.bias", (C,)), ("attn.c_attn.weight", (3 * C, C)),
                     ("attn.c_attn.bias", (3 * C,)), ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
                     ("ln_2.weight", (C,)), ("ln_2.bias", (C,)), ("mlp.c_fc.weight", (4 * C, C)),
                     ("mlp.c_fc.bias", (4 * C,)), ("mlp.c_proj.weight", (C, 4 * C)), ("mlp.c_proj.bias", (C,))]:
            sd[p + n] = t_f32("llmc." + p + n, s, 0.5)
    sd["transformer.ln_f.weight"] = t_f32("llmc.lnfw", (C,), 0.5)
    sd["transformer.ln_f.bias"] = t_f32("llmc.lnfb", (C,), 0.5)
    return sd, dict(block_size=T, vocab_size=V, n_layer=L, n_head=2, n_embd=C)


def pad_vocab(tensor, multiple=128, value=0):
    V, C = tensor.shape
    Vp = ((V + multiple - 1) // multiple) * multiple
    pad_rows = Vp - V
    return tensor if pad_rows == 0 else torch.nn.functional.pad(tensor, (0, 0, 0, pad_rows), value=value)


LLMC_ORDER = [("ln1w", "ln_1.weight"), ("ln1b", "ln_1.bias"), ("qkvw", "attn.c_attn.weight"), ("qkvb", "attn.c_attn.bias"),
              ("attprojw", "attn.c_proj.weight"), ("attprojb", "attn.c_proj.bias"), ("ln2w", "ln_2.weight"),
              ("ln2b", "ln_2.bias"), ("fcw", "mlp.c_fc.weight"), ("fcb", "mlp.c_fc.bias"),
              ("fcprojw", "mlp.c_proj.weight"), ("fcprojb", "mlp.c_proj.bias")]


def write_model(params, cfg, dtype) -> bytes:
    version = {"float32": 3, "bfloat16": 5}[dtype]
    header = torch.zeros(256, dtype=torch.int32)
    header[0] = 20240326
    header[1] = version
    header[2] = cfg["block_size"]
    header[3] = cfg["vocab_size"]
    header[4] = cfg["n_layer"]
    header[5] = cfg["n_head"]
    header[6] = cfg["n_embd"]
    params = dict(params)
    params["transformer.wte.weight"] = pad_vocab(params["transformer.wte.weight"])
    header[7] = params["transformer.wte.weight"].size(0)
    f = io.BytesIO()
    f.write(header.numpy().tobytes())

    def write_fun(t):
        t = t.detach().cpu()
        if dtype == "float32":
            f.write(t.to(torch.float32).numpy().tobytes())
        else:
            f.write(t.to(torch.bfloat16).view(torch.int16).numpy().tobytes())
    write_fun(params["transformer.wte.weight"])
    write_fun(params["transformer.wpe.weight"])
    for _, hf in LLMC_ORDER:
        for i in range(cfg["n_layer"]):
            write_fun(params[f"transformer.h.{i}.{hf}"])
    write_fun(params["transformer.ln_f.weight"])
    write_fun(params["transformer.ln_f.bias"])
    return f.getvalue(), header


def make_llmc(w) -> dict:
    out = FIX / "llmc"
    params, cfg = llmc_params()
    results = {}
    for name, dtype, kiln in [("gpt2_tiny_v3.bin", "float32", "f32"), ("gpt2_tiny_v5_bf16.bin", "bfloat16", "bf16")]:
        data, header = write_model(params, cfg, dtype)
        tensors = {}

        def put(n, t):
            t = t.to(torch.float32 if kiln == "f32" else torch.bfloat16)
            tensors[n] = {"dtype": kiln, "shape": list(t.shape), "hex": torch_hex(t)}
        put("wte", pad_vocab(params["transformer.wte.weight"]))
        put("wpe", params["transformer.wpe.weight"])
        for short, hf in LLMC_ORDER:
            for i in range(cfg["n_layer"]):
                put(f"layers.{i}.{short}", params[f"transformer.h.{i}.{hf}"])
        put("lnfw", params["transformer.ln_f.weight"])
        put("lnfb", params["transformer.ln_f.bias"])
        h = header.tolist()
        meta = {"llmc.version": h[1], "llmc.max_seq_len": h[2], "llmc.vocab_size": h[3], "llmc.num_layers": h[4],
                "llmc.num_heads": h[5], "llmc.channels": h[6], "llmc.padded_vocab_size": h[7]}
        exp = {"file_bytes": len(data), "metadata": meta, "tensors": tensors}
        w.write(out / name, data)
        w.write(out / (name + ".expected.json"), dump_json(exp))
        results[name] = exp
    return results


def make_malformed_llmc(w) -> list:
    out = FIX / "malformed" / "llmc"
    rows = []

    def add(name, data, purpose):
        w.write(out / name, data)
        rows.append((name, purpose))

    params, cfg = llmc_params(L=1, C=8, T=4, V=10)
    good, _ = write_model(params, cfg, "float32")
    add("truncated.bin", good[:-8], "two floats short of what the header implies")
    bad = bytearray(good)
    struct.pack_into("<i", bad, 4, 4)
    add("version_4.bin", bytes(bad), "version 4 (neither 3 = fp32 nor 5 = bf16)")
    bad = bytearray(good)
    struct.pack_into("<i", bad, 28, 5)
    add("padded_smaller.bin", bytes(bad), "padded_vocab_size 5 < vocab_size 10")
    bad = bytearray(good)
    struct.pack_into("<i", bad, 16, 0x7FFFFFFF)
    add("absurd_layers.bin", bytes(bad), "num_layers 2^31-1 in a small file")
    bad = bytearray(good)
    struct.pack_into("<i", bad, 0, 20240327)
    add("state_file.bin", bytes(bad), "magic 20240327: an llm.c debug state file, not a model")
    add("header_only_part.bin", good[:100], "100 bytes: less than the 1024-byte header")
    return rows


# --------------------------------------------------------------------------
# Sharded safetensors
# --------------------------------------------------------------------------

def st_shard(tensors: dict) -> bytes:
    from safetensors.numpy import save
    return save(tensors, metadata={"format": "pt"})


def index_json(weight_map: dict, total: int) -> bytes:
    return dump_json({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))})


def make_sharded(w) -> dict:
    out = FIX / "safetensors" / "sharded"
    shard1 = {"embed.weight": mf.rand_f32("sh.embed", (16, 8)), "layers.0.w": mf.rand_f32("sh.l0", (8, 8)),
              "layers.0.b": mf.rand_f16("sh.l0b", (8,))}
    shard2 = {"layers.1.w": mf.rand_f32("sh.l1", (8, 8)), "head.ids": mf.rand_int("sh.ids", (4,), np.int64),
              "norm.weight": mf.rand_f32("sh.norm", (8,))}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    wm = {}
    total = 0
    for shard, name in zip([shard1, shard2], names):
        data = st_shard(shard)
        w.write(out / name, data)
        for k, v in shard.items():
            wm[k] = name
            total += v.nbytes
    w.write(out / "model.safetensors.index.json", index_json(wm, total))
    tensors = {}
    for shard in (shard1, shard2):
        for k, v in shard.items():
            tensors[k] = {"dtype": mf.ST_DTYPE[v.dtype].lower().replace("f", "f").replace("i", "i"),
                          "shape": list(v.shape), "hex": mf.le_bytes(v).hex()}
    kiln_names = {"F32": "f32", "F16": "f16", "I64": "i64"}
    for shard in (shard1, shard2):
        for k, v in shard.items():
            tensors[k]["dtype"] = kiln_names[mf.ST_DTYPE[v.dtype]]
    exp = {"metadata": {"format": "pt", "index": {"total_size": total}}, "tensors": tensors, "shards": names}
    w.write(out / "sharded.expected.json", dump_json(exp))

    # Broken sets, each in its own folder.
    bad = FIX / "malformed" / "sharded"
    rows = []
    s1, s2 = st_shard(shard1), st_shard(shard2)

    def case(folder, purpose, files: dict, weight_map: dict):
        for n, data in files.items():
            w.write(bad / folder / n, data)
        w.write(bad / folder / "model.safetensors.index.json", index_json(weight_map, total))
        rows.append((folder, purpose))
    case("missing_shard", "weight_map sends tensors to model-00002-of-00002.safetensors, which is absent",
         {names[0]: s1}, wm)
    case("tensor_not_in_shard", "weight_map lists 'ghost.weight' in shard 1, which does not hold it",
         {names[0]: s1, names[1]: s2}, {**wm, "ghost.weight": names[0]})
    case("unlisted_tensor", "shard 2 holds 'norm.weight', which the weight_map does not list",
         {names[0]: s1, names[1]: s2}, {k: v for k, v in wm.items() if k != "norm.weight"})
    dup = dict(shard2)
    dup["embed.weight"] = shard1["embed.weight"]
    case("duplicate_tensor", "'embed.weight' is in both shards",
         {names[0]: s1, names[1]: st_shard(dup)}, {**wm})
    case("wrong_shard", "weight_map puts 'layers.1.w' in shard 1, but it is in shard 2",
         {names[0]: s1, names[1]: s2}, {**wm, "layers.1.w": names[0]})
    case("path_escape", "weight_map sends a tensor to '../model-00001-of-00002.safetensors'",
         {names[0]: s1, names[1]: s2}, {**wm, "layers.1.w": "../" + names[1]})
    return rows


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------

README_BEGIN = "<!-- BEGIN generated by Tools/make_format_fixtures.py -->"
README_END = "<!-- END generated by Tools/make_format_fixtures.py -->"


def readme_block(pt, hostile, bad_pt, npy, bad_np, llama, bad_llama, llmc, bad_llmc, bad_sharded) -> str:
    L = [README_BEGIN, "## Other formats (PyTorch, NumPy, llama2.c, llm.c, sharded safetensors)", "",
         "Generated by `python3 Tools/make_format_fixtures.py` (deps: `Tools/requirements-fixtures.txt`:",
         "torch, numpy, safetensors, xxhash; transformers optional). Values come from the SplitMix64",
         "generator of `make_fixtures.py`. Each `<file>.expected.json` holds `file_bytes`, `metadata`",
         "and per tensor — named as Kiln's reader names it — `dtype` (Kiln's type name), `shape` and",
         "`hex` (raw little-endian C-order bytes as the Python library reads them back).", "",
         "### pytorch", "",
         "Expected values come from `torch.load(..., weights_only=True)` of each file, flattened by a",
         "Python port of Kiln's naming rules (state dict entries by name; a training checkpoint's",
         "`model` entry; `_orig_mod.` removed; tensor-free entries as metadata).", "",
         "- `state_dict.pt`: `torch.save` (zip) of an OrderedDict with f32, f16, bf16, f64, i8, i16,",
         "  i32, i64, u8, bool tensors; views sharing one f32 storage: a row (`base[2]`, offset 16,",
         "  zero-copy), a block (`base[1:4, 2:6]`), a transpose, a step slice (`base[:, ::3]`); a stride-0",
         "  broadcast (`arange(4).expand(3, 4)`); a transposed bf16; a 0-d scalar; an empty [0, 3];",
         "  an `nn.Parameter` (pickled through `_rebuild_parameter`).",
         "- `protocol4.pt`: the same with `pickle_protocol=4` (FRAME, STACK_GLOBAL, MEMOIZE, SHORT_BINUNICODE).",
         "- `legacy.pt`: the same with `_use_new_zipfile_serialization=False` (concatenated pickles).",
         "- `ckpt.pt`: nanoGPT-style `{'model': {'_orig_mod.transformer...': ...}, 'optimizer': AdamW",
         "  state after one step, 'model_args': {...}, 'iter_num': 5, 'best_val_loss': tensor(2.5),",
         "  'config': {...}}`; `lm_head.weight` is `wte.weight` (one storage, two names).",
         f"- `gpt2_tiny/pytorch_model.bin`: state dict of a tiny GPT-2 ({pt['gpt2_tiny/pytorch_model.bin']['origin']}:",
         "  vocab 64, 16 positions, 16 wide, 2 layers, 2 heads) with HF names; `lm_head.weight` tied.",
         "- `buffer_saved.pt`: saved to a `BytesIO`, so the zip's folder is `archive`.",
         "- `big_endian.pt`: a little-endian checkpoint rewritten with `byteorder` = `big` and each",
         "  f32 word reversed (torch only writes its machine's order); `torch.load` swaps it back.", "",
         "### malformed/pytorch (hostile)", "",
         "Each payload is saved twice: `hostile_<name>.pt` — `torch.save({'weight': ones(2, 2),",
         "'payload': obj})`, a real torch zip whose data.pkl names the payload's global — and",
         "`hostile_<name>.pkl`, `pickle.dumps(obj, protocol=2)`. `torch.load(weights_only=True)` refuses",
         "every one. Payloads that would write a file write `/tmp/kiln-pwned-<name>`. Protocol 2 writes",
         "Python 2 names (`pickle`'s fix_imports): `builtins.eval` is written `__builtin__.eval`,",
         "`subprocess.Popen` is `commands.Popen`, `_pickle.loads` is `pickle.loads`.", ""]
    for name, glob in hostile:
        L.append(f"- `{name}`: global `{glob}`.")
    L += ["", "### malformed/pytorch (broken)", ""]
    L += [f"- `{n}`: {p}." for n, p in bad_pt]
    L += ["", "### numpy", "",
          "Expected values from `numpy.load`. `v1_f32.npy` (`np.save`), `v2_i64.npy` and `v3_f16.npy`",
          "(`np.lib.format.write_array(..., version=(2, 0) / (3, 0))`: u32 header length; v3's header is",
          "UTF-8), `fortran_f64.npy` ([3, 4, 5], Fortran order), `big_endian_f32.npy` (`>f4`),",
          "`big_endian_i16_fortran.npy` (`>i2`, Fortran order), `bool.npy` (`|b1`), `scalar_u64.npy`",
          "(0-d), `empty_u8.npy` ([0, 4]). `stored.npz` (`np.savez`, ZIP_STORED) and `deflated.npz`",
          "(`np.savez_compressed`, ZIP_DEFLATED) hold `weights` f32, `ids` i32, `mask` bool, `fortran`",
          "(Fortran-order f32), `big` (`>u4`), `half` f16 and `nested/name` (a member name with a slash).", "",
          "### malformed/numpy", ""]
    L += [f"- `{n}`: {p}." for n, p in bad_np]
    L += ["", "### llama2c", "",
          "Written by a transcription of karpathy/llama2.c `export.py` (`legacy_export`,",
          "`version1_export`, `version2_export` with `quantize_q80`) from a random model with dim 32,",
          "hidden_dim 64, 2 layers, 4 heads, 2 KV heads, vocab 48, seq_len 8. Expected tensors are taken",
          "from the model, not the file: `v0_shared.bin` (shared classifier), `v0_unshared.bin`",
          "(negative vocab_size, `wcls` at the end, after the RoPE tables `freq_cis_real/imag`),",
          "`v1.bin` (unshared), `v2_q80.bin` (unshared; group size 64 backs off to 32 = dim; each",
          "matrix as `<name>.q` int8 and `<name>.s` f32 scales).", "",
          "### malformed/llama2c", ""]
    L += [f"- `{n}`: {p}." for n, p in bad_llama]
    L += ["", "### llmc", "",
          "Written by a transcription of karpathy/llm.c `train_gpt2.py` `write_model` from random",
          "parameters (max_seq_len 8, vocab 50 padded to 128 with zero rows, 2 layers, 2 heads,",
          "channels 16): `gpt2_tiny_v3.bin` (fp32) and `gpt2_tiny_v5_bf16.bin` (bf16).", "",
          "### malformed/llmc", ""]
    L += [f"- `{n}`: {p}." for n, p in bad_llmc]
    L += ["", "### safetensors/sharded", "",
          "`model-00001-of-00002.safetensors` (`embed.weight` f32 [16, 8], `layers.0.w` f32 [8, 8],",
          "`layers.0.b` f16 [8]) and `model-00002-of-00002.safetensors` (`layers.1.w`, `head.ids` i64,",
          "`norm.weight`), written by `safetensors.numpy.save` with metadata `{\"format\": \"pt\"}`, and",
          "`model.safetensors.index.json` (`metadata.total_size`, `weight_map`). `sharded.expected.json`",
          "lists every tensor.", "",
          "### malformed/sharded", "",
          "Each folder is a broken set (its own index and shards):", ""]
    L += [f"- `{n}/`: {p}." for n, p in bad_sharded]
    L.append(README_END)
    return "\n".join(L) + "\n"


def make_readme(w, block: str) -> None:
    path = FIX / "README.md"
    text = path.read_text("utf-8")
    if README_BEGIN in text and README_END in text:
        pre, rest = text.split(README_BEGIN, 1)
        _, post = rest.split(README_END, 1)
        text = pre + block.rstrip("\n") + post
    else:
        text = text.rstrip("\n") + "\n\n" + block
    w.write(path, text.encode("utf-8"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if any fixture would change")
    args = ap.parse_args()
    w = mf.Writer(check=args.check)
    pt = make_pytorch(w)
    hostile = make_hostile(w)
    bad_pt = make_malformed_pytorch(w) + [make_diamond(w)]
    npy = make_numpy(w)
    bad_np = make_malformed_numpy(w)
    llama = make_llama2c(w)
    bad_llama = make_malformed_llama2c(w)
    llmc = make_llmc(w)
    bad_llmc = make_malformed_llmc(w)
    bad_sharded = make_sharded(w)
    make_readme(w, readme_block(pt, hostile, bad_pt, npy, bad_np, llama, bad_llama, llmc, bad_llmc, bad_sharded))
    for p in w.written:
        if p.exists() and p.stat().st_size >= 200 * 1024:
            print(f"warning: {p.relative_to(ROOT)} is {p.stat().st_size} bytes (>= 200 KiB)")
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
