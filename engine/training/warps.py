"""Local warps of teacher images, and the training-only encoder through which the generator learns to
show them in the first rows of W+ — the rows a drag edit optimises.

Why: a drag asks the latent for "this face with the content around the handle moved". Distillation
only teaches the faces the teacher draws for its z; whether their locally warped versions are in the
student's W+ is left to chance, and on faces64 they mostly were not (docs/drag.md: the content moved
about a third of the way). In the trainer's warp phase part of each batch regresses a randomly warped
teacher image from w + Δw, Δw = E(field, w) on the first `rows` rows, so those rows learn to carry
local geometry. E is not shipped: at edit time the drag's optimiser finds the Δw.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class WarpSpec:
    """The family of warps: each is a sum of 1..max_bumps Gaussian bumps, each moving the content at
    its centre by a shift of at most `max_shift` (of the resolution) and at most `fold_margin`·σ, so
    the map stays one-to-one (a Gaussian bump folds beyond √e·σ ≈ 1.65σ)."""
    max_bumps: int = 2
    sigma: tuple[float, float] = (0.06, 0.16)     # bump width, share of the resolution
    max_shift: float = 0.2                          # share of the resolution
    centre: tuple[float, float] = (0.15, 0.85)      # where bump centres fall, share of the resolution
    fold_margin: float = 1.2


def random_bump_fields(n: int, resolution: int, generator: torch.Generator,
                       spec: WarpSpec = WarpSpec()) -> torch.Tensor:
    """Displacement fields [n, 2, R, R] in pixels (x, y): the content at p moves to p + field(p)."""
    coords = torch.arange(resolution, dtype=torch.float32)
    fields = torch.zeros(n, 2, resolution, resolution)
    bumps = torch.randint(1, spec.max_bumps + 1, [n], generator=generator)
    for k in range(spec.max_bumps):
        centre = (spec.centre[0] + (spec.centre[1] - spec.centre[0]) * torch.rand(n, 2, generator=generator)) \
            * (resolution - 1)
        sigma = (spec.sigma[0] + (spec.sigma[1] - spec.sigma[0]) * torch.rand(n, generator=generator)) * resolution
        limit = torch.minimum(torch.full([n], spec.max_shift * resolution), spec.fold_margin * sigma)
        angle = 2 * math.pi * torch.rand(n, generator=generator)
        length = limit * torch.rand(n, generator=generator).sqrt()   # uniform over the disk of shifts
        shift = torch.stack([angle.cos(), angle.sin()], dim=1) * length[:, None]
        shift = shift * (bumps > k).float()[:, None]
        gx = torch.exp(-0.5 * ((coords[None, :] - centre[:, 0:1]) / sigma[:, None]) ** 2)     # [n, R]
        gy = torch.exp(-0.5 * ((coords[None, :] - centre[:, 1:2]) / sigma[:, None]) ** 2)
        bump = gy[:, :, None] * gx[:, None, :]                                                 # [n, R, R]
        fields += shift[:, :, None, None] * bump[:, None]
    return fields


def warp_images(images: torch.Tensor, fields: torch.Tensor) -> torch.Tensor:
    """Move image content by the fields (backward bilinear sampling at p − field(p); exact where the
    field is locally constant, close for these smooth bumps). images [N, C, R, R]."""
    n, _, h, w = images.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    src_x = xs[None] - fields[:, 0]
    src_y = ys[None] - fields[:, 1]
    grid = torch.stack([2 * src_x / (w - 1) - 1, 2 * src_y / (h - 1) - 1], dim=-1)
    return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="border",
                         align_corners=True)


class WarpEncoder(nn.Module):
    """(field, w) → Δw for the first `rows` rows of W+; exactly 0 for a zero field, so unwarped
    samples train the generator alone. The field is read at `grid`×`grid`, in units of the resolution."""

    def __init__(self, w_dim: int, rows: int, grid: int = 8, hidden: int = 512):
        super().__init__()
        self.rows, self.w_dim, self.grid = rows, w_dim, grid
        self.net = nn.Sequential(nn.Linear(2 * grid * grid + w_dim, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, rows * w_dim))
        nn.init.zeros_(self.net[-1].weight)    # start as "no offset": the generator is not disturbed
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, fields: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # Shifts are ≤ 20 % of the resolution: ×10 puts the encoder's input at the scale of w's (~1).
        coarse = F.adaptive_avg_pool2d(fields, self.grid).flatten(1) * (10 / fields.shape[-1])
        with_field = self.net(torch.cat([coarse, w], dim=1))
        without = self.net(torch.cat([torch.zeros_like(coarse), w], dim=1))
        return (with_field - without).view(-1, self.rows, self.w_dim)
