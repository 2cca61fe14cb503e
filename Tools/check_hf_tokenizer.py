#!/usr/bin/env python3
"""Checks the tokenizer files of a folder Kiln wrote with `--layout hf` against Kiln's own
answers: Hugging Face's `tokenizers` library (tokenizer.json) and, when it imports,
transformers' AutoTokenizer (tokenizer.json + tokenizer_config.json) must give the ids,
decoded text, special tokens and chat-template renderings Kiln gave for the same inputs.

The Swift test (Tests/KilnRuntimeTests/HuggingFaceTokenizerExportTests.swift) writes CASES:

    {"cases": [{"text", "ids" (no special tokens added), "prompt_ids" (BOS/EOS added as the
                tokenizer asks), "decoded", "decoded_skip" (skip_special_tokens)}],
     "special": {"bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id"},
     "chats": [{"messages", "add_generation_prompt", "rendered"}]}

Needs `tokenizers` (Tools/requirements-test.txt); transformers (and jinja2 for the chat
templates) are used when present. torch is not needed.

Usage: python3 Tools/check_hf_tokenizer.py DIR CASES.json
Prints one line per mismatch and a summary; exits 1 on any mismatch.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402


def load_auto_tokenizer(directory: str):
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    return AutoTokenizer.from_pretrained(directory)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    directory, cases_path = sys.argv[1], sys.argv[2]
    with open(cases_path, encoding="utf-8") as f:
        expected = json.load(f)
    raw = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    auto = load_auto_tokenizer(directory)
    problems: list[str] = []
    checks = 0

    def same(what: str, got, want) -> None:
        nonlocal checks
        checks += 1
        if got != want:
            problems.append(f"{what}: got {got!r}, Kiln {want!r}")

    for case in expected["cases"]:
        text = case["text"]
        label = repr(text)[:60]
        same(f"tokenizers encode {label}", raw.encode(text, add_special_tokens=False).ids, case["ids"])
        same(f"tokenizers decode {label}", raw.decode(case["ids"], skip_special_tokens=False), case["decoded"])
        same(f"tokenizers decode(skip special) {label}", raw.decode(case["ids"], skip_special_tokens=True), case["decoded_skip"])
        if auto is not None:
            same(f"AutoTokenizer encode {label}", auto(text, add_special_tokens=False)["input_ids"], case["ids"])
            same(f"AutoTokenizer encode with special tokens {label}", auto(text)["input_ids"], case["prompt_ids"])
            same(f"AutoTokenizer decode {label}", auto.decode(case["ids"]), case["decoded"])
            same(f"AutoTokenizer decode(skip special) {label}", auto.decode(case["ids"], skip_special_tokens=True),
                 case["decoded_skip"])

    if auto is not None:
        for key, want in expected["special"].items():
            same(f"AutoTokenizer {key}", getattr(auto, key), want)
        for chat in expected.get("chats", []):
            rendered = auto.apply_chat_template(chat["messages"], tokenize=False,
                                                add_generation_prompt=chat["add_generation_prompt"])
            same(f"chat template ({len(chat['messages'])} messages)", rendered, chat["rendered"])

    for line in problems[:40]:
        print(line)
    backend = "tokenizers" + (f" + transformers {type(auto).__name__}" if auto is not None else " (transformers not installed)")
    print(f"{directory}: {checks - len(problems)}/{checks} checks agree with Kiln ({backend})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
