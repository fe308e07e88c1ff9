#!/usr/bin/env bash
# Sets up everything the test suite needs, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-krita.sh  # Krita 5 + Xvfb for tests/krita (skipped without root)
bash scripts/setup-gimp.sh  # Debian trixie chroot with GIMP 3 for tests/gimp (skipped without root)
# OpenMP threads that spin while waiting cost several times the CPU when the suite's servers, clients and
# editors share the cores (measured by the training work); passive waiting changes no numbers.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
exec .venv/bin/python -m pytest -q "$@"
