#!/usr/bin/env bash
# Creates .venv with a CPU build of torch (pinned for CI/dev; pyproject keeps a range for users) and
# installs latentdrag in editable mode with its test and bench extras (the suite runs the benchmarks briefly). Idempotent and quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.latentdrag-setup
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
    .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test,bench]'
    touch "$stamp"
fi
