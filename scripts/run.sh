#!/usr/bin/env bash
# The main job: set up, start the engine on the bundled model, show it working (a drag on a sample,
# pictures in out/), then keep serving for Krita, GIMP or any gRPC client until Ctrl-C.
# LATENTDRAG_DEMO_ONLY=1 stops the engine after the demo; LATENTDRAG_LISTEN picks the address.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
listen="${LATENTDRAG_LISTEN:-127.0.0.1:50051}"
.venv/bin/latentdrag serve --listen "$listen" &
engine_pid=$!
trap 'kill "$engine_pid" 2>/dev/null || true; wait "$engine_pid" 2>/dev/null || true' EXIT
.venv/bin/latentdrag demo --engine "$listen" -o out
if [ "${LATENTDRAG_DEMO_ONLY:-0}" = "1" ]; then
    exit 0
fi
echo "The engine keeps serving on $listen: connect the Krita docker or GIMP's Filters → Generative → Latent Drag."
echo "Press Ctrl-C to stop."
wait "$engine_pid"
