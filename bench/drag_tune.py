"""Drag settings tuning: the tasks the model's recommended drag settings are chosen on.

The benchmark (bench/drag_bench.py) reports tasks 0–59 of its task generator; settings are tuned on the
unmasked tasks among 60–89 of the same generator, so the benchmark's figures stay held out, and on its
20 reachable (known-warp) tasks, which are therefore not independent of the choice (docs/drag.md says so).

    .venv/bin/python bench/drag_tune.py --methods draggan/fast --options optimize_rows=4 --model M.safetensors
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from drag_bench import (FlowTracker, load_generator, make_reachable_tasks, make_tasks, parse_overrides,
                        run_task, summarize)

TUNING_TASKS = range(60, 90)


FIGURES = ("tasks", "md_flow", "md_start", "moved_share", "half_way", "success", "stalled")


def figures(rows: list[dict], res: int) -> dict:
    """The benchmark's own summary (one definition of every figure) plus the reachable table's ≤ 1 px."""
    summary = summarize(rows, res)
    return {**{k: summary[k] for k in FIGURES}, "within_1px": sum(r["md_flow"] <= 1.0 for r in rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file (default: the bundled model)")
    parser.add_argument("--methods", default="draggan/fast")
    parser.add_argument("--options", default="", help="DragOptions overrides, e.g. optimize_rows=4")
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--reachable", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    G, _name = load_generator(args.model)
    tracker = FlowTracker()
    overrides = parse_overrides(args.options)
    tasks = [t for t in make_tasks(G.img_resolution, TUNING_TASKS.stop)[TUNING_TASKS.start:] if t.mask_box is None]
    reachable = make_reachable_tasks(G.img_resolution, args.reachable)
    for method in filter(None, args.methods.split(",")):
        rows = [run_task(G, t, method, args.max_steps, tracker, overrides) for t in tasks]
        near = [run_task(G, t.as_drag_task(), method, args.max_steps, tracker, overrides) for t in reachable]
        print(json.dumps({"method": method, "options": args.options, "tuning": figures(rows, G.img_resolution),
                          "reachable": figures(near, G.img_resolution)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
