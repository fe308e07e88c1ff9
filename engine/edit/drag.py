"""Drag editing: move image content from handle points to target points by optimising the latent.

Two methods share one loop scaffold (options, validation, latent, progress, cancellation):
- "draggan" (Pan et al. 2023): motion supervision on a synthesis block's features + nearest-neighbour
  point tracking after every step;
- "freedrag" (Ling et al. 2024): template features, sub-motions and a line search instead of tracking
  (`engine.edit.freedrag`).
Preset "fast" runs the synthesis only up to the feature block and reads the block's own map at the
needed points; "published" repeats DragGAN's reference per-step work (full image every step, features
upsampled to image size) and is kept as the in-repo speed/quality baseline.
Precision "auto" runs the differentiated passes of "fast" under bf16 autocast where the device computes
bf16 natively (AMX/AVX512-BF16 CPUs, CUDA): 1.7× faster per step at 512 px on such a Xeon, with
losses, tracking and the latent kept in float32 (quality compared in docs/benchmarks.md).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import torch

from engine.models.interface import EditableGenerator
from engine.models.precision import PRECISIONS, resolve_precision

from .features import Patch, disk_offsets, square_offsets
from .freedrag import FreeDragSettings, run_freedrag
from .motion import MaskPreservation, initial_templates, motion_supervision_loss
from .optimization import LatentOptimizer
from .tracking import track_points, tracking_offsets

METHODS = ("draggan", "freedrag")
PRESETS = ("fast", "published")
LATENT_SPACES = ("w+", "w")
DEFAULT_LR = {"draggan": 2e-3, "freedrag": 2e-3}
DEFAULT_MASK_WEIGHT = {"draggan": 20.0, "freedrag": 10.0}
DEFAULT_OPTIMIZE_ROWS = 6


@dataclass
class DragOptions:
    """Drag parameters; None means "the method's default scaled to the model" (see `DragSettings`)."""
    method: str = "draggan"
    preset: str = "fast"
    max_steps: int = 500  # the knee of docs/benchmarks.md, "Drag: step budget"
    lr: float | None = None
    feature_block: str | None = None
    optimize_rows: int | None = None
    latent_space: str = "w+"
    r1: float | None = None
    motion_anchor: float | None = None  # 0 = DragGAN's published reference … 1; see motion_supervision_loss
    template_anchor: float | None = None  # FreeDrag: 0 = the published adapted template … 1 = the original
    track_patch: float | None = None  # tracker's disk radius, image px; 0 = one feature vector (published)
    r2: float | None = None
    mask_weight: float | None = None
    stop_distance: float | None = None
    preview_every: int = 0
    seed: int = 0
    precision: str = "auto"  # "auto": bf16 where the device computes it natively ("fast" only), else fp32


@dataclass
class DragProgress:
    step: int
    handles: list[tuple[float, float]]
    max_distance: float
    mean_distance: float
    preview: torch.Tensor | None  # [3, H, W] in [-1, 1] at model resolution


@dataclass
class DragResult:
    ws: torch.Tensor  # [1, num_ws, w_dim]
    image: torch.Tensor  # [1, 3, H, W]
    handles: list[tuple[float, float]]
    steps: int
    converged: bool
    cancelled: bool
    seconds: float


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class DragSettings:
    """Resolved geometry in image pixels.

    DragGAN's published values (r1 = 3, step 1, r2 = 12, stop 2 px at 512 px with 128 px features)
    are kept *in feature pixels* for the parts that read the feature map (r1 = 0.75, step 0.25
    feature px), so the supervision sees the same neighbourhood of the map at any resolution. The
    tracking window and stop distance are scaled with the image (r2 = 12·res/512, stop = res/256,
    i.e. half the benchmark's success threshold), with floors that keep them meaningful at 64 px:
    the window never smaller than two supervision steps, and candidates spaced min(1, res/256) px.
    """
    feature_block: str
    feature_px: float  # image pixels per feature-map pixel
    patch_radius: float
    patch_radius_set: bool  # r1 came from the caller or the model, not the published default
    patch_spacing: float
    step: float
    track_radius: float
    track_spacing: float
    stop_distance: float
    lr: float
    mask_weight: float
    motion_anchor: float
    template_anchor: float
    track_patch: float  # radius of the tracker's template disk (0: one feature vector, as published)

    def tracking_reads(self, device: torch.device | str) -> torch.Tensor:
        """The tracker's template reads [K, 2]; a disk's reads are half a feature pixel apart (finer
        bilinear reads of the map add little)."""
        return tracking_offsets(self.track_patch, 0.5 * self.feature_px, device)


def model_drag_defaults(generator: EditableGenerator) -> dict:
    """The drag settings the generator's model file recommends (`drag_defaults`: optimize_rows, lr,
    r1, motion_anchor, template_anchor, track_patch), or {}. The best values depend on the model —
    how fine the structure its first rows control is, how its features scale — so a model's author
    may tune them; options the caller sets win."""
    return dict(getattr(generator, "drag_defaults", None) or {})


def resolve_optimize_rows(generator: EditableGenerator, options: DragOptions) -> int:
    """Rows of W+ the drag optimises: the option, else the model's recommendation, else the published 6."""
    rows = options.optimize_rows
    if rows is None:
        rows = model_drag_defaults(generator).get("optimize_rows", DEFAULT_OPTIMIZE_ROWS)
    return min(rows, generator.num_ws)


def resolve_settings(generator: EditableGenerator, options: DragOptions) -> DragSettings:
    res = generator.img_resolution
    recommended = model_drag_defaults(generator)
    block = options.feature_block or generator.block_for_resolution(max(res // 4, 4))
    feature_res = {b.name: b.resolution for b in generator.blocks}[block]
    feature_px = res / feature_res
    step = 0.25 * feature_px
    track_spacing = min(1.0, res / 256)
    r1 = options.r1 if options.r1 is not None else recommended.get("r1")
    return DragSettings(
        feature_block=block,
        feature_px=feature_px,
        patch_radius=r1 if r1 is not None else 0.75 * feature_px,
        patch_radius_set=r1 is not None,
        patch_spacing=0.25 * feature_px,
        step=step,
        track_radius=options.r2 if options.r2 is not None else max(12 * res / 512, 2 * step),
        track_spacing=track_spacing,
        stop_distance=options.stop_distance if options.stop_distance is not None else res / 256,
        lr=options.lr if options.lr is not None else recommended.get("lr", DEFAULT_LR[options.method]),
        mask_weight=(options.mask_weight if options.mask_weight is not None
                     else DEFAULT_MASK_WEIGHT[options.method]),
        motion_anchor=(options.motion_anchor if options.motion_anchor is not None
                       else recommended.get("motion_anchor", 0.0)),
        template_anchor=(options.template_anchor if options.template_anchor is not None
                         else recommended.get("template_anchor", 0.0)),
        track_patch=(options.track_patch if options.track_patch is not None
                     else recommended.get("track_patch", 0.0)),
    )


def drag(generator: EditableGenerator, ws: torch.Tensor, handles: Sequence[Sequence[float]],
         targets: Sequence[Sequence[float]], mask: torch.Tensor | None = None,
         options: DragOptions | None = None, callback: Callable[[DragProgress], None] | None = None,
         cancel: CancelToken | None = None) -> DragResult:
    """Move the content at `handles` to `targets` (image px (x, y) at model resolution).

    `mask` [H, W]: 1 where the image may change (None = everywhere). `callback(progress)` runs after
    every optimisation step; `cancel.is_set()` is checked before every step and a cancelled drag
    returns its last state with `cancelled=True`. Invalid input raises ValueError naming the argument.
    """
    options = options or DragOptions()
    _validate_options(generator, options)
    device = generator.device
    res = generator.img_resolution
    ws = _validate_ws(generator, ws).to(device)
    handle_points = _validate_points("handles", handles, res).to(device)
    target_points = _validate_points("targets", targets, res).to(device)
    if len(handle_points) != len(target_points):
        raise ValueError(f"handles and targets must pair up: got {len(handle_points)} handles and "
                         f"{len(target_points)} targets")
    editable = _validate_mask(mask, res)
    settings = resolve_settings(generator, options)
    started = time.perf_counter()
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        latent = LatentOptimizer(generator, ws.clone(), resolve_optimize_rows(generator, options),
                                 options.latent_space, settings.lr, settings.feature_block,
                                 full_forward=options.preset == "published",
                                 compute_dtype=compute_dtype(options, device))
        reporter = _Reporter(latent, options.preview_every, callback, cancel)
        editable = editable.to(device) if editable is not None else None
        if options.method == "draggan":
            final, steps, converged = _run_draggan(latent, settings, handle_points, target_points,
                                                   editable, options.max_steps, reporter, res)
        else:
            final, steps, converged = run_freedrag(latent, FreeDragSettings.from_drag(settings, device),
                                                   handle_points, target_points, editable,
                                                   options.max_steps, reporter.report, reporter.cancelled, res)
        image = latent.render()
    return DragResult(ws=latent.ws().detach(), image=image, handles=[tuple(p) for p in final.tolist()],
                      steps=steps, converged=converged, cancelled=reporter.was_cancelled,
                      seconds=time.perf_counter() - started)


def compute_dtype(options: DragOptions, device: torch.device) -> torch.dtype:
    """The dtype of the differentiated passes. "published" stays float32 under "auto": it is the
    reference's per-step work, kept as the baseline."""
    if options.preset == "published" and options.precision == "auto":
        return torch.float32
    return resolve_precision(options.precision, device)


class _Reporter:
    """Progress callbacks (with previews at a cadence) and the cancellation check."""

    def __init__(self, latent: LatentOptimizer, preview_every: int,
                 callback: Callable[[DragProgress], None] | None, cancel: CancelToken | None):
        self.latent, self.preview_every, self.callback, self.cancel = latent, preview_every, callback, cancel
        self.was_cancelled = False

    def cancelled(self) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            self.was_cancelled = True
        return self.was_cancelled

    def report(self, step: int, handles: torch.Tensor, distances: list[float]) -> None:
        if self.callback is None:
            return
        preview = None
        if self.preview_every > 0 and step % self.preview_every == 0:
            preview = self.latent.render()[0].clamp(-1, 1)
        self.callback(DragProgress(step=step, handles=[tuple(p) for p in handles.tolist()],
                                   max_distance=max(distances), mean_distance=sum(distances) / len(distances),
                                   preview=preview))


def _run_draggan(latent: LatentOptimizer, s: DragSettings, handles: torch.Tensor, targets: torch.Tensor,
                 editable: torch.Tensor | None, max_steps: int, reporter: _Reporter, res: int
                 ) -> tuple[torch.Tensor, int, bool]:
    device = handles.device
    patch = Patch(disk_offsets(s.patch_radius, s.patch_spacing, device))
    window = square_offsets(s.track_radius, s.track_spacing, device)
    track_reads = s.tracking_reads(device)
    features = latent.features()
    initial_features = features.detach()
    track_templates = initial_templates(initial_features, handles, track_reads, res)
    templates = initial_templates(initial_features, handles, patch, res) if s.motion_anchor else None
    mask_term = None if editable is None else MaskPreservation(initial_features, editable, res)
    distances = (targets - handles).norm(dim=1).tolist()
    steps = 0
    while max(distances) > s.stop_distance and steps < max_steps and not reporter.cancelled():
        loss = motion_supervision_loss(features, handles, targets, patch, s.step, s.stop_distance, res, templates,
                                       s.motion_anchor)
        if mask_term is not None:
            loss = loss + s.mask_weight * mask_term(features)
        latent.step(loss)
        steps += 1
        features = latent.features()
        handles = track_points(features.detach(), handles, track_templates, window, track_reads, res)
        distances = (targets - handles).norm(dim=1).tolist()
        reporter.report(steps, handles, distances)
    return handles, steps, max(distances) <= s.stop_distance


def _validate_options(generator: EditableGenerator, o: DragOptions) -> None:
    if o.method not in METHODS:
        raise ValueError(f"options.method must be one of {METHODS}, got {o.method!r}")
    if o.preset not in PRESETS:
        raise ValueError(f"options.preset must be one of {PRESETS}, got {o.preset!r}")
    if o.method == "freedrag" and o.preset == "published":
        raise ValueError("options.preset 'published' applies to method 'draggan' only: FreeDrag's "
                         "reference already works at the feature block's resolution")
    if o.precision not in PRECISIONS:
        raise ValueError(f"options.precision must be one of {PRECISIONS}, got {o.precision!r}")
    for name in ("motion_anchor", "template_anchor"):
        anchor = getattr(o, name)
        if anchor is not None and not (isinstance(anchor, (int, float)) and not isinstance(anchor, bool)
                                       and 0 <= anchor <= 1):
            raise ValueError(f"options.{name} must be a number in [0, 1] or None, got {anchor!r}")
    if o.latent_space not in LATENT_SPACES:
        raise ValueError(f"options.latent_space must be one of {LATENT_SPACES}, got {o.latent_space!r}")
    optional_rows = () if o.optimize_rows is None else ("optimize_rows",)  # None: the model's or published
    for name in ("max_steps", "preview_every", "seed", *optional_rows):
        value = getattr(o, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"options.{name} must be an integer, got {value!r}")
    if o.max_steps < 0:
        raise ValueError(f"options.max_steps must be >= 0, got {o.max_steps}")
    if optional_rows and o.optimize_rows < 1:
        raise ValueError(f"options.optimize_rows must be >= 1, got {o.optimize_rows}")
    if o.preview_every < 0:
        raise ValueError(f"options.preview_every must be >= 0 (0 = no previews), got {o.preview_every}")
    if o.track_patch is not None and not (isinstance(o.track_patch, (int, float))
                                          and not isinstance(o.track_patch, bool)
                                          and math.isfinite(o.track_patch) and o.track_patch >= 0):
        raise ValueError(f"options.track_patch must be a number >= 0 (0 = one feature vector) or None, "
                         f"got {o.track_patch!r}")
    for name in ("lr", "r1", "r2", "mask_weight", "stop_distance"):
        value = getattr(o, name)
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"options.{name} must be a positive number or None, got {value!r}")
    if o.feature_block is not None:
        names = [b.name for b in generator.blocks]
        if o.feature_block not in names:
            raise ValueError(f"options.feature_block must be one of {names}, got {o.feature_block!r}")


def _validate_ws(generator: EditableGenerator, ws: torch.Tensor) -> torch.Tensor:
    expected = [1, generator.num_ws, generator.w_dim]
    if not isinstance(ws, torch.Tensor) or list(ws.shape) != expected:
        shape = list(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
        raise ValueError(f"ws must be a tensor of shape {expected}, got {shape}")
    if not torch.isfinite(ws).all():
        raise ValueError("ws contains NaN or infinite values")
    return ws.detach().to(torch.float32)


def _validate_points(name: str, points: Sequence[Sequence[float]], res: int) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(points, dtype=torch.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a list of (x, y) pairs: {exc}") from None
    if tensor.ndim != 2 or tensor.shape[1] != 2 or len(tensor) == 0:
        raise ValueError(f"{name} must be a non-empty list of (x, y) pairs, got shape {list(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    if (tensor < 0).any() or (tensor > res - 1).any():
        raise ValueError(f"{name} must lie inside the image: 0 <= x, y <= {res - 1} at {res} px")
    return tensor


def _validate_mask(mask: torch.Tensor | None, res: int) -> torch.Tensor | None:
    """The editable mask, or None when it allows editing everywhere (no mask term needed)."""
    if mask is None:
        return None
    mask = torch.as_tensor(mask, dtype=torch.float32)
    if list(mask.shape) != [res, res]:
        raise ValueError(f"mask must have shape [{res}, {res}] (model resolution), got {list(mask.shape)}")
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise ValueError("mask values must lie in [0, 1] (1 = may change)")
    if mask.max() == 0:
        raise ValueError("mask allows no change anywhere (all zeros)")
    return None if mask.min() == 1 else mask
