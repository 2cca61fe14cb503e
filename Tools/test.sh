#!/usr/bin/env bash
# The test command (README, and what CI runs): installs dependencies, then runs the Swift
# test suite and the independent Python reader's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/install-deps.sh
Tools/fetch-smollm2.sh >/dev/null   # the real model, for end-to-end tests
python3 Tools/test_kiln_read.py
swift build --build-tests
swift test --skip-build
