#!/usr/bin/env bash
# Installs what building and testing Kiln needs on Debian/Ubuntu (or macOS with Homebrew):
# libzstd and pkg-config, and the Python packages the tests use. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname)" = "Darwin" ]; then
    command -v pkg-config >/dev/null && pkg-config --exists libzstd && pkg-config --exists zlib || brew install zstd zlib pkg-config
elif ! { command -v pkg-config >/dev/null && pkg-config --exists libzstd && pkg-config --exists zlib; }; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq libzstd-dev zlib1g-dev pkg-config >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -r Tools/requirements-test.txt 2>&1 | grep -v "Running pip as the 'root' user" || true
