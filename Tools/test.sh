#!/usr/bin/env bash
# The test command (README, and what CI runs): installs dependencies, then runs the Swift
# test suite and the independent Python reader's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/install-deps.sh
Tools/fetch-smollm2.sh >/dev/null   # the real model, for end-to-end tests
Tools/fetch-vocab-tests.sh >/dev/null   # llama.cpp's tokenizer vocabularies and golden vectors
Tools/fetch-gemma3.sh >/dev/null   # a real SentencePiece (Gemma 3) vocabulary, for the tokenizer test
python3 Tools/test_kiln_read.py
swift build -c release --product kiln-run   # the end-to-end tests run the release binaries
swift build -c release --product kiln
swift build --build-tests
swift test --skip-build
Tools/check-build-time-models.sh   # the build-tool plugin, from a package that uses it
Tools/docs.sh   # DocC builds without warnings and every public symbol has a doc comment
