#!/usr/bin/env bash
# Regenerates the committed Python stubs from protos/ with a pinned grpcio-tools 1.51.x, whose output
# (protoc 3.21) imports on Debian's grpcio 1.51 / protobuf 4.21 (inside Krita and GIMP) and on current
# versions alike. The tools live in their own venv under .cache/ so the dev venv keeps current grpcio.
# Usage: scripts/gen-protos.sh [OUT_DIR]   (default: engine/client/_gen)
set -euo pipefail
cd "$(dirname "$0")/.."
GRPC_TOOLS_VERSION=1.51.3
TOOLS_VENV=.cache/grpc-tools-$GRPC_TOOLS_VERSION
OUT="${1:-engine/client/_gen}"
PY="${PYTHON:-python3}"
if ! "$TOOLS_VENV/bin/python" -c "import grpc_tools" 2>/dev/null; then
    "$PY" -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install -q --disable-pip-version-check "grpcio-tools==$GRPC_TOOLS_VERSION"
fi
mkdir -p "$OUT"
"$TOOLS_VENV/bin/python" -m grpc_tools.protoc -I protos \
    --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" \
    protos/latentdrag/v1/engine.proto
# protoc writes `from latentdrag.v1 import engine_pb2`; the client is vendored into editor plugins under
# other package names, so the stubs must import each other relatively.
sed -i 's/^from latentdrag\.v1 import /from . import /' "$OUT/latentdrag/v1/engine_pb2_grpc.py"
