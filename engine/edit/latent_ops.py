"""Latent-space operations: principal directions, direction edits, style mixing, interpolation and
truncation changes.

Pure tensor functions over W+ latents `ws` of shape `[1, num_ws, w_dim]` (a batch dimension N ≥ 1 is
accepted everywhere). Nothing here touches files, sessions or editors, so the service, the CLI and tests
call the same code. File formats and the per-model cache live in `engine.edit.latent_files`.

Named row ranges follow the StyleGAN paper's convention: rows come in pairs per synthesis level, row `i`
belongs to level `4·2^(i//2)` px, and

    coarse = levels 4–8 px    → rows 0–3     (pose, face shape, hair style)
    middle = levels 16–32 px  → rows 4–7     (features, eyes open/closed)
    fine   = levels ≥ 64 px   → rows 8–end   (colour scheme, micro-structure)

which for the common model sizes gives

    num_ws (resolution)   coarse   middle   fine
    10 (64 px)            0–3      4–7      8–9
    14 (256 px)           0–3      4–7      8–13
    16 (512 px)           0–3      4–7      8–15
    18 (1024 px)          0–3      4–7      8–17

In StyleGAN2 the odd row `2j-1` also drives the first convolution of the next level, so the boundaries
are approximate by one layer; they match the ranges other StyleGAN tools use.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

from engine.models.interface import EditableGenerator

ROW_RANGE_NAMES = ("coarse", "middle", "fine")
INTERPOLATION_SPACES = ("w", "w+")
_COARSE_END, _MIDDLE_END = 4, 8  # first row of "middle" and of "fine"

Rows = str | range | Iterable[int] | None


@dataclass
class Direction:
    """A latent edit: `offset` is what α = 1 adds to each selected row.

    For a principal direction the offset is the unit vector times the direction's standard deviation,
    so α counts standard deviations. For a user direction made from two latents it is their difference,
    so α = 1 moves the first latent onto the second. `offset` is `[w_dim]` (same change for every row)
    or `[num_ws, w_dim]` (per row, from two W+ latents).
    """
    offset: torch.Tensor
    name: str = ""


@dataclass
class Directions:
    """Principal directions of W, ordered by decreasing variance (GANSpace)."""
    vectors: torch.Tensor  # [k, w_dim], orthonormal rows
    stds: torch.Tensor     # [k], standard deviation of the W samples along each vector
    mean: torch.Tensor     # [w_dim], mean of the W samples
    n_samples: int
    seed: int

    def __len__(self) -> int:
        return self.vectors.shape[0]

    def direction(self, index: int) -> Direction:
        """Direction `index` (0 = largest variance) scaled so that α counts standard deviations."""
        if not 0 <= index < len(self):
            raise ValueError(f"direction index must be in 0..{len(self) - 1}, got {index}")
        return Direction(offset=self.vectors[index] * self.stds[index], name=f"pc{index}")


def _check_ws(ws: torch.Tensor, name: str = "ws") -> None:
    if not isinstance(ws, torch.Tensor) or ws.ndim != 3:
        shape = list(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
        raise ValueError(f"{name} must be a tensor [N, num_ws, w_dim], got {shape}")
    if not torch.isfinite(ws).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def _check_same_shape(ws_a: torch.Tensor, ws_b: torch.Tensor) -> None:
    _check_ws(ws_a, "ws_a")
    _check_ws(ws_b, "ws_b")
    if ws_a.shape[1:] != ws_b.shape[1:]:
        raise ValueError(f"ws_a and ws_b must have the same [num_ws, w_dim], got "
                         f"{list(ws_a.shape[1:])} and {list(ws_b.shape[1:])}")


def row_range(num_ws: int, name: str) -> range:
    """The W+ rows of a named range ("coarse", "middle", "fine") for a model with `num_ws` rows."""
    bounds = {"coarse": (0, _COARSE_END), "middle": (_COARSE_END, _MIDDLE_END), "fine": (_MIDDLE_END, num_ws)}
    if name not in bounds:
        raise ValueError(f"rows: unknown range {name!r}; use one of {ROW_RANGE_NAMES} or 'all'")
    start, stop = bounds[name]
    rows = range(start, min(stop, num_ws))
    if len(rows) == 0:
        raise ValueError(f"rows: a model with {num_ws} ws has no {name!r} rows "
                         f"({name} starts at row {start})")
    return rows


def resolve_rows(num_ws: int, rows: Rows) -> list[int]:
    """Normalise a row selection: None/"all", a range name, or explicit row indices."""
    if rows is None or rows == "all":
        return list(range(num_ws))
    if isinstance(rows, str):
        return list(row_range(num_ws, rows))
    selected = sorted({int(r) for r in rows})
    if not selected:
        raise ValueError("rows: the selection is empty")
    bad = [r for r in selected if not 0 <= r < num_ws]
    if bad:
        raise ValueError(f"rows: {bad} outside 0..{num_ws - 1}")
    return selected


@torch.no_grad()
def principal_directions(generator: EditableGenerator, n_samples: int = 20_000, seed: int = 0,
                         batch_size: int = 2_000) -> Directions:
    """PCA of W over `n_samples` mapped Gaussian z (GANSpace), deterministic for a seed.

    Moments are accumulated in float64 batch by batch, so memory stays at one batch plus a
    w_dim × w_dim matrix whatever the sample count.
    """
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    rng = torch.Generator().manual_seed(seed)
    total = torch.zeros(generator.w_dim, dtype=torch.float64)
    outer = torch.zeros(generator.w_dim, generator.w_dim, dtype=torch.float64)
    for start in range(0, n_samples, batch_size):
        count = min(batch_size, n_samples - start)
        z = torch.randn(count, generator.z_dim, generator=rng).to(generator.device)
        w = generator.mapping(z, None)[:, 0].to("cpu", torch.float64)
        total += w.sum(dim=0)
        outer += w.T @ w
    mean = total / n_samples
    covariance = (outer - n_samples * torch.outer(mean, mean)) / (n_samples - 1)
    variances, vectors = torch.linalg.eigh(covariance)
    order = torch.argsort(variances, descending=True)[: min(generator.w_dim, n_samples - 1)]
    variances, vectors = variances[order].clamp_min(0), vectors[:, order].T
    # Eigenvectors are defined up to sign; make each one's largest component positive so the same
    # model and seed always give the same "+" end of every slider.
    largest = vectors.abs().argmax(dim=1, keepdim=True)
    vectors = vectors * vectors.gather(1, largest).sign()
    return Directions(vectors=vectors.float(), stds=variances.sqrt().float(), mean=mean.float(),
                      n_samples=n_samples, seed=seed)


def direction_from_latents(ws_from: torch.Tensor, ws_to: torch.Tensor, name: str = "") -> Direction:
    """A user direction: the per-row difference `ws_to - ws_from` (α = 1 maps one onto the other)."""
    _check_same_shape(ws_from, ws_to)
    if ws_from.shape[0] != 1 or ws_to.shape[0] != 1:
        raise ValueError("ws_from and ws_to must each hold one latent (N = 1)")
    return Direction(offset=(ws_to - ws_from)[0].detach().float().cpu(), name=name)


def apply_direction(ws: torch.Tensor, direction: Direction, alpha_in_std: float, rows: Rows = None
                    ) -> torch.Tensor:
    """`ws` moved by `alpha_in_std · direction.offset` on the selected rows; other rows are copied."""
    _check_ws(ws)
    if not math.isfinite(alpha_in_std):
        raise ValueError(f"alpha_in_std must be finite, got {alpha_in_std}")
    num_ws, w_dim = ws.shape[1:]
    offset = direction.offset.to(ws.device, ws.dtype)
    if offset.shape not in ((w_dim,), (num_ws, w_dim)):
        raise ValueError(f"direction offset has shape {list(offset.shape)}; this latent needs "
                         f"[{w_dim}] or [{num_ws}, {w_dim}]")
    selected = resolve_rows(num_ws, rows)
    row_offset = offset if offset.ndim == 1 else offset[selected]
    out = ws.clone()
    out[:, selected] += alpha_in_std * row_offset
    return out


def style_mix(ws_a: torch.Tensor, ws_b: torch.Tensor, rows: Rows) -> torch.Tensor:
    """`ws_a` with the selected rows taken from `ws_b` (e.g. "coarse" = pose and shape of b)."""
    _check_same_shape(ws_a, ws_b)
    if ws_b.shape[0] not in (1, ws_a.shape[0]):
        raise ValueError(f"ws_b must hold 1 or {ws_a.shape[0]} latents, got {ws_b.shape[0]}")
    selected = resolve_rows(ws_a.shape[1], rows)
    out = ws_a.clone()
    out[:, selected] = ws_b[:, selected].to(out)
    return out


def _is_single_w(ws: torch.Tensor) -> bool:
    return bool(torch.allclose(ws, ws[:, :1].expand_as(ws), rtol=1e-5, atol=1e-6))


def interpolate(ws_a: torch.Tensor, ws_b: torch.Tensor, n: int, space: str = "w+") -> torch.Tensor:
    """`n` frames `[n, num_ws, w_dim]` from `ws_a` to `ws_b` inclusive, linear in W or W+.

    "w+" interpolates every row independently; "w" interpolates the one w both latents share across
    their rows, and refuses W+ latents whose rows differ (after a drag or a mix) instead of silently
    projecting them.
    """
    _check_same_shape(ws_a, ws_b)
    if ws_a.shape[0] != 1 or ws_b.shape[0] != 1:
        raise ValueError("ws_a and ws_b must each hold one latent (N = 1)")
    if n < 2:
        raise ValueError(f"n must be at least 2 (the two end points), got {n}")
    if space not in INTERPOLATION_SPACES:
        raise ValueError(f"space must be one of {INTERPOLATION_SPACES}, got {space!r}")
    if space == "w":
        for name, ws in (("ws_a", ws_a), ("ws_b", ws_b)):
            if not _is_single_w(ws):
                raise ValueError(f"{name} is a W+ latent (its rows differ); interpolate it in space 'w+'")
    t = torch.linspace(0, 1, n, device=ws_a.device, dtype=ws_a.dtype).view(n, 1, 1)
    frames = torch.lerp(ws_a.expand(n, -1, -1), ws_b.to(ws_a).expand(n, -1, -1), t)
    frames[-1] = ws_b[0]  # exact end point, free of lerp rounding
    return frames


def interpolate_at(ws_a: torch.Tensor, ws_b: torch.Tensor, t: float) -> torch.Tensor:
    """The single W+ latent a fraction `t` of the way from `ws_a` to `ws_b` (0 = a, 1 = b, exactly)."""
    _check_same_shape(ws_a, ws_b)
    if not math.isfinite(t) or not 0 <= t <= 1:
        raise ValueError(f"t must be in [0, 1], got {t}")
    if t == 0:
        return ws_a.clone()
    if t == 1:
        return ws_b.to(ws_a).expand_as(ws_a).clone()
    return torch.lerp(ws_a, ws_b.to(ws_a).expand_as(ws_a), t)


def retruncate(ws: torch.Tensor, w_avg: torch.Tensor, psi_old: float, psi_new: float, rows: Rows = None
               ) -> torch.Tensor:
    """Change the truncation of an existing latent from `psi_old` to `psi_new`.

    A latent made with truncation ψ is `w_avg + ψ·(w − w_avg)`; scaling its offset from `w_avg` by
    ψ_new/ψ_old gives the latent the same w would have had with ψ_new, and works just as well on edited
    W+ latents (their edits scale with them).
    """
    _check_ws(ws)
    for name, psi in (("psi_old", psi_old), ("psi_new", psi_new)):
        if not math.isfinite(psi):
            raise ValueError(f"{name} must be finite, got {psi}")
    if psi_old == 0:
        raise ValueError("psi_old must not be 0: a latent truncated with ψ = 0 is w_avg and keeps no "
                         "trace of its w")
    if w_avg.shape != (ws.shape[2],):
        raise ValueError(f"w_avg must have shape [{ws.shape[2]}], got {list(w_avg.shape)}")
    selected = resolve_rows(ws.shape[1], rows)
    out = ws.clone()
    if psi_new == psi_old:
        return out  # exactly, not up to rounding
    avg = w_avg.to(ws.device, ws.dtype)
    out[:, selected] = avg + (ws[:, selected] - avg) * (psi_new / psi_old)
    return out


@dataclass
class DirectionStep:
    """One slider of an exploration: `direction` times `alpha_in_std` on `rows`."""
    direction: Direction
    alpha_in_std: float
    rows: Rows = None


@dataclass
class LatentEdit:
    """A combination of edits given as absolute settings relative to a base latent, the way the editors'
    explore sliders describe them (moving a slider back to 0 gives back the base, not a cumulative drift).

    Applied in a fixed order: truncation `psi_old → psi_new`, style mix from `mix_ws`, interpolation a
    fraction `toward_t` of the way to `toward_ws`, then every direction step (each on its own rows).
    Truncation goes first so that direction strengths keep their meaning whatever ψ the slider shows.
    """
    directions: list[DirectionStep] = field(default_factory=list)
    truncation: tuple[float, float] | None = None  # (psi_old, psi_new)
    mix_ws: torch.Tensor | None = None
    mix_rows: Rows = None
    toward_ws: torch.Tensor | None = None
    toward_t: float = 0.0


def apply_edit(ws: torch.Tensor, edit: LatentEdit, w_avg: torch.Tensor) -> torch.Tensor:
    """`ws` with every part of `edit` applied (see `LatentEdit` for the order); an empty edit returns an
    exact copy."""
    out = ws.clone()
    if edit.truncation is not None:
        out = retruncate(out, w_avg, *edit.truncation)
    if edit.mix_ws is not None:
        out = style_mix(out, edit.mix_ws.to(out), edit.mix_rows)
    if edit.toward_ws is not None:
        out = interpolate_at(out, edit.toward_ws.to(out), edit.toward_t)
    for step in edit.directions:
        out = apply_direction(out, step.direction, step.alpha_in_std, step.rows)
    return out
