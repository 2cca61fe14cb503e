#!/usr/bin/env python3
"""Checks a GGUF file Kiln wrote, using gguf-py (the reference reader llama.cpp ships).

Always: the file opens, is version 3 with alignment 32, and every tensor starts at a multiple
of the alignment. Then, optionally:

  --reference REF.gguf   every key/value of REF is in the file with the same GGUF type and
                         value, and every tensor has the same name, order, type, shape and
                         bytes (keys listed with --allow-extra may be added).
  --hf DIR               the tensors equal those of DIR/model.safetensors (a Hugging Face
                         Llama or GPT-2 folder with config.json) after llama.cpp's own
                         renaming and q/k permutation, value for value; the hyper-parameter
                         keys match config.json.

Prints one line starting with OK, or the problems found, and exits 0 or 1.

Needs: numpy, gguf (and safetensors for --hf): Tools/requirements-test.txt.
Usage: python3 Tools/check_gguf.py OUT.gguf [--reference REF.gguf] [--hf DIR] [--allow-extra KEY ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import gguf


def fields(reader: gguf.GGUFReader) -> dict:
    """key -> (types, contents, raw value bytes), without the GGUF.* pseudo-keys."""
    out = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        raw = b"".join(field.parts[i].tobytes() for i in field.data)
        out[key] = ([int(t) for t in field.types], field.contents(), raw)
    return out


def check_structure(reader: gguf.GGUFReader, problems: list[str]) -> None:
    version = int(reader.fields["GGUF.version"].parts[0][0])
    if version != 3:
        problems.append(f"version is {version}, expected 3")
    if reader.alignment != 32:
        problems.append(f"alignment is {reader.alignment}, expected 32")
    for t in reader.tensors:
        if t.data_offset % reader.alignment:
            problems.append(f"tensor {t.name} starts at {t.data_offset}, not a multiple of {reader.alignment}")


def check_reference(reader: gguf.GGUFReader, reference: gguf.GGUFReader, allow_extra: set[str], problems: list[str]) -> None:
    got, want = fields(reader), fields(reference)
    for key, (types, value, raw) in want.items():
        if key == "general.alignment":
            continue
        if key not in got:
            problems.append(f"key {key} is missing")
        elif got[key][0] != types:
            problems.append(f"key {key} has types {got[key][0]}, reference {types}")
        elif got[key][1] != value and got[key][2] != raw:  # NaNs compare by their bits
            problems.append(f"key {key} is {str(got[key][1])[:60]}, reference {str(value)[:60]}")
    for key in sorted(set(got) - set(want) - allow_extra):
        problems.append(f"key {key} is not in the reference")
    if [t.name for t in reader.tensors] != [t.name for t in reference.tensors]:
        problems.append("tensor names or order differ from the reference")
        return
    for a, b in zip(reader.tensors, reference.tensors):
        if a.tensor_type != b.tensor_type or a.shape.tolist() != b.shape.tolist():
            problems.append(f"tensor {a.name}: {a.tensor_type.name} {a.shape.tolist()}, reference {b.tensor_type.name} {b.shape.tolist()}")
        elif a.data.tobytes() != b.data.tobytes():
            problems.append(f"tensor {a.name}: bytes differ from the reference")


def llama_permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute: HF rotate-half rows to GGUF's interleaved order."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def hf_to_gguf(directory: Path) -> tuple[dict, dict]:
    """The HF folder's tensors under GGUF names, as llama.cpp's converter arranges them, and config.json."""
    from safetensors.numpy import load_file
    config = json.loads((directory / "config.json").read_text())
    tensors = load_file(str(directory / "model.safetensors"))
    out = {}
    if config["model_type"] == "gpt2":
        direct = {"wte.weight": "token_embd.weight", "wpe.weight": "position_embd.weight",
                  "ln_f.weight": "output_norm.weight", "ln_f.bias": "output_norm.bias"}
        block = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm",
                 "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}
        for name, value in tensors.items():
            name = name.removeprefix("transformer.")
            if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
                continue
            if name in direct:
                out[direct[name]] = value
                continue
            _, layer, rest = name.split(".", 2)
            module, kind = rest.rsplit(".", 1)
            if kind == "weight" and module not in ("ln_1", "ln_2"):
                value = value.T  # Conv1D stores [in, out]
            out[f"blk.{layer}.{block[module]}.{kind}"] = value
        return out, config
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    direct = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
              "lm_head.weight": "output.weight"}
    block = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for name, value in tensors.items():
        if name in direct:
            out[direct[name]] = value
            continue
        _, _, layer, rest = name.split(".", 3)
        module, kind = rest.rsplit(".", 1)
        if module == "self_attn.q_proj":
            value = llama_permute(value, heads)
        elif module == "self_attn.k_proj":
            value = llama_permute(value, kv_heads)
        out[f"blk.{layer}.{block[module]}.{kind}"] = value
    return out, config


def check_hf(reader: gguf.GGUFReader, directory: Path, problems: list[str]) -> None:
    expected, config = hf_to_gguf(directory)
    by_name = {t.name: t for t in reader.tensors}
    if set(by_name) != set(expected):
        problems.append(f"tensor names differ: extra {sorted(set(by_name) - set(expected))}, missing {sorted(set(expected) - set(by_name))}")
    for name, want in expected.items():
        if name not in by_name:
            continue
        t = by_name[name]
        got = gguf.quants.dequantize(t.data, t.tensor_type).reshape(want.shape)
        if t.tensor_type == gguf.GGMLQuantizationType.F32 and want.dtype != np.float32:
            want = want.astype(np.float32)
        if got.dtype != want.dtype and t.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            want = want.astype(got.dtype)
        if got.tobytes() != want.tobytes():
            problems.append(f"tensor {name}: values differ from the Hugging Face tensor")
    got = fields(reader)
    arch = got["general.architecture"][1]
    keys = ({"block_count": "n_layer", "embedding_length": "n_embd", "attention.head_count": "n_head",
             "context_length": "n_positions"} if arch == "gpt2" else
            {"block_count": "num_hidden_layers", "embedding_length": "hidden_size", "feed_forward_length": "intermediate_size",
             "attention.head_count": "num_attention_heads", "attention.head_count_kv": "num_key_value_heads",
             "context_length": "max_position_embeddings", "vocab_size": "vocab_size"})
    for key, hf_key in keys.items():
        value = got.get(f"{arch}.{key}", (None, None))
        if value[0] != [int(gguf.GGUFValueType.UINT32)] or value[1] != config[hf_key]:
            problems.append(f"{arch}.{key} is {value}, config.json {hf_key} = {config[hf_key]} (expected UINT32)")
    if arch != "gpt2":
        eps = got.get(f"{arch}.attention.layer_norm_rms_epsilon", (None, None))
        if eps[0] != [int(gguf.GGUFValueType.FLOAT32)] or not np.isclose(eps[1], config["rms_norm_eps"], rtol=1e-6):
            problems.append(f"{arch}.attention.layer_norm_rms_epsilon is {eps}, config.json {config['rms_norm_eps']}")
    if "tokenizer.ggml.tokens" in got and "tokenizer.ggml.token_type" in got:
        if got["tokenizer.ggml.token_type"][0][-1] != int(gguf.GGUFValueType.INT32):
            problems.append("tokenizer.ggml.token_type is not an INT32 array")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--reference")
    parser.add_argument("--hf")
    parser.add_argument("--allow-extra", nargs="*", default=[])
    args = parser.parse_args()
    reader = gguf.GGUFReader(args.file)
    problems: list[str] = []
    check_structure(reader, problems)
    if args.reference:
        check_reference(reader, gguf.GGUFReader(args.reference), set(args.allow_extra), problems)
    if args.hf:
        check_hf(reader, Path(args.hf), problems)
    if problems:
        print("\n".join(problems[:50]))
        return 1
    print(f"OK {args.file}: {len(reader.tensors)} tensors, {len(fields(reader))} keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
