#!/usr/bin/env python3
"""Token ids llama.cpp gives with a real Gemma 3 vocabulary, for Kiln's tokenizer test.

Writes Fixtures/expected/gemma3_tokenizer.json: for the hard strings of
Tools/make_sentencepiece_expected.py plus Gemma-specific ones (chat markers, HTML tags that are
user-defined tokens, whitespace runs, which Gemma stores as real spaces), the ids llama.cpp's
tokenizer gives with `parse_special` true and false (no BOS), and the ids of all of
Fixtures/text/gpl-3.txt. The model is gemma-3-270m-q4_k_m.gguf (Tools/fetch-gemma3.sh); it is
not committed.

llama.cpp is not part of Kiln: build its `llama-server` yourself, outside this repository, start
it on the model (`llama-server -m .models/gemma-3-270m-q4_k_m.gguf --port 8080`), and pass its
address. The script uses the server's /tokenize endpoint only.

Needs: nothing beyond Python 3. Usage: python3 Tools/make_gemma3_tokenizer_expected.py http://127.0.0.1:8080
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sentencepiece_expected import HARD_STRINGS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "Fixtures" / "expected" / "gemma3_tokenizer.json"
TEXT = ROOT / "Fixtures" / "text" / "gpl-3.txt"

GEMMA_STRINGS = [
    "<start_of_turn>user\nWhy is the sky blue?<end_of_turn>\n<start_of_turn>model\n",
    "<bos><start_of_turn>user\nhi<end_of_turn>", "<start_of_turn", "<div class=\"x\"></div>", "<ul><li>a</li></ul>",
    "a  b   c    d     e", "\n\n\n\n", "\t\t\t", "x\u00a0y", "  leading two", "<unused0>", "[multimodal]",
    "<mask>", "<eos>", "<pad>x", "**bold** _it_ `code`", "    def f():\n        return 1\n",
]


def tokenize(server: str, text: str, parse_special: bool) -> list[int]:
    body = json.dumps({"content": text, "add_special": False, "parse_special": parse_special}).encode("utf-8")
    request = urllib.request.Request(server.rstrip("/") + "/tokenize", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["tokens"]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    server = sys.argv[1]
    cases = [{"text": text, "ids": tokenize(server, text, True), "ids_text_only": tokenize(server, text, False)}
             for text in HARD_STRINGS + GEMMA_STRINGS]
    text = TEXT.read_text(encoding="utf-8")
    document = {
        "generator": "Tools/make_gemma3_tokenizer_expected.py (llama.cpp llama-server /tokenize, add_special false)",
        "model": "gemma-3-270m-q4_k_m.gguf, sha256 a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "note": "ids: parse_special true; ids_text_only: parse_special false",
        "cases": cases,
        "document": {"file": "Fixtures/text/gpl-3.txt", "ids": tokenize(server, text, False)},
    }
    # One case per line: the id lists stay on one line each.
    lines = [json.dumps({k: v for k, v in document.items() if k not in ("cases", "document")}, ensure_ascii=False)[:-1] + ","]
    lines.append(' "cases": [')
    lines += ["  " + json.dumps(case, ensure_ascii=False) + ("," if i + 1 < len(cases) else "") for i, case in enumerate(cases)]
    lines.append(" ],")
    lines.append(' "document": ' + json.dumps(document["document"], ensure_ascii=False))
    lines.append("}")
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(cases)} cases, {len(document['document']['ids'])} document tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
