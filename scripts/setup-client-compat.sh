#!/usr/bin/env bash
# Prepares the cross-client tests (idempotent, cached under .cache/ and tests/node/node_modules):
# - a venv with Debian-era grpcio 1.51.1 + protobuf 4.21.12 (what Krita and GIMP's Python have on
#   Debian bookworm / trixie), to prove the committed stubs and engine.client work there;
# - the Node.js client's packages (npm ci from the committed lockfile).
# Usage: scripts/setup-client-compat.sh [python|node|all]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
if [ "$what" = python ] || [ "$what" = all ]; then
    venv=.cache/client-grpc-1.51
    if ! "$venv/bin/python" -c "import grpc, google.protobuf; assert grpc.__version__ == '1.51.1'" 2>/dev/null; then
        "${PYTHON:-python3}" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check --only-binary=:all: grpcio==1.51.1 protobuf==4.21.12
    fi
fi
if [ "$what" = node ] || [ "$what" = all ]; then
    if [ ! -d tests/node/node_modules/@grpc/grpc-js ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
        (cd tests/node && npm ci --no-audit --no-fund --silent)
    fi
fi
