#!/usr/bin/env bash
# Downloads llama.cpp's tokenizer test vectors — vocabulary-only GGUFs with golden inputs
# (.gguf.inp) and token ids (.gguf.out) — from PyPI's llama-cpp-python sdist, which vendors
# llama.cpp, and extracts just the files the tokenizer tests use into .models/vocab/.
# Prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
SDIST=.models/download/llama_cpp_python-$VERSION.tar.gz
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
OUT=.models/vocab
VOCABS="gpt-2 starcoder llama-bpe qwen2 llama-spm"

missing=0
for vocab in $VOCABS; do
    for ext in gguf gguf.inp gguf.out; do
        [ -f "$OUT/ggml-vocab-$vocab.$ext" ] || missing=1
    done
done
if [ "$missing" = 1 ]; then
    mkdir -p .models/download "$OUT"
    if [ ! -f "$SDIST" ] || ! echo "$SHA256  $SDIST" | sha256sum -c --status 2>/dev/null; then
        # `--no-binary llama-cpp-python` (not `:all:`) gets the sdist while letting pip use
        # wheels for the build tools it installs to read the sdist's metadata; with `:all:` it
        # compiles CMake from source first, which takes many minutes.
        python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary llama-cpp-python \
            -d .models/download "llama-cpp-python==$VERSION" >&2
        echo "$SHA256  $SDIST" | sha256sum -c --status || { echo "checksum mismatch for $SDIST" >&2; exit 1; }
    fi
    members=()
    for vocab in $VOCABS; do
        for ext in gguf gguf.inp gguf.out; do
            members+=("llama_cpp_python-$VERSION/vendor/llama.cpp/models/ggml-vocab-$vocab.$ext")
        done
    done
    tar -xzf "$SDIST" -C "$OUT" --strip-components=4 "${members[@]}"
fi
echo "$OUT"
