#!/usr/bin/env bash
# Install nerve (editable) into the current Python. Where torch is missing, the CPU build of
# torch 2.13.0 goes in first, so that resolving `torch>=2.1` never pulls the CUDA wheels.
# Usage: bash scripts/install.sh [EXTRAS]     e.g. bash scripts/install.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if ! "$py" -c "import torch" >/dev/null 2>&1; then
    "$py" -m pip install --quiet --root-user-action=ignore "torch==2.13.0"
fi
extras=${1:-}
"$py" -m pip install --quiet --root-user-action=ignore -e ".${extras:+[$extras]}"
# pyenv only sees a new console script after a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
