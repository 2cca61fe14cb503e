#!/usr/bin/env python3
"""Makes Fixtures/models/writer-llama/: a tiny Hugging Face-layout Llama folder (config.json,
model.safetensors written by the reference `safetensors` library, vocab.json + merges.txt and
tokenizer_config.json) for the writer tests: Kiln converts it to GGUF, and Tools/check_gguf.py
--hf compares the result with llama.cpp's own renaming and q/k permutation.

Deterministic (numpy's PCG64 with a fixed seed; values rounded to multiples of 1/1024 so they
are exact in f16 as well); rewrites files only when their bytes change; --check exits 1 if
anything would change. Needs numpy and safetensors (Tools/requirements-fixtures.txt).

Usage: python3 Tools/make_writer_fixtures.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "models" / "writer-llama"

HIDDEN, HEADS, KV_HEADS, LAYERS, FFN, CONTEXT = 32, 4, 2, 2, 64, 128


def bytes_to_unicode() -> dict[int, str]:
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def files() -> dict[str, bytes]:
    unicode = bytes_to_unicode()
    tokens = [unicode[b] for b in range(32, 127)] + ["Ġt", "he", "<|endoftext|>"]
    merges = ["Ġ t", "h e"]
    vocab = len(tokens)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": FFN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "max_position_embeddings": CONTEXT, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "vocab_size": vocab, "tie_word_embeddings": False, "hidden_act": "silu",
        "bos_token_id": vocab - 1, "eos_token_id": vocab - 1, "torch_dtype": "float32",
    }
    rng = np.random.default_rng(20240611)

    def weight(*shape: int) -> np.ndarray:
        return (np.round(rng.standard_normal(shape) * 0.25 * 1024) / 1024).astype(np.float32)

    head_dim = HIDDEN // HEADS
    tensors = {"model.embed_tokens.weight": weight(vocab, HIDDEN), "model.norm.weight": 1 + weight(HIDDEN),
               "lm_head.weight": weight(vocab, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        tensors.update({
            p + "input_layernorm.weight": 1 + weight(HIDDEN), p + "post_attention_layernorm.weight": 1 + weight(HIDDEN),
            p + "self_attn.q_proj.weight": weight(HEADS * head_dim, HIDDEN),
            p + "self_attn.k_proj.weight": weight(KV_HEADS * head_dim, HIDDEN),
            p + "self_attn.v_proj.weight": weight(KV_HEADS * head_dim, HIDDEN),
            p + "self_attn.o_proj.weight": weight(HIDDEN, HEADS * head_dim),
            p + "mlp.gate_proj.weight": weight(FFN, HIDDEN), p + "mlp.up_proj.weight": weight(FFN, HIDDEN),
            p + "mlp.down_proj.weight": weight(HIDDEN, FFN),
        })
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        save_file(tensors, str(path), metadata={"format": "pt"})
        model = path.read_bytes()
    return {
        "config.json": (json.dumps(config, indent=2) + "\n").encode(),
        "model.safetensors": model,
        "vocab.json": (json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False) + "\n").encode(),
        "merges.txt": ("#version: 0.2\n" + "".join(m + "\n" for m in merges)).encode(),
        "tokenizer_config.json": (json.dumps({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                                              "add_bos_token": False, "chat_template": "{{ messages }}"}, indent=2) + "\n").encode(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    changed = []
    for name, data in files().items():
        path = OUT / name
        if path.exists() and path.read_bytes() == data:
            continue
        changed.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    if args.check:
        print("up to date" if not changed else f"would change: {', '.join(changed)}")
        return 1 if changed else 0
    print(f"wrote {', '.join(changed) or 'nothing (up to date)'} in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
