#!/usr/bin/env python3
"""A tiny llama2.c checkpoint with its own SentencePiece-style tokenizer.bin, for Kiln's llama2.c
end-to-end test (Tests/EndToEndTests/Llama2cStoryTests.swift).

Writes Fixtures/llama2c/story/model.bin and Fixtures/llama2c/story/tokenizer.bin:

- model.bin: run.c's legacy (version 0) format — seven int32 (dim, hidden_dim, n_layers, n_heads,
  n_kv_heads, vocab_size, seq_len; vocab_size is negative: the classifier is not the embedding),
  then float32 token_embedding_table, rms_att_weight, wq, wk, wv, wo, rms_ffn_weight, w1, w2, w3,
  rms_final_weight, the two RoPE tables run.c skips, and wcls. Weights are seeded random (numpy), with
  grouped-query attention (4 query heads, 2 key/value heads) so run.c's kv_mul path is used.
- tokenizer.bin: llama2.c's tokenizer format — int32 max_token_length, then per token float32 score,
  int32 byte length, the bytes. The vocabulary is the byte-fallback BPE Tools/make_sentencepiece_expected.py
  trained (Fixtures/tokenizers/metaspace-bpe/tokenizer.json): <unk>, <s>, </s>, the 256 byte tokens
  <0x00>..<0xFF> at ids 3..258 (run.c's `byte + 3`), then the pieces, with spaces written as spaces
  (as llama2.c's tokenizer.py exports them) and score −id, so earlier merges win, as in Llama 2's.

The expected tokens (Fixtures/expected/llama2c_story.json) come from llama2.c's run.c built from
its own repository, not from this script; the test's doc comment says how.

Needs: numpy. Usage: python3 Tools/make_llama2c_story.py [--check]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "llama2c" / "story"
VOCAB = ROOT / "Fixtures" / "tokenizers" / "metaspace-bpe" / "tokenizer.json"

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, SEQ_LEN = 64, 172, 2, 4, 2, 96


def tokenizer_bin() -> tuple[bytes, int]:
    vocab = json.loads(VOCAB.read_text(encoding="utf-8"))["model"]["vocab"]
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    assert tokens[:3] == ["<unk>", "<s>", "</s>"] and tokens[3 + 0x41] == "<0x41>"
    pieces = [token.replace("\u2581", " ").encode("utf-8") for token in tokens]
    out = bytearray(struct.pack("<i", max(len(p) for p in pieces)))
    for i, piece in enumerate(pieces):
        score = 0.0 if i < 259 else -float(i)
        out += struct.pack("<fi", score, len(piece)) + piece
    return bytes(out), len(tokens)


def model_bin(vocab_size: int) -> bytes:
    rng = np.random.default_rng(20260105)
    head_size = DIM // HEADS
    kv_dim = KV_HEADS * head_size

    def matrix(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def layers(make) -> np.ndarray:
        return np.stack([make() for _ in range(LAYERS)])

    parts = [
        rng.standard_normal((vocab_size, DIM)).astype(np.float32),                     # token_embedding_table
        layers(lambda: (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)),      # rms_att_weight
        layers(lambda: matrix(DIM, DIM)),                                              # wq
        layers(lambda: matrix(kv_dim, DIM)),                                           # wk
        layers(lambda: matrix(kv_dim, DIM)),                                           # wv
        layers(lambda: matrix(DIM, DIM)),                                              # wo
        layers(lambda: (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)),      # rms_ffn_weight
        layers(lambda: matrix(HIDDEN, DIM)),                                           # w1
        layers(lambda: matrix(DIM, HIDDEN)),                                           # w2
        layers(lambda: matrix(HIDDEN, DIM)),                                           # w3
        (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32),                      # rms_final_weight
        np.zeros((SEQ_LEN, head_size // 2), np.float32),                               # freq_cis_real (unused)
        np.zeros((SEQ_LEN, head_size // 2), np.float32),                               # freq_cis_imag (unused)
        matrix(vocab_size, DIM) * 4,                                                   # wcls
    ]
    # A negative vocab_size: the classifier is its own matrix (a tied one makes a random model
    # repeat its last token).
    header = struct.pack("<7i", DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, -vocab_size, SEQ_LEN)
    return header + b"".join(p.astype("<f4").tobytes() for p in parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    args = parser.parse_args()
    tokenizer, vocab_size = tokenizer_bin()
    outputs = {OUT / "tokenizer.bin": tokenizer, OUT / "model.bin": model_bin(vocab_size)}
    changed = [path for path, data in outputs.items() if not path.exists() or path.read_bytes() != data]
    if args.check:
        for path in changed:
            print(f"would change: {path.relative_to(ROOT)}")
        return 1 if changed else 0
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(outputs[path])
        tmp.replace(path)
        print(f"wrote {path.relative_to(ROOT)} ({len(outputs[path])} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
