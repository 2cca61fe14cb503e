#!/usr/bin/env python3
"""Generate the sharded PyTorch checkpoint fixtures: a tiny Llama saved the way transformers 4's
`save_pretrained(..., safe_serialization=False, max_shard_size=...)` saved it, its unsharded
safetensors twin, and broken sets.

Writes (relative to the repository root):

    Fixtures/models/tiny-llama-pt-sharded/        config.json, pytorch_model-0000N-of-00004.bin,
                                                  pytorch_model.bin.index.json
    Fixtures/models/tiny-llama-pt-sharded-twin/   config.json, model.safetensors (the same tensors)
    Fixtures/malformed/sharded-pytorch/<case>/    broken sets (two small shards and an index each)

Transformers 5 writes only safetensors, so the shards are written as transformers 4 wrote them:
`huggingface_hub.split_torch_state_dict_into_shards(state_dict,
filename_pattern="pytorch_model{suffix}.bin", max_shard_size=...)`, one `torch.save` per shard,
and the index `{"metadata": {"total_size": ...}, "weight_map": {...}}` as sorted JSON with an
indent of 2. The result is checked the way a user would load it: `torch.load(weights_only=True)`
of every shard, and transformers' `AutoModelForCausalLM.from_pretrained` of the folder, must give
back every tensor bit for bit.

Values come from the SplitMix64 generator of Tools/make_fixtures.py. Needs torch, transformers,
huggingface_hub, safetensors, numpy, xxhash (Tools/requirements-fixtures.txt).

Usage:
    python3 Tools/make_sharded_pytorch_fixtures.py          # (re)write fixtures
    python3 Tools/make_sharded_pytorch_fixtures.py --check  # exit 1 if any fixture would change
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from huggingface_hub import split_torch_state_dict_into_shards
from safetensors.torch import save as save_safetensors
from transformers import AutoModelForCausalLM, LlamaConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (shared deterministic generator and Writer)

ROOT = mf.ROOT
SHARDED = ROOT / "Fixtures" / "models" / "tiny-llama-pt-sharded"
TWIN = ROOT / "Fixtures" / "models" / "tiny-llama-pt-sharded-twin"
MALFORMED = ROOT / "Fixtures" / "malformed" / "sharded-pytorch"
MAX_SHARD_SIZE = 12_000  # bytes: three shards for this model

CONFIG = LlamaConfig(
    vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=32, rms_norm_eps=1e-5, rope_theta=10000.0,
    tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, architectures=["LlamaForCausalLM"], dtype="float32",
)


def torch_bytes(obj, name: str) -> bytes:
    """torch.save to a file called `name`, as transformers 4 saved each shard (the zip's records
    sit in a folder named after the file's stem, `pytorch_model-00001-of-00003/data.pkl`)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        torch.save(obj, path)
        return path.read_bytes()


def state_dict() -> dict[str, torch.Tensor]:
    """The model's parameter names and shapes, filled with deterministic values."""
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(CONFIG)
    return {name: torch.from_numpy(mf.rand_f32("ptshard." + name, tuple(p.shape), 0.5).copy())
            for name, p in model.state_dict().items()}


def index_json(weight_map: dict, total: int) -> bytes:
    return (json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n").encode()


def shard(tensors: dict, filename_pattern: str, max_shard_size: int) -> tuple[dict[str, bytes], dict, int]:
    split = split_torch_state_dict_into_shards(tensors, filename_pattern=filename_pattern, max_shard_size=max_shard_size)
    files = {name: torch_bytes({k: tensors[k].contiguous() for k in keys}, name)
             for name, keys in split.filename_to_tensors.items()}
    return files, dict(split.tensor_to_filename), split.metadata["total_size"]


def make_sharded(w: mf.Writer) -> list[str]:
    tensors = state_dict()
    files, weight_map, total = shard(tensors, "pytorch_model{suffix}.bin", MAX_SHARD_SIZE)
    assert len(files) >= 3, f"only {len(files)} shards"
    config = CONFIG.to_json_string().encode()  # as save_pretrained writes config.json
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
            loaded = torch.load(folder / name, weights_only=True)
            for key, value in loaded.items():
                assert torch.equal(value, tensors[key]) and weight_map[key] == name, key
        (folder / "pytorch_model.bin.index.json").write_bytes(index_json(weight_map, total))
        (folder / "config.json").write_bytes(config)
        model = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32)
        for key, value in model.state_dict().items():
            assert torch.equal(value, tensors[key]), f"transformers loads {key} differently"
        w.write(SHARDED / "config.json", folder.joinpath("config.json").read_bytes())
    for name, data in files.items():
        w.write(SHARDED / name, data)
    w.write(SHARDED / "pytorch_model.bin.index.json", index_json(weight_map, total))
    w.write(TWIN / "config.json", config)
    w.write(TWIN / "model.safetensors", save_safetensors(tensors, metadata={"format": "pt"}))
    return sorted(files)


def make_malformed(w: mf.Writer) -> list[tuple[str, str]]:
    small = {"embed.weight": torch.from_numpy(mf.rand_f32("ptbad.embed", (4, 4)).copy()),
             "layers.0.w": torch.from_numpy(mf.rand_f32("ptbad.l0", (4, 4)).copy()),
             "layers.1.w": torch.from_numpy(mf.rand_f32("ptbad.l1", (4, 4)).copy()),
             "norm.weight": torch.from_numpy(mf.rand_f32("ptbad.norm", (4,)).copy())}
    names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    first, second = ["embed.weight", "layers.0.w"], ["layers.1.w", "norm.weight"]
    s1 = torch_bytes({k: small[k] for k in first}, names[0])
    s2 = torch_bytes({k: small[k] for k in second}, names[1])
    wm = {**{k: names[0] for k in first}, **{k: names[1] for k in second}}
    total = sum(t.numel() * 4 for t in small.values())
    rows = []

    def case(folder, purpose, files: dict, weight_map: dict):
        for n, data in files.items():
            w.write(MALFORMED / folder / n, data)
        w.write(MALFORMED / folder / "pytorch_model.bin.index.json", index_json(weight_map, total))
        rows.append((folder, purpose))

    case("missing_shard", f"weight_map sends tensors to {names[1]}, which is absent", {names[0]: s1}, wm)
    case("tensor_not_in_shard", "weight_map lists 'ghost.weight' in shard 1, which does not hold it",
         {names[0]: s1, names[1]: s2}, {**wm, "ghost.weight": names[0]})
    dup = torch_bytes({k: small[k] for k in second + ["embed.weight"]}, names[1])
    case("duplicate_tensor", "'embed.weight' is in both shards", {names[0]: s1, names[1]: dup}, wm)
    case("path_escape", f"weight_map sends 'layers.1.w' to '../{names[1]}'",
         {names[0]: s1, names[1]: s2}, {**wm, "layers.1.w": "../" + names[1]})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if any fixture would change")
    args = ap.parse_args()
    w = mf.Writer(check=args.check)
    shards = make_sharded(w)
    rows = make_malformed(w)
    print(f"{len(shards)} shards: {', '.join(shards)}")
    for folder, purpose in rows:
        print(f"malformed/sharded-pytorch/{folder}: {purpose}")
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
