#!/usr/bin/env bash
# Sets up everything the test suite needs, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-krita.sh  # Krita 5 + Xvfb for tests/krita (skipped without root)
bash scripts/setup-gimp.sh  # Debian trixie chroot with GIMP 3 for tests/gimp (skipped without root)
exec .venv/bin/python -m pytest -q "$@"
