#!/usr/bin/env bash
# Regenerates the pictures of docs/latent-space.md from a model (default: the bundled one):
# docs/directions.png (top 6 principal directions, -3..+3 sd) and docs/interpolation.gif.
# Usage: scripts/render-latent-space-docs.sh [MODEL] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
model_args=()
if [ $# -ge 1 ] && [ -n "$1" ]; then model_args=(--model "$1"); fi
out="${2:-docs}"
py=.venv/bin/python
"$py" -m engine directions "${model_args[@]}" -o "$out/directions.png" --k 6 --steps 7 --start 0 --cell 96
"$py" -m engine explore interpolate "${model_args[@]}" 1 5 --frames 16 --space w --cell 96 \
    --gif "$out/interpolation.gif" --fps 12
