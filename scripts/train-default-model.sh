#!/usr/bin/env bash
# Trains the bundled default model (engine/models/default/faces64.safetensors), resumably.
#
# Run it again after an interruption: it continues from the checkpoint in
# ${LATENTDRAG_CACHE:-~/.cache/latentdrag}/training/faces64/ (bit-identically; the teacher wheel and the
# 50k-sample teacher pool are cached next to it). Progress goes to .../training/faces64/train.log.
# When the schedule is done, export and evaluate with:
#   .venv/bin/python -m engine.training export
#   .venv/bin/python -m engine.training evaluate --out-dir docs
# Background use that survives logging out:
#   nohup nice -n 10 scripts/train-default-model.sh > /tmp/train-default-model.out 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# OpenMP threads that spin while waiting waste ~4x the CPU on a busy machine (measured: 4.1 vs 0.95
# CPU-seconds per distillation step at load 12 on 2 cores); passive waiting changes no numbers.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
# Schedule: 16,000 distillation steps, then 400 discriminator-only steps (adv-steps = the D warm-up), so the
# shipped D has learned teacher vs student. Adversarial G steps are left out: in three tries D fell back to
# chance within 20-40 G steps, and a slower G that kept D in the game drifted into artifacts
# (docs/model-card.md). Extra arguments are passed on, e.g.
# `--run-name faces64-d --init-from engine/models/default/faces64.safetensors` to redo only the D steps.
exec .venv/bin/python -m engine.training --cache-dir "${LATENTDRAG_CACHE:-$HOME/.cache/latentdrag}" --threads 2 \
    run --run-name faces64 --distill-steps 16000 --adv-steps 400 "$@"
