#!/usr/bin/env python3
"""Greedy tokens transformers generates from SmolLM2 exported by `kiln convert --layout hf`:
writes Fixtures/expected/smollm2_hf_export.json, which the end-to-end test
(Tests/EndToEndTests/HuggingFaceExportTests.swift) compares `kiln-run` with, on the same export
and on the GGUF.

Run by hand (torch and transformers are fixture requirements, not test requirements):

    swift build -c release --product kiln
    python3 Tools/make_hf_export_expected.py [--kiln .build/release/kiln] [--check]

What it does:
1. Exports .models/SmolLM2-135M-Instruct.Q4_1.gguf with
   `kiln convert MODEL -o DIR/model.safetensors --layout hf --dtype f32` into a temporary folder.
2. Loads DIR with AutoTokenizer and AutoModelForCausalLM (float32, eager attention), and checks
   it against an independent load of the GGUF by transformers' own GGUF reader (gguf-py
   dequantisation, its own q/k un-permutation): every logit of a prompt must be identical, and
   so must the tokenizer's ids and the chat template's rendering.
3. Greedily generates up to 32 tokens for two plain prompts and one chat (rendered by the
   exported tokenizer's chat template, which adds SmolLM2's default system message), with
   `generate()` cross-checked by an argmax-per-step loop without a cache.

Why f32, and why the committed ids may be shorter than 32: the export is f32 so transformers
runs exactly the dequantised weights Kiln runs from it; the two still sum in different orders
(logits differ by ~1e-5), so a greedy step whose top-two logits are nearly tied could go either
way. Each sequence is cut before the first step whose top-1 minus top-2 logit is below
MIN_MARGIN (0.05, thousands of times the summation noise); every committed token is then one
both must choose. The per-step margins are committed too: the test compares Kiln's quantised
GGUF path (whose activations are rounded to 8 bits, moving logits by up to a few tenths) only
over the leading steps whose margin exceeds a larger bound.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
OUTPUT = ROOT / "Fixtures" / "expected" / "smollm2_hf_export.json"
MAX_NEW_TOKENS = 32
MIN_MARGIN = 0.05
PROMPTS = ["The capital of France is", "def fibonacci(n):\n    # 1, 1, 2, 3, 5, 8"]
CHAT = [{"role": "user", "content": "What is the capital of France?"}]


@torch.no_grad()
def greedy(model, ids: list[int], eos: int) -> tuple[list[int], list[float], bool]:
    """generate() to MAX_NEW_TOKENS (stopping at EOS), checked against a per-step argmax of a
    full forward pass; returns the new ids (without EOS), each step's top-2 margin, and whether
    it stopped at EOS."""
    out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         do_sample=False, max_new_tokens=MAX_NEW_TOKENS, eos_token_id=eos, pad_token_id=eos)
    new = out[0, len(ids):].tolist()
    seq, margins = list(ids), []
    for expected in new:
        row = model(torch.tensor([seq])).logits[0, -1].float()
        top2 = torch.topk(row, 2).values
        margins.append(round(float(top2[0] - top2[1]), 4))
        assert int(row.argmax()) == expected, "generate() and argmax-by-hand disagree"
        seq.append(expected)
    stopped = bool(new) and new[-1] == eos
    return (new[:-1] if stopped else new), margins, stopped


def cut(ids: list[int], margins: list[float], stopped: bool) -> dict:
    """The prefix before the first near-tie (an EOS step counts: Kiln must stop there too)."""
    keep = next((i for i, m in enumerate(margins) if m < MIN_MARGIN), len(margins))
    if keep >= len(ids) + (1 if stopped else 0):
        return {"ids": ids, "stops_at_eos": stopped, "margins": margins}
    return {"ids": ids[:keep], "stops_at_eos": False, "margins": margins[:keep]}


@torch.no_grad()
def make(kiln: str) -> dict:
    digest = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert digest == MODEL_SHA256, f"{MODEL}: sha256 {digest}"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([kiln, "convert", str(MODEL), "-o", f"{tmp}/model.safetensors", "--layout", "hf", "--dtype", "f32"],
                       check=True)
        tok = AutoTokenizer.from_pretrained(tmp)
        model = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32, attn_implementation="eager").eval()
        eos = model.generation_config.eos_token_id
        assert eos == tok.eos_token_id == 2, (eos, tok.eos_token_id)

        # The export against transformers' own reading of the GGUF.
        ref_tok = AutoTokenizer.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name)
        ref = AutoModelForCausalLM.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name, dtype=torch.float32,
                                                   attn_implementation="eager").eval()
        probe = tok(PROMPTS[0]).input_ids
        assert probe == ref_tok(PROMPTS[0]).input_ids
        assert torch.equal(model(torch.tensor([probe])).logits, ref(torch.tensor([probe])).logits), \
            "the export's logits differ from transformers' GGUF load"
        assert tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True) == \
            ref_tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
        del ref

        cases = []
        for prompt in PROMPTS:
            ids = tok(prompt).input_ids
            new, margins, stopped = greedy(model, ids, eos)
            cases.append({"kind": "prompt", "prompt": prompt, "prompt_ids": ids, **cut(new, margins, stopped)})
        rendered = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
        ids = tok(rendered).input_ids
        new, margins, stopped = greedy(model, ids, eos)
        cases.append({"kind": "chat", "messages": CHAT, "prompt": rendered, "prompt_ids": ids, **cut(new, margins, stopped)})
        for case in cases:
            case["text"] = tok.decode(case["ids"])

    return {
        "generator": "Tools/make_hf_export_expected.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "model": MODEL.name, "model_sha256": MODEL_SHA256,
        "export": "kiln convert MODEL -o DIR/model.safetensors --layout hf --dtype f32",
        "loader": "AutoTokenizer / AutoModelForCausalLM.from_pretrained(DIR, dtype=float32, attn_implementation='eager')",
        "max_new_tokens": MAX_NEW_TOKENS, "min_margin": MIN_MARGIN, "eos_token_id": eos,
        "cases": cases,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kiln", default=str(ROOT / ".build" / "release" / "kiln"))
    parser.add_argument("--check", action="store_true", help="exit 1 if the fixture would change")
    args = parser.parse_args()
    text = json.dumps(make(args.kiln), indent=1, ensure_ascii=False) + "\n"
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_text("utf-8") == text
        print("fixture up to date" if same else f"{OUTPUT.relative_to(ROOT)} would change")
        return 0 if same else 1
    OUTPUT.write_text(text, "utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
