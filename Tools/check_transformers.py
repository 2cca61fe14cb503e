#!/usr/bin/env python3
"""Checks that Hugging Face transformers loads a folder Kiln wrote with `--layout hf`: no
missing, unexpected or mismatched weights, the tokenizer loads, and (with --reference) the
logits for a few tokens equal those of a reference folder exactly.

Optional (needs torch and transformers, which the test requirements do not install); the
Swift tests run it when both import.

Usage: python3 Tools/check_transformers.py DIR [--reference DIR]
"""

from __future__ import annotations

import argparse
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--reference")
    args = parser.parse_args()
    model, info = AutoModelForCausalLM.from_pretrained(args.directory, output_loading_info=True)
    problems = [f"{kind}: {sorted(keys)}" for kind, keys in info.items() if keys]
    tokenizer = AutoTokenizer.from_pretrained(args.directory)
    ids = torch.tensor([tokenizer("the test").input_ids or [0]])
    if args.reference:
        reference = AutoModelForCausalLM.from_pretrained(args.reference)
        with torch.no_grad():
            if not torch.equal(model(ids).logits, reference(ids).logits):
                problems.append("logits differ from the reference folder's")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"OK {args.directory}: {type(model).__name__}, {type(tokenizer).__name__}, tokens {ids.tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
