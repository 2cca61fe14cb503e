#!/usr/bin/env python3
"""Expected values for Kiln's tokenizer tests, from Hugging Face's own implementations.

Writes two small files (the model itself is never committed):

- Fixtures/expected/smollm2_tokenizer.json: token ids `transformers` gives for hard strings
  (unicode, emoji, CJK, digits, whitespace runs, code, special tokens) with SmolLM2-135M-Instruct's
  tokenizer, loaded from the GGUF (`AutoTokenizer.from_pretrained(dir, gguf_file=name)`),
  `add_special_tokens=False`; also the ids with special tokens split as text, and the decoded text.
- Fixtures/expected/pretokenizer_splits.json: the pieces HF tokenizers' `Split` pre-tokenizer
  (Oniguruma regexes) cuts texts into, for each pre-tokenizer Kiln implements by hand, over the
  same hard strings and seeded random strings; cross-checked against Python's `regex` module.

One correction: transformers' GGUF loader knows no pre-tokenizer for `tokenizer.ggml.pre =
"smollm"` and falls back to plain GPT-2 byte-level splitting. SmolLM2's own tokenizer.json (and
llama.cpp, which maps "smollm" to StarCoder's rules) first isolates every digit, so the two disagree
on text like "  1" (`Ġ`,`Ġ`,`1` versus `ĠĠ`,`1`). We install SmolLM2's real pre-tokenizer —
Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False)] — and record the
loader's uncorrected ids too, where they differ, for the record.

Needs: transformers, tokenizers, gguf, regex (`pip install transformers gguf`; not installed
here) and the model (Tools/fetch-smollm2.sh).

Usage:
    python3 Tools/make_tokenizer_expected.py [MODEL] [--check]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import regex
import tokenizers
import transformers
from tokenizers import Regex, pre_tokenizers
from transformers import AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
TOKENIZER_OUTPUT = ROOT / "Fixtures" / "expected" / "smollm2_tokenizer.json"
SPLITS_OUTPUT = ROOT / "Fixtures" / "expected" / "pretokenizer_splits.json"

# The patterns as the model files write them (transformers / tokenizer.json), not llama.cpp's
# rewrites: the hand-written matchers must agree with these.
GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Kiln's names (`tokenizer.ggml.pre`) → (HF pre-tokenizer, the same with Python's `regex`).
PRE_TOKENIZERS = {
    "gpt-2": [GPT2],
    "smollm": [r"\p{N}", GPT2],  # Digits(individual_digits=True), then GPT-2's pattern
    "llama-bpe": [LLAMA3],
    "qwen2": [QWEN2],
}

HARD_STRINGS = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n", "\r\n", " \n \n", "\n =",
    "Hello world", " Hello world", "Hello World!", "Hello, world!", "    Hello\n    Hello",
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
    "don't DON'T it'ſ 'ſ", "it'ſt 'ſa I'Ma 'LLb 'REd x'VEy", "' era", "y'all!",
    "Ünïcödé naïve café", "e\u0301 vs \u00e9", "нещо на Български", "ελληνικά γράμματα", "עברית", "العربية ١٢٣",
    "हिन्दी भाषा", "ไทย ภาษา", "កាន់តែពិសេសអាចខលចេញ", "Straße İstanbul ǅ",
    "🦙", "👍🏽", "😶\u200d🌫\ufe0f", "👨\u200d👩\u200d👧\u200d👦 family", "🇫🇷 flag", "🚀 (normal) ✅ (own token)",
    "我想在apple工作1314151天～", "日本語のテキスト、カタカナ。", "한국어 텍스트", "中文，标点！",
    "3", "33", "333", "3333", "33333", "3333333", "3.14159", "1,000,000", "2024-01-01", "x  22 y", "  1",
    "①②③ ½ ٣٤ Ⅻ", "v1.2.3", "a1b2c3", "0x1F600",
    "a  b   c    d", "   leading", "trailing   ", "\t\tindented", "line1\nline2\r\nline3", " \t \n  x",
    "\u00a0nbsp", "x \u00a0y", "\u3000ideographic space", "\u2028line separator", "\x1c\x1d\x1e\x1f", "\x0b\x0c",
    "\x00\x01\x7f", "\ufffd", "\ue000 private", "\u0600\u200b\u00ad",
    "def f(x):\n    return x**2  # square\n", "for (int i = 0; i < n; ++i) { a[i] += 1; }",
    '<div class="x">&amp;</div>', "!!!!!!", "''''''```````\"\"\"\"......!!!!!!??????", "------=======",
    "```swift\nlet x = 1\n```", "SELECT * FROM t WHERE id = 42;", "http://example.com/a?b=c&d=e#f",
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>", "a<|endoftext|>b", "<|im_start|><|im_end|>", "<|im_start", " <|im_start|> ",
    "<repo_name>kiln<file_sep>main.swift", "<|im_end|>\n\n",
    "The quick brown fox jumps over the lazy dog. " * 4,
]

# Characters for the random strings: every class and every boundary the patterns care about.
POOL = list("aZé ß日本ж\u0301'sStTrReEvVlLmMdD") + [
    " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2009",
    "0", "7", "٣", "½", "①", "Ⅻ", "!", ".", ",", "-", "_", "(", "#", "$", "+", "`", "\"", "…", "—",
    "🦙", "👍🏽", "\u200d", "\ufe0f", "ſ",
]


def random_strings(count: int, seed: int = 20250101) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 24))) for _ in range(count)]


def hf_pieces(patterns: list[str], text: str) -> list[str]:
    splitters = [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in patterns]
    return [piece for piece, _ in pre_tokenizers.Sequence(splitters).pre_tokenize_str(text)]


def regex_pieces(patterns: list[str], text: str) -> list[str]:
    """Each pattern's matches, and the text between them, as pieces (HF's "isolated")."""
    pieces = [text] if text else []
    for pattern in patterns:
        compiled = regex.compile(pattern)
        split = []
        for piece in pieces:
            end = 0
            for m in compiled.finditer(piece):
                split += [piece[end:m.start()]] if m.start() > end else []
                split.append(m.group())
                end = m.end()
            split += [piece[end:]] if end < len(piece) else []
        pieces = split
    return pieces


def splits() -> dict:
    cases = []
    for text in HARD_STRINGS + random_strings(160):
        case = {"text": text}
        for name, patterns in PRE_TOKENIZERS.items():
            pieces = hf_pieces(patterns, text)
            assert "".join(pieces) == text, (name, text, pieces)
            if pieces != regex_pieces(patterns, text):
                raise SystemExit(f"HF tokenizers and Python regex disagree for {name} on {text!r}")
            case[name] = pieces
        cases.append(case)
    return {"generator": "Tools/make_tokenizer_expected.py", "tokenizers_version": tokenizers.__version__,
            "patterns": PRE_TOKENIZERS, "cases": cases}


def smollm2(model: Path) -> dict:
    loaded = AutoTokenizer.from_pretrained(str(model.parent), gguf_file=model.name)
    tokenizer = AutoTokenizer.from_pretrained(str(model.parent), gguf_file=model.name)
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    cases = []
    for text in HARD_STRINGS:
        ids = tokenizer.encode(text, add_special_tokens=False)
        case = {
            "text": text,
            "ids": ids,
            # Special tokens' text tokenized as ordinary text (Kiln's `parseSpecial: false`).
            "ids_split_special": tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"],
            "decoded": tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False),
            "decoded_skip_special": tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False),
        }
        uncorrected = loaded.encode(text, add_special_tokens=False)
        if uncorrected != ids:
            case["ids_transformers_gguf_loader"] = uncorrected
        cases.append(case)
    return {
        "generator": "Tools/make_tokenizer_expected.py",
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "model": model.name,
        "pre_tokenizer": "Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False)] (SmolLM2's tokenizer.json; "
                         "transformers' GGUF loader alone gives plain ByteLevel: see ids_transformers_gguf_loader)",
        "vocabulary_size": len(tokenizer.get_vocab()),
        "cases": cases,
    }


def write(path: Path, value: dict, check: bool) -> bool:
    # One case per line: small diffs when an input is added, and a file a person can read.
    head = {key: item for key, item in value.items() if key != "cases"}
    lines = [json.dumps(head, ensure_ascii=True)[:-1] + ', "cases": [']
    lines += [" " + json.dumps(case, ensure_ascii=True) + "," for case in value["cases"]]
    lines[-1] = lines[-1].rstrip(",")
    data = ("\n".join(lines) + "\n]}\n").encode()
    json.loads(data)
    assert len(data) < 200_000, (path, len(data))
    if check:
        same = path.exists() and path.read_bytes() == data
        print(f"{path.relative_to(ROOT)}: " + ("up to date" if same else "would change"))
        return same
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"wrote {path.relative_to(ROOT)} ({len(data)} bytes)")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default=str(MODEL))
    parser.add_argument("--check", action="store_true", help="exit 1 if an output would change")
    args = parser.parse_args()
    model = Path(args.model)
    if not model.exists():
        print(f"{model} is missing; run Tools/fetch-smollm2.sh", file=sys.stderr)
        return 2
    ok = write(SPLITS_OUTPUT, splits(), args.check)
    ok = write(TOKENIZER_OUTPUT, smollm2(model), args.check) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
