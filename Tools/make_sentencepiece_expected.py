#!/usr/bin/env python3
"""Expected ids for Kiln's SentencePiece tokenizers, from Hugging Face's own implementations.

Writes (nothing downloaded is committed):

- Fixtures/expected/llama_spm_tokenizer.json: the ids `transformers` gives for hard strings
  (whitespace runs, leading spaces, digits, emoji, CJK, unknown bytes, special tokens) with
  llama.cpp's SentencePiece test vocabulary `ggml-vocab-llama-spm.gguf` (Tools/fetch-vocab-tests.sh),
  `add_special_tokens=False`, and the decoded text (`skip_special_tokens=True`).

  transformers' own GGUF entry point (`AutoTokenizer.from_pretrained(dir, gguf_file=...)`) reads
  the file with a reader that imports torch, which is not installed here. The script reads the
  same `tokenizer.ggml.*` keys with gguf-py into the dictionary that reader produces and hands it
  to transformers' converter (`convert_gguf_tokenizer`), so the tokenizer is the one
  `from_pretrained` builds.
- Fixtures/tokenizers/metaspace-bpe/tokenizer.json and .../unigram/tokenizer.json: two tiny
  tokenizers trained with `tokenizers` on Fixtures/text/gpl-3.txt — a Llama-2/Mistral-style
  byte-fallback BPE (normalizer Prepend("▁") + Replace(" ", "▁"), decoder Replace, ByteFallback,
  Fuse, Strip) and a Unigram with the Metaspace pre-tokenizer — with
  Fixtures/expected/metaspace_bpe_tokenizer.json and unigram_tokenizer.json holding the ids
  `tokenizers` gives for the hard strings.

Needs: transformers, tokenizers, gguf. Usage: python3 Tools/make_sentencepiece_expected.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gguf
import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

ROOT = Path(__file__).resolve().parent.parent
VOCAB = ROOT / ".models" / "vocab" / "ggml-vocab-llama-spm.gguf"
TEXT = ROOT / "Fixtures" / "text" / "gpl-3.txt"
EXPECTED = ROOT / "Fixtures" / "expected"
TRAINED = ROOT / "Fixtures" / "tokenizers"

HARD_STRINGS = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\t\n", "\r\n", " \n \n",
    "Hello world", " Hello world", "  Hello world", "Hello World!", "Hello, world!", "    Hello\n    Hello",
    "a  b   c    d", "   leading", "trailing   ", "\t\tindented", "line1\nline2\r\nline3", " \t \n  x",
    "3", "33", "333", "3333", "3.14159", "1,000,000", "2024-01-01", "x  22 y", "  1", "①②③ ½ ٣٤ Ⅻ",
    "🦙", "👍🏽", "😶\u200d🌫\ufe0f", "👨\u200d👩\u200d👧\u200d👦 family", "🇫🇷 flag", "🚀 (normal) ✅",
    "我想在apple工作1314151天～", "日本語のテキスト、カタカナ。", "한국어 텍스트", "中文，标点！",
    "Ünïcödé naïve café", "e\u0301 vs \u00e9", "нещо на Български", "ελληνικά", "العربية ١٢٣", "हिन्दी",
    "\x00\x01\x7f", "\ufffd", "\ue000 private", "\U0010fffd", "\x1c\x1d\x1e\x1f", "\u00a0nbsp", "\u3000x",
    "▁", "▁▁x", "x▁ y", "<0x41>", "<unk>",
    "def f(x):\n    return x**2  # square\n", "for (int i = 0; i < n; ++i) { a[i] += 1; }",
    "<s>", "</s>", "<s>Hello</s>", "a<s>b", " <s> x", "<s> <s>", "<s><s>", "Hello</s> world",
    "The quick brown fox jumps over the lazy dog. " * 3,
]


def gguf_tokenizer_dict(path: Path) -> tuple[str, dict]:
    """What transformers' GGUF reader gives `convert_gguf_tokenizer`, read with gguf-py."""
    reader = gguf.GGUFReader(str(path))
    fields = {name: field.contents() for name, field in reader.fields.items()}
    renames = transformers.integrations.gguf.gguf_tokenizer_mapping.GGUF_TOKENIZER_MAPPING["tokenizer"]
    tokenizer = {new: fields[f"tokenizer.{old}"] for old, new in renames.items() if f"tokenizer.{old}" in fields}
    return fields["general.architecture"], tokenizer


def transformers_gguf(path: Path):
    from transformers import PreTrainedTokenizerFast
    from transformers.integrations.gguf.gguf_tokenizer_mapping import convert_gguf_tokenizer

    architecture, tokenizer_dict = gguf_tokenizer_dict(path)
    backend, _ = convert_gguf_tokenizer(architecture, tokenizer_dict)
    tokens = tokenizer_dict["tokens"]
    fast = PreTrainedTokenizerFast(tokenizer_object=backend)
    return fast, {"bos": tokens[tokenizer_dict["bos_token_id"]], "eos": tokens[tokenizer_dict["eos_token_id"]]}


def cases_for(encode, decode) -> list[dict]:
    out = []
    for text in HARD_STRINGS:
        ids = encode(text)
        out.append({"text": text, "ids": ids, "decoded": decode(ids)})
    return out


def llama_spm() -> dict:
    fast, special = transformers_gguf(VOCAB)
    return {
        "generator": "Tools/make_sentencepiece_expected.py",
        "vocabulary": "ggml-vocab-llama-spm.gguf (llama-cpp-python 0.3.36 sdist, Tools/fetch-vocab-tests.sh)",
        "transformers_version": transformers.__version__, "tokenizers_version": tokenizers.__version__,
        "note": "add_special_tokens=False; decoded with skip_special_tokens=True",
        "cases": cases_for(lambda t: fast.encode(t, add_special_tokens=False),
                           lambda ids: fast.decode(ids, skip_special_tokens=True)),
    }


def training_text() -> list[str]:
    return TEXT.read_text(encoding="utf-8").splitlines()


def metaspace_bpe() -> Tokenizer:
    """Llama-2/Mistral's tokenizer.json shape: byte-fallback BPE with a `▁` normalizer."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    # The trainer needs words: train with Metaspace splitting, then keep the normalizer-only shape.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tok.train_from_iterator(training_text(), trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                                                  show_progress=False))
    tok.pre_tokenizer = None
    return tok


def unigram() -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>",
                                      byte_fallback=False, show_progress=False)
    tok.train_from_iterator(training_text(), trainer)
    return tok


def trained(name: str, tok: Tokenizer) -> tuple[str, dict]:
    return json.dumps(json.loads(tok.to_str()), indent=1, ensure_ascii=False) + "\n", {
        "generator": "Tools/make_sentencepiece_expected.py",
        "tokenizer": f"Fixtures/tokenizers/{name}/tokenizer.json",
        "tokenizers_version": tokenizers.__version__,
        "note": "add_special_tokens=False; decoded with skip_special_tokens=True",
        "cases": cases_for(lambda t: tok.encode(t, add_special_tokens=False).ids,
                           lambda ids: tok.decode(ids, skip_special_tokens=True)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    args = parser.parse_args()
    outputs: dict[Path, str] = {}
    if VOCAB.exists():
        outputs[EXPECTED / "llama_spm_tokenizer.json"] = json.dumps(llama_spm(), indent=1, ensure_ascii=False) + "\n"
    else:
        print(f"{VOCAB} missing (run Tools/fetch-vocab-tests.sh): skipping its expected ids", file=sys.stderr)
    for name, tok in [("metaspace-bpe", metaspace_bpe()), ("unigram", unigram())]:
        text, expected = trained(name, tok)
        outputs[TRAINED / name / "tokenizer.json"] = text
        outputs[EXPECTED / f"{name.replace('-', '_')}_tokenizer.json"] = json.dumps(expected, indent=1, ensure_ascii=False) + "\n"
    changed = [path for path, text in outputs.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in changed:
            print(f"would change: {path.relative_to(ROOT)}")
        return 1 if changed else 0
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(outputs[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
