"""Drag step budget: how far the benchmark's drags get with more steps than its 300.

One drag per task with a high step limit; the picture at every checkpoint is read exactly as
bench/drag_bench.py reads a drag that stopped there (same tasks, the flow guided through the frames so
far, the same figures), so one run gives the table for every budget up to the limit, and its
300-step line is the benchmark's row.

    nice .venv/bin/python bench/drag_budget.py --methods draggan/fast --out A.json &
    nice .venv/bin/python bench/drag_budget.py --methods freedrag/fast --out B.json
    .venv/bin/python bench/drag_budget.py --merge A.json B.json --write-docs
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from drag_bench import (FLOW_GUIDE_EVERY, REPO, FlowTracker, drag_options, flow_reading, found_distances,
                        load_generator, machine_description, make_tasks, mean_distance, parse_overrides,
                        seed_ws, summarize, to_uint8, write_docs_section)
from engine.edit.drag import drag

CHECKPOINT_EVERY = 50  # steps; a multiple of FLOW_GUIDE_EVERY, so every checkpoint is a frame
HEADING = "## Drag: step budget"
DEFAULT_OUT = REPO / "bench/results/drag_budget.json"


def budget_rows(G, task, variant: str, max_steps: int, tracker: FlowTracker, overrides: dict) -> list[dict]:
    """The task's benchmark row at every checkpoint of one drag (the final picture for checkpoints
    at or after the step the drag stopped)."""
    res = G.img_resolution
    ws = seed_ws(G, task.seed)
    with torch.no_grad():
        before = to_uint8(G.synthesize(ws).image)
    mask = task.mask(res)
    frames: dict[int, np.ndarray] = {}
    handles_at: dict[int, list] = {}

    def on_step(progress) -> None:
        handles_at[progress.step] = progress.handles
        if progress.preview is not None:
            frames[progress.step] = to_uint8(progress.preview[None])

    result = drag(G, ws, task.handles, task.targets, mask=mask,
                  options=drag_options(variant, max_steps=max_steps, preview_every=FLOW_GUIDE_EVERY, **overrides),
                  callback=on_step)
    steps = sorted(frames)
    readings = dict(zip(steps, tracker.readings_through(before, [frames[s] for s in steps])))
    final = flow_reading(tracker, before, to_uint8(result.image), task.handles, task.targets,
                         [frames[s] for s in steps])
    rows = []
    for checkpoint in range(CHECKPOINT_EVERY, max_steps + 1, CHECKPOINT_EVERY):
        stopped = checkpoint >= result.steps
        picture = to_uint8(result.image) if stopped else frames[checkpoint]
        reading = final if stopped else found_distances(tracker.read(readings[checkpoint], task.handles),
                                                        task.handles, task.targets)
        row = {"budget": checkpoint, "task": task.task_id, "points": len(task.handles), "masked": mask is not None,
               "md_flow": reading["md_flow"], "md_flow_raw": reading["md_flow_raw"],
               "flow_beyond_start": reading["flow_beyond_start"],
               "md_own": mean_distance(result.handles if stopped else handles_at[checkpoint], task.targets),
               "md_start": mean_distance(task.handles, task.targets),
               "steps": result.steps if stopped else checkpoint, "converged": stopped and result.converged}
        if mask is not None:
            diff = np.abs(picture.astype(np.float32) - before.astype(np.float32)).mean(-1)
            outside = mask.numpy() == 0
            row["change_outside"], row["change_inside"] = float(diff[outside].mean()), float(diff[~outside].mean())
        rows.append(row)
    return rows


def summary(rows: list[dict], res: int) -> dict:
    """drag_bench's figures for one budget, plus the coarser thresholds a small model needs."""
    out = summarize([{**r, "seconds": 0.0, "ms_per_step": 0.0} for r in rows], res)
    for name in ("ms_per_step", "median_seconds_converged"):
        out.pop(name)
    out["within_1px"] = sum(r["md_flow"] <= 1 for r in rows)
    out["within_2px"] = sum(r["md_flow"] <= 2 for r in rows)
    out["mean_steps"] = float(np.mean([r["steps"] for r in rows]))
    return out


def run(args) -> dict:
    G, model_name = load_generator(args.model)
    tracker = FlowTracker()
    overrides = parse_overrides(args.options)
    tasks = make_tasks(G.img_resolution, args.tasks)
    report = {"model": model_name, "resolution": G.img_resolution, "tasks": len(tasks), "max_steps": args.max_steps,
              "checkpoint_every": CHECKPOINT_EVERY, "options": args.options, "torch": torch.__version__,
              "threads": args.threads, "machine": machine_description(), "date": time.strftime("%Y-%m-%d"),
              "rows": {}, "summary": {}}
    for method in filter(None, args.methods.split(",")):
        rows = []
        for task in tasks:
            rows += budget_rows(G, task, method, args.max_steps, tracker, overrides)
            print(method, task.task_id, rows[-1], flush=True)
        report["rows"][method] = rows
    return summarize_report(report)


def summarize_report(report: dict) -> dict:
    report["summary"] = {method: {str(b): summary([r for r in rows if r["budget"] == b], report["resolution"])
                                  for b in sorted({r["budget"] for r in rows})}
                         for method, rows in report["rows"].items()}
    return report


def merge(reports: list[dict]) -> dict:
    merged = dict(reports[0])
    merged["date"] = max(r["date"] for r in reports)
    merged["rows"] = {k: v for r in reports for k, v in r["rows"].items()}
    return summarize_report(merged)


def markdown(report: dict) -> str:
    res = report["resolution"]
    lines = [HEADING, "",
             f"Reproduce: `bench/drag_budget.py` (its docstring; {report['tasks']} tasks of the Drag section's task "
             f"set, one drag each up to {report['max_steps']} steps, read every {report['checkpoint_every']} steps). "
             f"Model: `{report['model']}` ({res} px), its drag settings. Machine: {report['machine']}; torch "
             f"{report['torch']}, {report['threads']} thread(s); run {report['date']}.",
             "",
             "The Drag section's benchmark stops every drag at 300 steps. Here each drag runs longer, and the picture "
             "at each budget is read exactly as that benchmark reads a drag stopped there (same flow, guided through "
             "the frames so far; same capping and thresholds; the 300-step line reproduces its row for the same "
             "code). A drag that converged earlier counts with its final picture.",
             ""]
    for method, by_budget in report["summary"].items():
        lines += [f"**{method}**", "",
                  "| steps (limit) | MD flow px | MD flow 1 / 3 / 5 pts | ≤ 0.5 px (success) | ≤ 1 px | ≤ 2 px "
                  "| ≥ half way | stalled | MD own px | converged | mean steps used | outside-mask change 8-bit |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for budget, s in by_budget.items():
            if int(budget) % 100:
                continue
            points = " / ".join(f"{s['by_points'][n]:.2f}" for n in ("1", "3", "5") if n in s["by_points"])
            change = f"{s['change_outside']:.2f}" if s["change_outside"] is not None else "–"
            lines.append(f"| {budget} | {s['md_flow']:.2f} | {points} | {s['success']}/{s['tasks']} | "
                         f"{s['within_1px']} | {s['within_2px']} | {s['half_way']} | {s['stalled']} | "
                         f"{s['md_own']:.2f} | {s['converged']} | {s['mean_steps']:.0f} | {change} |")
        lines.append("")
    if report.get("note"):
        lines += [report["note"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--methods", default="draggan/fast,freedrag/fast")
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--options", default="", help="DragOptions overrides, e.g. optimize_rows=4")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--merge", type=Path, nargs="*", default=[], help="combine these runs instead of running")
    parser.add_argument("--note", default="", help="a paragraph printed under the tables")
    parser.add_argument("--write-docs", action="store_true", help=f"update the \"{HEADING[3:]}\" section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.max_steps % CHECKPOINT_EVERY:
        parser.error(f"--max-steps must be a multiple of {CHECKPOINT_EVERY}")
    torch.set_num_threads(args.threads)
    report = merge([json.loads(p.read_text()) for p in args.merge]) if args.merge else run(args)
    if args.note:
        report["note"] = args.note
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report))
    if args.write_docs:
        write_docs_section(REPO / "docs/benchmarks.md", markdown(report), HEADING)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
