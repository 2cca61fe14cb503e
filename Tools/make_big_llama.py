#!/usr/bin/env python3
"""Write a random-weight Llama-architecture GGUF (f16) for benchmarking, with SmolLM2's tokenizer.

Widths are multiples of 256 so llama-quantize's K-quants (Q4_K, Q6_K) apply to every matrix.
Default: hidden 1024, 8 layers, 16 heads / 4 KV heads (head dim 64), FFN 2816, vocab 49152,
head tied to the embedding (as SmolLM2). Weights N(0, 0.02) as f16, norms 1.0 as f32.

  python3 Tools/make_big_llama.py SmolLM2-135M-Instruct.Q4_1.gguf big-f16.gguf [--untied] [--seed 0]
  llama-quantize big-f16.gguf big-q4_k_m.gguf Q4_K_M     # your own llama.cpp build

The larger Q4_K_M model of docs/PERFORMANCE.md (its widths make Q4_K/Q6_K matter, where
SmolLM2's 576 falls back to Q5_0). Needs `gguf` and `numpy` (Tools/requirements-fixtures.txt).
"""
import argparse

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

ap = argparse.ArgumentParser()
ap.add_argument("source", help="a GGUF whose tokenizer metadata is copied (SmolLM2)")
ap.add_argument("output")
ap.add_argument("--hidden", type=int, default=1024)
ap.add_argument("--layers", type=int, default=8)
ap.add_argument("--heads", type=int, default=16)
ap.add_argument("--kv-heads", type=int, default=4)
ap.add_argument("--ffn", type=int, default=2816)
ap.add_argument("--context", type=int, default=8192)
ap.add_argument("--rope-base", type=float, default=100000.0)
ap.add_argument("--std", type=float, default=0.02)
ap.add_argument("--untied", action="store_true", help="write a separate output.weight")
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()

src = GGUFReader(a.source)
vocab = len(src.fields["tokenizer.ggml.tokens"].contents())
head_dim = a.hidden // a.heads
assert a.hidden % 256 == 0 and a.ffn % 256 == 0 and (head_dim * a.kv_heads) % 256 == 0

w = GGUFWriter(a.output, "llama")
w.add_type("model")
w.add_name(f"kiln-bench random llama {a.hidden}x{a.layers}")
w.add_uint32("llama.block_count", a.layers)
w.add_uint32("llama.context_length", a.context)
w.add_uint32("llama.embedding_length", a.hidden)
w.add_uint32("llama.feed_forward_length", a.ffn)
w.add_uint32("llama.attention.head_count", a.heads)
w.add_uint32("llama.attention.head_count_kv", a.kv_heads)
w.add_float32("llama.rope.freq_base", a.rope_base)
w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
w.add_uint32("general.file_type", 1)  # MOSTLY_F16
w.add_uint32("llama.vocab_size", vocab)
w.add_uint32("llama.rope.dimension_count", head_dim)

# Copy every tokenizer.* key with its exact types.
for key, field in src.fields.items():
    if not key.startswith("tokenizer."):
        continue
    vtype = field.types[0]
    sub = field.types[1] if vtype == GGUFValueType.ARRAY else None
    w.add_key_value(key, field.contents(), vtype, sub)

rng = np.random.default_rng(a.seed)


def rand(rows, cols):
    return (rng.standard_normal((rows, cols), dtype=np.float32) * a.std).astype(np.float16)


def ones(n):
    return np.ones(n, dtype=np.float32)


kv = head_dim * a.kv_heads
w.add_tensor("token_embd.weight", rand(vocab, a.hidden))
for i in range(a.layers):
    p = f"blk.{i}."
    w.add_tensor(p + "attn_norm.weight", ones(a.hidden))
    w.add_tensor(p + "attn_q.weight", rand(a.hidden, a.hidden))
    w.add_tensor(p + "attn_k.weight", rand(kv, a.hidden))
    w.add_tensor(p + "attn_v.weight", rand(kv, a.hidden))
    w.add_tensor(p + "attn_output.weight", rand(a.hidden, a.hidden))
    w.add_tensor(p + "ffn_norm.weight", ones(a.hidden))
    w.add_tensor(p + "ffn_gate.weight", rand(a.ffn, a.hidden))
    w.add_tensor(p + "ffn_up.weight", rand(a.ffn, a.hidden))
    w.add_tensor(p + "ffn_down.weight", rand(a.hidden, a.ffn))
w.add_tensor("output_norm.weight", ones(a.hidden))
if a.untied:
    w.add_tensor("output.weight", rand(vocab, a.hidden))

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f"wrote {a.output}: hidden {a.hidden}, {a.layers} layers, {a.heads}/{a.kv_heads} heads, "
      f"ffn {a.ffn}, vocab {vocab}, {'untied' if a.untied else 'tied'} head")
