"""Drag benchmark: precision, speed and locality of DragGAN (fast / published presets) and FreeDrag.

One command (results land in bench/results/ and the "Drag" section of docs/benchmarks.md):

    .venv/bin/pip install -e '.[bench]'      # OpenCV for the independent tracker
    nice .venv/bin/python bench/drag_bench.py --write-docs

What is measured, per method/preset, on a fixed versioned task set drawn from seeds:
- MD (flow): mean final distance handle → target where the handle's content *actually* went, found
  by OpenCV DIS optical flow from the original to the edited image on ×8 bicubic-upsampled images,
  started from the flow chained through the drag's frames (the tracker's own error on known warps
  is measured and reported next to it); a reading farther
  from the target than the handle started counts as no progress (raw readings are kept too);
- MD (own): the method's own final handle positions;
- success: flow MD ≤ 2·res/256 px; steps; ms per step; wall time of converged drags;
- change outside the mask (masked tasks), mean absolute 8-bit difference;
- paired reconstruction (DragGAN paper protocol): perturb a latent, use the flow between the two
  images as handle → target pairs, drag image 1 (≤ 100 steps), MSE to image 2;
- per-step time on a 512 px FFHQ-configuration generator with random weights (fast vs published).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.edit.drag import DragOptions, drag, resolve_optimize_rows  # noqa: E402
from engine.edit.image_losses import psnr  # noqa: E402
from engine.models.precision import resolve_precision  # noqa: E402
from engine.models import Generator, StyleGAN2Config  # noqa: E402

TASKSET_VERSION = 1
# "method/preset[/precision]"; no precision = "auto" (bf16 where the CPU/GPU computes it natively).
METHODS = ["draggan/fast", "draggan/fast/float32", "draggan/published", "freedrag/fast"]
FLOW_UPSAMPLE = 8
FLOW_GUIDE_EVERY = 25  # drag steps between the frames the flow is chained through (FlowTracker)
PSI = 0.7


@dataclass
class DragTask:
    task_id: int
    seed: int
    handles: list[tuple[float, float]]
    targets: list[tuple[float, float]]
    mask_box: tuple[int, int, int, int] | None  # editable x0, y0, x1, y1 (exclusive), or None

    def mask(self, res: int) -> torch.Tensor | None:
        """The drag's editable mask [res, res] (1 inside the box), or None for an unmasked task."""
        if self.mask_box is None:
            return None
        x0, y0, x1, y1 = self.mask_box
        mask = torch.zeros(res, res)
        mask[y0:y1, x0:x1] = 1
        return mask


def make_tasks(res: int, count: int = 60) -> list[DragTask]:
    """Task set v1: 1, 3, 5 points in turn; each displacement 5–25 % of the resolution in a random
    direction; handles in the central 60 % of the image and ≥ 12 % apart; every third task masked
    to the box around its points (margin 12 %). Fixed by the seed, so every run sees the same tasks."""
    rng = np.random.default_rng(20240 + TASKSET_VERSION)
    tasks = []
    for task_id in range(count):
        n_points = (1, 3, 5)[task_id % 3]
        handles, targets = [], []
        while len(handles) < n_points:
            h = rng.uniform(0.2 * res, 0.8 * res, size=2)
            angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(0.05, 0.25) * res
            t = h + length * np.array([math.cos(angle), math.sin(angle)])
            if not (2 <= t.min() and t.max() <= res - 3):
                continue
            if any(np.hypot(*(h - np.array(o))) < 0.12 * res for o in handles):
                continue
            handles.append(tuple(float(round(v, 2)) for v in h))
            targets.append(tuple(float(round(v, 2)) for v in t))
        box = None
        if task_id % 3 == 2:
            pts = np.array(handles + targets)
            margin = 0.12 * res
            box = (max(0, int(pts[:, 0].min() - margin)), max(0, int(pts[:, 1].min() - margin)),
                   min(res, int(math.ceil(pts[:, 0].max() + margin)) + 1),
                   min(res, int(math.ceil(pts[:, 1].max() + margin)) + 1))
        tasks.append(DragTask(task_id, 1000 + task_id, handles, targets, box))
    return tasks


@dataclass
class ReachableTask:
    task_id: int
    seed: int
    centre: tuple[float, float]
    shift: tuple[float, float]
    target: tuple[float, float]

    @property
    def handle(self) -> tuple[float, float]:
        return self.centre  # the bump's centre is what the drag moves

    def as_drag_task(self) -> DragTask:
        return DragTask(self.task_id, self.seed, [self.handle], [self.target], None)


WARP_SIGMA = 0.12  # of the resolution


def make_reachable_tasks(res: int, count: int = 20) -> list[ReachableTask]:
    """Tasks with a known answer: a smooth local warp of a generated image (a Gaussian bump of
    σ = 12 % of the resolution, displacement 6–12 % of it, centre in the middle 30 %); the handle is the
    bump's centre and the target where the warp takes it. Whether the model can represent each warp
    is measured (projection), so a miss here is the method's, not the model's. Seeds 8000+: the
    settings were tuned on other images (seeds 7000–7007, and tasks 60–89 of `make_tasks`)."""
    rng = np.random.default_rng(30240 + TASKSET_VERSION)
    tasks = []
    for task_id in range(count):
        centre = rng.uniform(0.35 * res, 0.65 * res, size=2)
        angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(0.06, 0.12) * res
        shift = length * np.array([math.cos(angle), math.sin(angle)])
        target = warp_forward(centre, centre, shift, WARP_SIGMA * res)
        tasks.append(ReachableTask(task_id, 8000 + task_id, tuple(map(float, centre)), tuple(map(float, shift)),
                                   target))
    return tasks


def warp_forward(point, centre, shift, sigma: float) -> tuple[float, float]:
    """Where the bump warp (output(p) = input(p − s·bump(p))) takes the content at `point`: the fixed
    point of p = q + s·bump(p)."""
    px, py = point
    for _ in range(60):
        b = math.exp(-((px - centre[0]) ** 2 + (py - centre[1]) ** 2) / (2 * sigma ** 2))
        px, py = point[0] + shift[0] * b, point[1] + shift[1] * b
    return float(px), float(py)


def bump_warp(image: torch.Tensor, centre, shift, sigma: float) -> torch.Tensor:
    """The image warped by a Gaussian bump displacement (backward bicubic sampling)."""
    import torch.nn.functional as F
    res = image.shape[-1]
    axis = torch.arange(res, dtype=torch.float64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    bump = torch.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma ** 2))
    src_x, src_y = xx - shift[0] * bump, yy - shift[1] * bump
    grid = torch.stack([(2 * src_x + 1) / res - 1, (2 * src_y + 1) / res - 1], dim=-1)[None].float()
    return F.grid_sample(image, grid, mode="bicubic", padding_mode="border", align_corners=False)


def project_rows(G, ws: torch.Tensor, target: torch.Tensor, rows: int, steps: int = 300) -> torch.Tensor:
    """The image closest (MSE, Adam lr 0.01) to `target` that changes only the first `rows` rows of ws:
    evidence that the drag's search space holds the answer."""
    free = ws[:, :rows].clone().requires_grad_(True)
    optimizer = torch.optim.Adam([free], lr=0.01)
    with torch.enable_grad():
        for _ in range(steps):
            loss = (G.synthesize(torch.cat([free, ws[:, rows:]], 1)).image - target).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return G.synthesize(torch.cat([free, ws[:, rows:]], 1)).image


def reachable_projection(G, tasks: list[ReachableTask], tracker: "FlowTracker", rows: int,
                         steps: int = 300) -> list[dict]:
    """Per task: can the model show the warp? PSNR of the projection into the drag's rows, and the
    flow distance from where the projection put the handle's content to the target."""
    res = G.img_resolution
    out = []
    for task in tasks:
        ws = seed_ws(G, task.seed)
        with torch.no_grad():
            before = G.synthesize(ws).image
        warped = bump_warp(before, task.centre, task.shift, WARP_SIGMA * res)
        projected = project_rows(G, ws, warped, rows, steps)
        out.append({"task": task.task_id, "psnr_unedited": psnr(before, warped), "psnr_projected": psnr(projected, warped),
                    **flow_reading(tracker, to_uint8(before), to_uint8(projected), [task.handle], [task.target]),
                    "md_start": mean_distance([task.handle], [task.target])})
    return out


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[1, 3, H, W] in [-1, 1] → H×W×3 uint8."""
    return ((image[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


class FlowTracker:
    """Where content went, by DIS optical flow on ×8 bicubic-upsampled images (independent of the
    drag's own features).

    Given the drag's intermediate frames (`through`), the flow from the original to the edited image
    starts from the flow chained through them: DIS's coarse-to-fine search alone can settle in the
    wrong basin when content moved 10–15 px and changed shape on the way (on the drag set's task 3
    its reading jumped between 1.4 and 14 px on frames 5 steps apart that look the same, and between
    1.7 and 14 px with the upsampling factor), while each link of the chain moves ~1 px. The answer is
    still the direct flow's (its data term compares the original with the edited image), so the
    chain's drift does not add up."""

    def __init__(self) -> None:
        import cv2
        cv2.setNumThreads(1)  # its default thread pool fights torch's threads (25× slower here)
        self.cv2 = cv2

    def gray(self, image: np.ndarray) -> np.ndarray:
        cv2 = self.cv2
        size = (image.shape[1] * FLOW_UPSAMPLE, image.shape[0] * FLOW_UPSAMPLE)
        return cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), cv2.COLOR_RGB2GRAY)

    def dis(self, first: np.ndarray, second: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        # A new instance per call: once given a starting flow, OpenCV's DIS keeps starting later calls
        # from its own buffers (measured: a later unguided call then differs from a fresh one).
        engine = self.cv2.DISOpticalFlow_create(self.cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return engine.calc(first, second, None if start is None else start.copy())

    def flow(self, before: np.ndarray, after: np.ndarray, through: Sequence[np.ndarray] = ()) -> np.ndarray:
        start = self.gray(before)
        if not through:
            return self.dis(start, self.gray(after))
        *_, (gray, guide) = self._chain(start, [*through, after])
        return self.dis(start, gray, guide)

    def readings_through(self, before: np.ndarray, frames: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
        """For each frame k of a drag, `flow(before, frames[k], frames[:k + 1])`: what `flow_reading`
        reads for a drag that stopped at that frame (its frames so far, the last of them the picture
        itself), in one pass over the chain (bench/drag_budget.py)."""
        start = self.gray(before)
        for gray, guide in self._chain(start, frames):
            yield self.dis(start, gray, self.compose(guide, self.dis(gray, gray)))

    def _chain(self, start: np.ndarray, frames: Sequence[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each frame (grey, upsampled) with the flow chained to it from `start` link by link."""
        previous, guide = start, None
        for frame in frames:
            gray = self.gray(frame)
            link = self.dis(previous, gray)
            guide = link if guide is None else self.compose(guide, link)
            previous = gray
            yield gray, guide

    def compose(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The flow `first` then `second`: x ↦ x + first(x) + second(x + first(x))."""
        h, w = first.shape[:2]
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        then = self.cv2.remap(second, xs + first[..., 0], ys + first[..., 1], self.cv2.INTER_LINEAR,
                              borderMode=self.cv2.BORDER_REPLICATE)
        return first + then

    def track(self, before: np.ndarray, after: np.ndarray, points: list[tuple[float, float]],
              through: Sequence[np.ndarray] = ()) -> list[tuple[float, float]]:
        return self.read(self.flow(before, after, through), points)

    @staticmethod
    def read(flow: np.ndarray, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """New model-pixel positions of `points` from an upsampled-grid flow (bilinear read)."""
        out = []
        h, w = flow.shape[:2]
        for x, y in points:
            ux, uy = (x + 0.5) * FLOW_UPSAMPLE - 0.5, (y + 0.5) * FLOW_UPSAMPLE - 0.5
            x0, y0 = int(min(max(math.floor(ux), 0), w - 2)), int(min(max(math.floor(uy), 0), h - 2))
            fx, fy = ux - x0, uy - y0
            f = (flow[y0, x0] * (1 - fx) * (1 - fy) + flow[y0, x0 + 1] * fx * (1 - fy)
                 + flow[y0 + 1, x0] * (1 - fx) * fy + flow[y0 + 1, x0 + 1] * fx * fy)
            out.append(((ux + f[0] + 0.5) / FLOW_UPSAMPLE - 0.5, (uy + f[1] + 0.5) / FLOW_UPSAMPLE - 0.5))
        return out


def mean_distance(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return float(np.mean([math.hypot(p[0] - q[0], p[1] - q[1]) for p, q in zip(a, b)]))


def flow_reading(tracker: "FlowTracker", before: np.ndarray, after: np.ndarray,
                 handles: list[tuple[float, float]], targets: list[tuple[float, float]],
                 through: Sequence[np.ndarray] = ()) -> dict:
    """The flow's answer for a drag (`through`: its intermediate frames, FlowTracker). md_flow: mean
    handle → target distance where the content went, a reading farther from the target than the
    handle started counted as no progress (its start distance): where content was repainted rather
    than moved the flow still answers, at times 30 px the other way, which would otherwise outweigh
    every other task. md_flow_raw keeps the readings as they are; flow_beyond_start counts the handles capped."""
    found = tracker.track(before, after, handles, through)
    reading = found_distances(found, handles, targets)
    if through:  # how far the guide moved each reading: the flow's own uncertainty on this picture
        unguided = tracker.track(before, after, handles)
        reading["flow_guide_shift"] = [float(math.hypot(f[0] - u[0], f[1] - u[1])) for f, u in zip(found, unguided)]
    return reading


def found_distances(found: list[tuple[float, float]], handles: list[tuple[float, float]],
                    targets: list[tuple[float, float]]) -> dict:
    """md_flow (each reading capped at its start distance), md_flow_raw and flow_beyond_start for the
    positions `found` where the flow put the handles' content (`flow_reading`)."""
    raw = [math.hypot(f[0] - t[0], f[1] - t[1]) for f, t in zip(found, targets)]
    start = [math.hypot(h[0] - t[0], h[1] - t[1]) for h, t in zip(handles, targets)]
    return {"md_flow": float(np.mean(np.minimum(raw, start))), "md_flow_raw": float(np.mean(raw)),
            "flow_beyond_start": int(sum(r > s for r, s in zip(raw, start)))}


def seed_ws(G, seed: int) -> torch.Tensor:
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).float()
    with torch.no_grad():
        return G.mapping(z, truncation_psi=PSI)


def tracker_self_check(G, tracker: FlowTracker, n_images: int = 6) -> dict:
    """The tracker's own error: warp rendered images by a known smooth displacement (a Gaussian
    bump) and compare the flow's answer with the truth at 9 points, with the flow guided through
    eight partial warps as a drag's frames guide it, and without ("direct"); on moderate shifts
    (5–20 % of the resolution) and on large ones (20–30 %, where the drag tasks' worst readings
    jumped)."""
    res = G.img_resolution
    rng = np.random.default_rng(7)
    errors: dict[str, list[float]] = {"guided": [], "direct": [], "large_guided": [], "large_direct": []}
    for i in range(2 * n_images):
        with torch.no_grad():
            image = G.synthesize(seed_ws(G, 5000 + i)).image
        large = i >= n_images
        centre = rng.uniform(0.3 * res, 0.7 * res, size=2)
        length = rng.uniform(0.20, 0.30) if large else rng.uniform(0.05, 0.20)
        shift = length * res * np.array([math.cos(a := rng.uniform(0, 2 * math.pi)), math.sin(a)])
        sigma = 0.25 * res
        frames = [to_uint8(bump_warp(image, centre, shift * k / 8, sigma)) for k in range(1, 9)]
        points = [(centre[0] + dx, centre[1] + dy) for dx in (-6, 0, 6) for dy in (-6, 0, 6)]
        truth = [warp_forward(q, centre, shift, sigma) for q in points]
        prefix = "large_" if large else ""
        for kind, through in (("guided", frames[:-1]), ("direct", ())):
            found = tracker.track(to_uint8(image), frames[-1], points, through)
            errors[prefix + kind] += [math.hypot(f[0] - t[0], f[1] - t[1]) for f, t in zip(found, truth)]

    def stats(values: list[float]) -> dict:
        values = sorted(values)
        return {"median_px": statistics.median(values), "p90_px": values[int(0.9 * (len(values) - 1))],
                "max_px": values[-1], "points": len(values)}

    return {**stats(errors["guided"]), **{kind: stats(values) for kind, values in errors.items() if kind != "guided"}}


def drag_options(variant: str, **fields) -> DragOptions:
    """DragOptions for a "method/preset[/precision]" name."""
    parts = variant.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"method names look like draggan/fast or draggan/fast/float32, got {variant!r}")
    if len(parts) == 3:
        fields["precision"] = parts[2]
    return DragOptions(method=parts[0], preset=parts[1], **fields)


def run_task(G, task: DragTask, variant: str, max_steps: int, tracker: FlowTracker,
             overrides: dict | None = None, save_to: Path | None = None) -> dict:
    """One drag and its figures; `save_to`: also write the edited image there (PNG), so that a
    changed measurement can be re-read from the images instead of rerunning the drags."""
    res = G.img_resolution
    ws = seed_ws(G, task.seed)
    with torch.no_grad():
        before = G.synthesize(ws).image
    mask = task.mask(res)
    stamps, frames, rendered = [], [], []

    def on_step(progress) -> None:
        stamps.append(time.perf_counter())
        rendered.append(progress.preview is not None)
        if progress.preview is not None:
            frames.append(to_uint8(progress.preview[None]))

    result = drag(G, ws, task.handles, task.targets, mask=mask,
                  options=drag_options(variant, max_steps=max_steps, preview_every=FLOW_GUIDE_EVERY,
                                       **(overrides or {})),
                  callback=on_step)
    intervals = np.diff(stamps)  # the median skips the steps that rendered a frame
    step_ms = float(np.median(intervals) * 1000) if len(intervals) else None
    # The frames are the benchmark's, not the drag's: their renders leave the wall time.
    frame_seconds = sum(max(0.0, float(gap) - step_ms / 1000) for gap, r in zip(intervals, rendered[1:]) if r
                        ) if step_ms else 0.0
    if save_to is not None:
        from PIL import Image
        save_to.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(result.image)).save(save_to)
        if frames:
            Image.fromarray(np.concatenate(frames, axis=0)).save(frames_path(save_to))
    row = {"task": task.task_id, "points": len(task.handles), "masked": mask is not None,
           **flow_reading(tracker, to_uint8(before), to_uint8(result.image), task.handles, task.targets, frames),
           "md_own": mean_distance(result.handles, task.targets),
           "md_start": mean_distance(task.handles, task.targets), "steps": result.steps,
           "converged": result.converged, "seconds": result.seconds - frame_seconds, "ms_per_step": step_ms}
    if mask is not None:
        diff = np.abs(to_uint8(result.image).astype(np.float32) - to_uint8(before).astype(np.float32)).mean(-1)
        outside = mask.numpy() == 0
        row["change_outside"] = float(diff[outside].mean())
        row["change_inside"] = float(diff[~outside].mean())
    return row


def frames_path(image: Path) -> Path:
    """Where `--save-images` keeps a drag's intermediate frames (one PNG, frames stacked downwards)."""
    return image.with_name(image.stem + ".frames.png")


def load_frames(image: Path) -> list[np.ndarray]:
    from PIL import Image
    path = frames_path(image)
    if not path.exists():
        return []
    stack = np.asarray(Image.open(path).convert("RGB"))
    return list(stack.reshape(-1, stack.shape[1], *stack.shape[1:]))


def image_folder(images: Path, label: str) -> Path:
    """Where `--save-images` puts a method's edited images."""
    return images / label.replace("/", "_").replace(" ", "_")


def reread_flow(report: dict, images: Path, model: str | None) -> int:
    """Recompute the flow figures of every row whose edited image `--save-images` kept, with this
    file's reading rule: a changed measurement without rerunning the drags (they are deterministic,
    so the images are the ones a rerun would draw). Projection rows (single-point, no images) get
    the rule from their raw reading. Returns the rows re-read."""
    G, _ = load_generator(model)
    tracker = FlowTracker()
    res = G.img_resolution
    tasks = {t.task_id: t for t in make_tasks(res, report["tasks"])}
    count = max((len(rows) for rows in report.get("reachable", {}).values()), default=0)
    reachable = {t.task_id: t.as_drag_task() for t in make_reachable_tasks(res, count)}
    originals: dict[int, np.ndarray] = {}

    def original(task: DragTask) -> np.ndarray:
        if task.seed not in originals:
            with torch.no_grad():
                originals[task.seed] = to_uint8(G.synthesize(seed_ws(G, task.seed)).image)
        return originals[task.seed]

    from PIL import Image
    done = 0
    for group, lookup, prefix in (("rows", tasks, "task"), ("reachable", reachable, "reachable")):
        for label, rows in report.get(group, {}).items():
            for row in rows:
                path = image_folder(images, label) / f"{prefix}{row['task']:03d}.png"
                if path.exists():
                    task = lookup[row["task"]]
                    row.update(flow_reading(tracker, original(task), np.asarray(Image.open(path).convert("RGB")),
                                            task.handles, task.targets, load_frames(path)))
                    done += 1
    for rows in report.get("reachable_projection", {}).values():
        for row in rows:
            raw = row.get("md_flow_raw", row["md_flow"])
            row.update(md_flow=min(raw, row["md_start"]), md_flow_raw=raw, flow_beyond_start=int(raw > row["md_start"]))
    for label, rows in report.get("rows", {}).items():
        report["methods"][label] = summarize(rows, res)
    return done


def paired_reconstruction(G, variant: str, tracker: FlowTracker, pairs: int, overrides: dict | None = None,
                          strength: float = 0.3, points: int = 5) -> list[dict]:
    """DragGAN's protocol: w2 = w1 moved `strength` of the way to another sample in the rows the drag
    optimises; the flow image1 → image2 at the `points` interior grid points with most motion gives
    handle → target pairs; drag image 1 (≤ 100 steps) and compare with image 2."""
    res = G.img_resolution
    rows = min(6, G.num_ws)
    out = []
    for i in range(pairs):
        w1, other = seed_ws(G, 3000 + 2 * i), seed_ws(G, 3001 + 2 * i)
        w2 = w1.clone()
        w2[:, :rows] = w1[:, :rows].lerp(other[:, :rows], strength)
        with torch.no_grad():
            img1, img2 = G.synthesize(w1).image, G.synthesize(w2).image
        flow = tracker.flow(to_uint8(img1), to_uint8(img2))
        grid = [(x, y) for x in np.linspace(0.2 * res, 0.8 * res, 7) for y in np.linspace(0.2 * res, 0.8 * res, 7)]
        moved = tracker.read(flow, grid)
        motion = [math.hypot(m[0] - g[0], m[1] - g[1]) for g, m in zip(grid, moved)]
        order = np.argsort(motion)[::-1][:points]
        handles = [tuple(float(v) for v in grid[j]) for j in order]
        targets = [tuple(float(min(max(v, 0), res - 1)) for v in moved[j]) for j in order]
        result = drag(G, w1, handles, targets, options=drag_options(variant, max_steps=100, **(overrides or {})))

        def mse(a, b):
            return float((((a + 1) / 2).clamp(0, 1) - ((b + 1) / 2).clamp(0, 1)).square().mean())
        out.append({"pair": i, "mse_edit": mse(result.image, img2), "mse_start": mse(img1, img2),
                    "mean_motion": float(np.mean([motion[j] for j in order])), "steps": result.steps})
    return out


NVIDIA_KERNELS = "+nvidia-kernels"  # variant suffix: timed as NVIDIA's code runs the generator (NvidiaKernels)


class NvidiaKernels:
    """The generator as DragGAN's reference code runs it each step, for timing: NVIDIA's networks pick
    the fused modulated convolution in eval mode at batch 1 and rebuild every weight-derived value
    (modulated weights, demodulation norms, transposed kernels) on every pass. Our "published" preset
    keeps the reference's per-step *work* but runs it on the drag's prepared pass (unfused convolution,
    weight-derived values built once per drag), a stronger baseline; this shows what the reference's
    own choices cost.
    Inside the `with`, the synthesis weights require grad, which is what makes `derived_from_weight`
    recompute (autograd.grad still computes gradients for the latent only)."""

    prepare_pass = None  # the reference runs its modules every pass (engine.edit.optimization)

    def __init__(self, G) -> None:
        self.G = G

    def __enter__(self) -> "NvidiaKernels":
        self.frozen = [p for p in self.G.synthesis.parameters() if not p.requires_grad]
        for parameter in self.frozen:
            parameter.requires_grad_(True)
        return self

    def __exit__(self, *_exc) -> None:
        for parameter in self.frozen:  # back as they were, whatever they were
            parameter.requires_grad_(False)

    def __getattr__(self, name: str):
        return getattr(self.G, name)

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const", feature_block: str | None = None,
                   stop_at_features: bool = False):
        return self.G.synthesize(ws, noise_mode=noise_mode, feature_block=feature_block,
                                 stop_at_features=stop_at_features, fused=True)


def timed_drag(G, variant: str, ws: torch.Tensor, handles, targets, mask: torch.Tensor | None = None,
               **options) -> list[float]:
    """Run one drag of `variant` (NVIDIA_KERNELS suffix allowed) and return its callback times."""
    stamps: list[float] = []

    def run(generator, name: str) -> None:
        drag(generator, ws, handles, targets, mask=mask, options=drag_options(name, **options),
             callback=lambda _p: stamps.append(time.perf_counter()))

    if variant.endswith(NVIDIA_KERNELS):
        with NvidiaKernels(G) as reference:
            run(reference, variant[:-len(NVIDIA_KERNELS)])
    else:
        run(G, variant)
    return stamps


def step_time_512(steps: int) -> dict:
    """ms per drag step on a 512 px FFHQ-configuration generator (random weights; speed does not
    depend on the weight values), median over `steps` steps after one warm-up step."""
    torch.manual_seed(0)
    G = Generator(StyleGAN2Config.from_base(512, channel_base=32768, channel_max=512)).eval().requires_grad_(False)
    ws = seed_ws(G, 0)
    out = {}
    for variant in METHODS + [REFERENCE + NVIDIA_KERNELS]:
        stamps = timed_drag(G, variant, ws, [(200.0, 200.0)], [(300.0, 260.0)], max_steps=steps + 1,
                            stop_distance=1e-3)
        out[variant] = float(np.median(np.diff(stamps)) * 1000)
    return out


def alternating_step_times(G, tasks: list[DragTask], variants: list[str], repeats: int, steps: int = 40) -> dict:
    """ms per step of each variant on the model itself, the variants taking turns task by task (so a
    slow spell of the machine hits all of them alike): median callback interval of a `steps`-step
    drag (the stop test off) per task and repeat. The quality rows' own step times come from runs
    that shared the machine with another benchmark process; this is the speed comparison on the
    otherwise idle machine. Ratios: median over the task runs of published / variant, paired."""
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(repeats):
        for task in tasks:
            mask = task.mask(G.img_resolution)
            for variant in variants:
                stamps = timed_drag(G, variant, seed_ws(G, task.seed), task.handles, task.targets, mask=mask,
                                    max_steps=steps, stop_distance=1e-6)
                times[variant].append(float(np.median(np.diff(stamps)) * 1000))
    reference = np.array(times.get(REFERENCE, []))
    return {"tasks": [t.task_id for t in tasks], "repeats": repeats, "steps": steps,
            "ms": {v: float(np.median(t)) for v, t in times.items()}, "runs": times,
            "ratio": ({v: float(np.median(reference / np.array(t))) for v, t in times.items() if v != REFERENCE}
                      if len(reference) else {})}


def summarize(rows: list[dict], res: int) -> dict:
    threshold = 2 * res / 256
    converged = [r for r in rows if r["converged"]]
    masked = [r for r in rows if r["masked"]]
    return {
        "tasks": len(rows),
        "md_flow": float(np.mean([r["md_flow"] for r in rows])),
        "md_flow_raw": (float(np.mean([r["md_flow_raw"] for r in rows]))
                        if all("md_flow_raw" in r for r in rows) else None),
        "md_own": float(np.mean([r["md_own"] for r in rows])),
        "md_start": float(np.mean([r["md_start"] for r in rows])),
        "by_points": {str(n): float(np.mean([r["md_flow"] for r in rows if r["points"] == n]))
                      for n in (1, 3, 5) if any(r["points"] == n for r in rows)},
        "success": sum(r["md_flow"] <= threshold for r in rows),
        # Coarser views for models whose drags move content only part of the way: the mean share of the
        # start distance the content covered (by flow), and the tasks where it got at least half way.
        "moved_share": float(np.mean([1 - r["md_flow"] / r["md_start"] for r in rows])),
        "half_way": sum(r["md_flow"] <= 0.5 * r["md_start"] for r in rows),
        "stalled": sum(r["md_flow"] > 0.9 * r["md_start"] for r in rows),  # under 10 % of the way
        # The drag's own tracker says it got (nearly) there while the content stayed: a repainted or
        # smeared face, which the tracker follows and the flow does not.
        "tracker_fooled": sum(r["md_own"] <= 0.25 * r["md_start"] and r["md_flow"] > 0.75 * r["md_start"]
                             for r in rows),
        # Tasks with a reading capped at its start distance; None for rows read before the cap.
        "flow_beyond_start": (sum(r["flow_beyond_start"] > 0 for r in rows)
                              if all("flow_beyond_start" in r for r in rows) else None),
        "converged": len(converged),
        "median_steps": float(np.median([r["steps"] for r in rows])),
        "ms_per_step": float(np.median([r["ms_per_step"] for r in rows if r["ms_per_step"] is not None])),
        "median_seconds_converged": float(np.median([r["seconds"] for r in converged])) if converged else None,
        "change_outside": float(np.mean([r["change_outside"] for r in masked])) if masked else None,
        "change_inside": float(np.mean([r["change_inside"] for r in masked])) if masked else None,
    }


REFERENCE = "draggan/published"


def paired_difference(rows: list[dict], reference: list[dict]) -> tuple[float, float, float] | None:
    """Mean per-task flow MD difference to the reference run of the same tasks, with a 95 %
    bootstrap interval (2,000 resamples, fixed seed): single drags on a soft model are chaotic (one
    smeared face moves a 60-task mean by 0.2 px), so a mean alone does not say whether two rows differ."""
    if len(rows) != len(reference) or [r["task"] for r in rows] != [r["task"] for r in reference]:
        return None
    diff = np.array([a["md_flow"] - b["md_flow"] for a, b in zip(rows, reference)])
    means = np.random.default_rng(0).choice(diff, size=(2000, len(diff))).mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def tracker_description(report: dict) -> str:
    """The independent tracker, its self-check and its spread on the drags' pictures, for the preamble."""
    check = report["tracker"]
    def errors(s: dict) -> str:
        return f"median {s['median_px']:.2f} px, p90 {s['p90_px']:.2f} px, max {s['max_px']:.2f} px"

    shifts = np.concatenate([r["flow_guide_shift"] for group in ("rows", "reachable")
                             for rows in report.get(group, {}).values() for r in rows if "flow_guide_shift" in r] or [[]])
    spread = ""
    if len(shifts):
        spread = ("On the drags' own pictures the guided and the unguided readings of a handle differ by "
                  f"median {np.median(shifts):.2f} px, p90 {np.percentile(shifts, 90):.2f} px, max {shifts.max():.1f} px "
                  f"({len(shifts)} handles, every row): one handle's reading in ten is uncertain by a pixel or "
                  "so. ")
    if "large_guided" not in check:  # a report from before the guided flow
        return (f"Independent tracker (DIS flow on ×{FLOW_UPSAMPLE} bicubic upsampling) on a known warp: "
                f"{errors(check)} ({check['points']} points). ")
    return (f"Independent tracker: DIS optical flow on ×{FLOW_UPSAMPLE} bicubic upsampling from the original to "
            f"the edited image, started from the flow chained through the drag's frames every {FLOW_GUIDE_EVERY} "
            "steps (without that start DIS sometimes settles in a wrong basin when content moved far and changed "
            "shape: `FlowTracker`). On a known warp of 5–20 % of the resolution it is off by "
            f"{errors(check)} ({check['points']} points; unguided: {errors(check['direct'])}), on one of 20–30 % "
            f"by {errors(check['large_guided'])} (unguided: {errors(check['large_direct'])}). " + spread)


def markdown(report: dict) -> str:
    res = report["resolution"]
    lines = [
        "## Drag",
        "",
        f"Reproduce: `nice .venv/bin/python bench/drag_bench.py --write-docs` (task set v{TASKSET_VERSION}, "
        f"{report['tasks']} tasks, ≤ {report['max_steps']} steps). Model: `{report['model']}` ({res} px). "
        f"Machine: {report['machine']}; torch {report['torch']}, {report['threads']} threads; run {report['date']}. "
        f"Precision: rows without one use \"auto\", which here meant {report['auto_precision']} "
        "(\"published\" always float32, as the reference).",
        "",
        tracker_description(report),
        "A reading farther from its target than the handle started counts as no progress (its start "
        "distance): where content was repainted rather than moved the flow still answers, at times far the "
        "other way; "
        "\"beyond start\" = tasks with such a reading (MD flow raw: without the cap). "
        f"Success = flow MD ≤ {2 * res / 256:g} px (2·res/256); \"moved\" = mean share of the start distance "
        "the content covered by flow; \"≥ half way\" = tasks whose flow MD is at most half the start distance; "
        "\"stalled\" = tasks where the content covered under 10 % of the way; \"own fooled\" = tasks where the "
        "drag's own tracker covered at least 75 % of the way and the content (by flow) under 25 %: a smeared "
        "or repainted face that the tracker followed. "
        + (f"Start MD (no edit) {next(iter(report['methods'].values()))['md_start']:.2f} px."
           if report["methods"] else ""),
        "",
        "| method / preset | MD flow px | MD own px | MD flow 1 / 3 / 5 pts | success | failures | moved (flow) "
        "| ≥ half way | stalled | own fooled | beyond start | MD flow raw px | Δ MD flow vs published px (95 % CI) "
        "| converged | median steps | ms/step | median s (converged) | outside-mask change (inside) 8-bit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report["methods"].items():
        by_points = " / ".join(f"{s['by_points'][k]:.2f}" if k in s["by_points"] else "–" for k in ("1", "3", "5"))
        secs = f"{s['median_seconds_converged']:.2f}" if s["median_seconds_converged"] is not None else "–"
        change = (f"{s['change_outside']:.2f} ({s['change_inside']:.2f})" if s["change_outside"] is not None
                  else "– (no masked task)")
        beyond = f"{s['flow_beyond_start']}/{s['tasks']}" if s.get("flow_beyond_start") is not None else "–"
        raw = f"{s['md_flow_raw']:.2f}" if s.get("md_flow_raw") is not None else "–"
        rows = report.get("rows", {})
        same_reading = all("flow_beyond_start" in r for r in rows.get(name, []) + rows.get(REFERENCE, []))
        paired = (paired_difference(rows[name], rows[REFERENCE])
                  if name in rows and REFERENCE in rows and name != REFERENCE and same_reading else None)
        delta = f"{paired[0]:+.2f} ({paired[1]:+.2f} … {paired[2]:+.2f})" if paired else "–"
        lines.append(
            f"| {name} | {s['md_flow']:.2f} | {s['md_own']:.2f} | {by_points} "
            f"| {s['success']}/{s['tasks']} | {s['tasks'] - s['success']} | {100 * s['moved_share']:.0f} % "
            f"| {s['half_way']}/{s['tasks']} | {s['stalled']}/{s['tasks']} | {s['tracker_fooled']}/{s['tasks']} "
            f"| {beyond} | {raw} | {delta} "
            f"| {s['converged']}/{s['tasks']} "
            f"| {s['median_steps']:.0f} | {s['ms_per_step']:.1f} | {secs} "
            f"| {change} |")
    if report.get("pairs"):
        lines += ["", "Paired reconstruction (DragGAN protocol, ≤ 100 steps, 5 flow points per pair), "
                  "MSE×100 on images in [0, 1]:", "", "| method / preset | MSE×100 edited | MSE×100 unedited "
                  "| mean handle motion px | median steps |", "|---|---|---|---|---|"]
        for name, rows in report["pairs"].items():
            lines.append(f"| {name} | {100 * np.mean([r['mse_edit'] for r in rows]):.3f} "
                         f"| {100 * np.mean([r['mse_start'] for r in rows]):.3f} "
                         f"| {np.mean([r['mean_motion'] for r in rows]):.2f} "
                         f"| {np.median([r['steps'] for r in rows]):.0f} |")
    if report.get("reachable"):
        projections = report.get("reachable_projection") or {}
        first = next(iter(report["reachable"].values()))
        lines += ["", f"Reachable tasks ({len(first)} single-point drags with a known answer: a Gaussian-bump "
                  f"warp, σ {WARP_SIGMA:.0%} of the resolution, moving the handle "
                  f"{np.mean([r['md_start'] for r in first]):.2f} px on average). Can the model show them? "
                  + (f"Projecting each warped image into the first rows of W+ ({report['projection_steps']} Adam "
                     "steps, MSE) gives:" if projections else "(not measured in this run: --projection-steps 0)")]
        for rows_free, projection in projections.items():
            lines.append(f"{rows_free} rows {np.mean([r['psnr_projected'] for r in projection]):.1f} dB to the warped "
                         f"image (unedited {np.mean([r['psnr_unedited'] for r in projection]):.1f} dB), the handle's "
                         f"content {np.mean([r['md_flow'] for r in projection]):.2f} px from the target by flow "
                         f"({sum(r['md_flow'] <= 1 for r in projection)}/{len(projection)} within 1 px);")
        lines += ["where the projection gets there, the answer is in the drag's search space and a miss is the "
                  "method's.", "",
                  "| method / preset | MD flow px | MD own px | moved (flow) | ≤ 1 px | success | ≥ half way "
                  "| beyond start | median steps |", "|---|---|---|---|---|---|---|---|---|"]
        for name, rows in report["reachable"].items():
            flow = np.array([r["md_flow"] for r in rows])
            start = np.array([r["md_start"] for r in rows])
            lines.append(f"| {name} | {flow.mean():.2f} | {np.mean([r['md_own'] for r in rows]):.2f} "
                         f"| {100 * np.mean(1 - flow / start):.0f} % | {(flow <= 1).sum()}/{len(rows)} "
                         f"| {(flow <= 2 * res / 256).sum()}/{len(rows)} | {(flow <= start / 2).sum()}/{len(rows)} "
                         + (f"| {sum(r['flow_beyond_start'] > 0 for r in rows)}/{len(rows)} "
                            if all("flow_beyond_start" in r for r in rows) else "| – ")
                         + f"| {np.median([r['steps'] for r in rows]):.0f} |")
    if report.get("step_time_512"):
        t = report["step_time_512"]
        lines += ["", "Per-step time at 512 px (FFHQ configuration, channel_base 32768, channel_max 512, 16 ws, "
                  f"random weights; median of {report['timing_steps']} steps after a warm-up): "
                  + ", ".join(f"{k} {v:.0f} ms" for k, v in t.items())
                  + f"; published / fast = {t['draggan/published'] / t['draggan/fast']:.2f}× "
                  f"(float32 fast: {t['draggan/published'] / t['draggan/fast/float32']:.2f}×)"
                  + (f"; with NVIDIA's kernels (`{REFERENCE + NVIDIA_KERNELS}`, `NvidiaKernels`) the published step is "
                     f"{t[REFERENCE + NVIDIA_KERNELS] / t['draggan/fast']:.2f}× fast's"
                     if REFERENCE + NVIDIA_KERNELS in t else "") + "."]
    if report.get("step_time_model"):
        t = report["step_time_model"]
        lines += ["", f"Per-step time on this model with the methods taking turns task by task (tasks "
                  f"{t['tasks'][0]}–{t['tasks'][-1]}, {t['repeats']} times, {t['steps']} steps each, median step; "
                  "the machine otherwise idle): " + ", ".join(f"{k} {v:.1f} ms" for k, v in t["ms"].items())
                  + "; published / method, paired per task run: "
                  + ", ".join(f"{k} {v:.2f}×" for k, v in t["ratio"].items() if not k.endswith(NVIDIA_KERNELS)) + "."]
        nvidia = REFERENCE + NVIDIA_KERNELS
        if nvidia in t["runs"] and "draggan/fast" in t["runs"]:
            paired = np.median(np.array(t["runs"][nvidia]) / np.array(t["runs"]["draggan/fast"]))
            lines[-1] += (f" The published step as NVIDIA's code runs the generator (`{nvidia}`: fused modulated "
                          "convolution at batch 1, weight-derived values rebuilt every pass; `NvidiaKernels`) "
                          f"took {t['ms'][nvidia]:.1f} ms, {paired:.2f}× a draggan/fast step, paired.")
    if report.get("note"):
        lines += ["", report["note"]]
    return "\n".join(lines) + "\n"


def write_docs_section(path: Path, section: str, heading: str = "## Drag") -> None:
    """Replace the `heading` section of the benchmarks page (other sections are left alone)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end != -1 else "")
    path.write_text(text)


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return f"{cpu}, {os.cpu_count()} cores visible, {platform.system()}"


def load_generator(model: str | None):
    from engine.models.loading import load_model_file
    loaded = load_model_file(model, device="cpu")
    return loaded.G.eval().requires_grad_(False), str(loaded.path.relative_to(REPO) if loaded.path.is_relative_to(REPO) else loaded.path)


def parse_overrides(text: str) -> dict:
    """"r1=0.375,optimize_rows=10,feature_block=b32" → DragOptions overrides, typed by the field's annotation."""
    field_types = {f.name: f.type for f in dataclasses.fields(DragOptions)}
    overrides = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in field_types:
            raise SystemExit(f"--options: DragOptions has no field {key!r}")
        kind = str(field_types[key])
        try:
            overrides[key] = int(value) if kind.startswith("int") else value if "str" in kind else float(value)
        except ValueError:
            raise SystemExit(f"--options: {key} must be a number, got {value!r}") from None
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--reachable", type=int, default=20, help="reachable (known-warp) tasks; 0 = skip")
    parser.add_argument("--projection-steps", type=int, default=300,
                        help="Adam steps of the projection that shows the model can represent each reachable task "
                             "(0 = skip it; runs merged later take it from the run that has it)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated method/preset[/precision] list")
    parser.add_argument("--options", default="", help="DragOptions overrides, e.g. r2=12,stop_distance=2")
    parser.add_argument("--label", default="", help="suffix for the method names in the report")
    parser.add_argument("--no-model-defaults", action="store_true",
                        help="ignore the drag settings the model file recommends (the published defaults apply)")
    parser.add_argument("--timing-steps", type=int, default=3, help="steps timed at 512 px (0 = skip)")
    parser.add_argument("--speed-repeats", type=int, default=0,
                        help="also time the methods taking turns on tasks 0-8 of the model this many times "
                             "(run it on an otherwise idle machine; 0 = skip)")
    parser.add_argument("--speed-steps", type=int, default=40, help="steps per drag in --speed-repeats")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared 2-core machine 2 threads were 5x slower)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/drag.json")
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="combine earlier --out files (run in parallel) instead of running")
    parser.add_argument("--write-docs", action="store_true", help="update the Drag section of docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a paragraph printed under the tables")
    parser.add_argument("--save-images", type=Path, default=None,
                        help="folder for every edited image (PNG per task and method), for re-reading them later")
    parser.add_argument("--reread", type=Path, default=None,
                        help="with --merge: recompute the flow figures from the images a --save-images run kept")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.merge:
        report = merge_reports([json.loads(p.read_text()) for p in args.merge])
        report["model"] = args.model or report["model"]
        if args.reread:
            print("re-read", reread_flow(report, args.reread, args.model), "rows from", args.reread, flush=True)
    else:
        report = run(args)
    # The note goes into the JSON too, so that `--merge` of the JSON alone rewrites the same docs section.
    report["note"] = args.note or report.get("note", "")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    section = markdown(report)
    print(section)
    if args.write_docs:
        write_docs_section(REPO / "docs/benchmarks.md", section)
    return 0


def run(args) -> dict:
    G, model_name = load_generator(args.model)
    if args.no_model_defaults:
        G.drag_defaults = {}
    tracker = FlowTracker()
    tasks = make_tasks(G.img_resolution, args.tasks)
    overrides = parse_overrides(args.options)
    report = {"model": model_name, "resolution": G.img_resolution, "tasks": len(tasks),
              "max_steps": args.max_steps, "torch": torch.__version__, "threads": args.threads,
              "machine": machine_description(),
              "auto_precision": str(resolve_precision("auto", G.device)).replace("torch.", ""),
              "date": time.strftime("%Y-%m-%d"), "tracker": tracker_self_check(G, tracker),
              "methods": {}, "rows": {}, "pairs": {}, "reachable": {}, "timing_steps": args.timing_steps}
    print("tracker", report["tracker"], flush=True)
    reachable = make_reachable_tasks(G.img_resolution, args.reachable)
    if reachable and args.projection_steps:
        rows_free = resolve_optimize_rows(G, DragOptions(**overrides))
        report["reachable_projection"] = {str(rows_free): reachable_projection(G, reachable, tracker, rows_free,
                                                                               args.projection_steps)}
        report["projection_steps"] = args.projection_steps
        print("reachable projection", report["reachable_projection"], flush=True)
    for name in filter(None, args.methods.split(",")):
        label = name + args.label
        rows = []
        images = image_folder(args.save_images, label) if args.save_images else None
        for task in tasks:
            rows.append(run_task(G, task, name, args.max_steps, tracker, overrides,
                                 images / f"task{task.task_id:03d}.png" if images else None))
            print(label, rows[-1], flush=True)
        if rows:  # a run with --tasks 0 leaves the task rows of a merged earlier run in place
            report["rows"][label] = rows
            report["methods"][label] = summarize(rows, G.img_resolution)
        if args.pairs:
            report["pairs"][label] = paired_reconstruction(G, name, tracker, args.pairs, overrides)
        if reachable:
            report["reachable"][label] = [run_task(G, t.as_drag_task(), name, args.max_steps, tracker, overrides,
                                                   images / f"reachable{t.task_id:03d}.png" if images else None)
                                          for t in reachable]
        print(label, report["methods"].get(label), flush=True)
    if args.speed_repeats:
        variants = [m for m in filter(None, args.methods.split(","))] or METHODS
        report["step_time_model"] = alternating_step_times(G, make_tasks(G.img_resolution)[:9], variants,
                                                           args.speed_repeats, args.speed_steps)
        print("alternating step times", report["step_time_model"], flush=True)
    if args.timing_steps:
        report["step_time_512"] = step_time_512(args.timing_steps)
        print("512 px", report["step_time_512"], flush=True)
    return report


def merge_reports(reports: list[dict]) -> dict:
    """One report from runs of different methods on the same model and task set."""
    merged = dict(reports[0])
    merged["date"] = max(r.get("date", "") for r in reports)  # when the newest rows were measured
    for key in ("methods", "rows", "pairs", "reachable", "reachable_projection"):
        merged[key] = {k: v for r in reports for k, v in r.get(key, {}).items()}
    for r in reports:
        if r.get("reachable_projection"):
            merged["projection_steps"] = r["projection_steps"]
        if r.get("step_time_512"):
            merged["step_time_512"], merged["timing_steps"] = r["step_time_512"], r["timing_steps"]
        if r.get("step_time_model"):
            merged["step_time_model"] = r["step_time_model"]
    # Methods run on fewer tasks (the task set is a fixed sequence, so a shorter run is its prefix)
    # are compared like for like: the others are also summarised on that prefix.
    for name, rows in merged["rows"].items():  # one definition of every figure, whichever run wrote it
        merged["methods"][name] = summarize(rows, merged["resolution"])
    common = min((len(rows) for rows in merged["rows"].values()), default=0)
    for name, rows in list(merged["rows"].items()):
        if len(rows) > common:
            merged["methods"][f"{name} (tasks 0–{common - 1})"] = summarize(rows[:common], merged["resolution"])
    merged["tasks"] = max(len(rows) for rows in merged["rows"].values())
    return merged


if __name__ == "__main__":
    sys.exit(main())
