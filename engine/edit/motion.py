"""DragGAN's motion supervision and mask terms (losses over a feature map; no optimiser here)."""
from __future__ import annotations

import math

import torch

from .features import Patch, as_patch, sample_features, sample_patches, upsample_to_image

READS_PER_CALL = 2  # reads of the upsampled difference per cell in each mask-term call (MaskPreservation)


def motion_supervision_loss(features: torch.Tensor, handles: torch.Tensor, targets: torch.Tensor,
                            patch_offsets: Patch | torch.Tensor, step: float, stop_distance: float,
                            image_resolution: int, templates: torch.Tensor | None = None,
                            anchor: float = 0.0) -> torch.Tensor:
    """Pull the content around each handle one small step toward its target.

    For every patch point q around handle p: L1(R(q), F(q + d)), d = step along p → t (shortened to
    the remaining distance). DragGAN's published reference R is the current features, detached: the
    gradient moves the content *at* q + d toward what is now at q. `anchor` > 0 blends in the
    handle's original content, R = anchor·T + (1 − anchor)·F(q).detach() with `templates` T [N, K, C]
    (`initial_templates`): a reference that only follows the edit lets the features around the handle
    fade toward each other, which satisfies the loss without moving anything, while a fully fixed one
    cannot let the content change shape as it moves. Measured on the bundled faces64 (docs/drag.md):
    0.5 moved the content 58 % of the way on tuning tasks vs 41 % (published, 0) and 52 % (1).
    Handles already within `stop_distance` get no pull. `handles`, `targets` [N, 2] in image px.
    """
    delta = targets - handles
    distance = delta.norm(dim=1, keepdim=True)
    shift = delta / distance.clamp_min(1e-8) * distance.clamp_max(step)
    patch = as_patch(patch_offsets)
    reference = sample_patches(features.detach(), handles, patch, image_resolution)
    if anchor:
        reference = anchor * templates.to(reference.dtype) + (1 - anchor) * reference
    shifted = sample_patches(features, handles + shift, patch, image_resolution)
    per_handle = (shifted - reference).abs().mean(dim=(1, 2))
    active = (distance[:, 0] > stop_distance).to(per_handle.dtype)
    return (per_handle * active).sum()


def initial_templates(initial_features: torch.Tensor, handles: torch.Tensor, patch_offsets: Patch | torch.Tensor,
                      image_resolution: int) -> torch.Tensor:
    """The supervision patch around each handle in the unedited features [N, K, C]: the anchor of
    `motion_supervision_loss`."""
    return sample_patches(initial_features, handles, patch_offsets, image_resolution)


class MaskPreservation:
    """DragGAN's mask term: mean over image pixels and channels of |up(F) − up(F0)| where the image
    must stay put (up = bilinear upsampling to image size, F0 = the first step's features).

    On a map already at image size (the "published" preset upsamples every step) this is computed
    as published. On the block's own map, with s image px per feature px, each cell stands for an
    s × s block of image pixels, and the upsampled difference at any one of them ("phase") is a
    bilinear read of the map, so no full-resolution copy is needed: each call reads
    `READS_PER_CALL` pixels of every cell's block, taking turns so that every cell reads each of its
    s² pixels once per cycle, and the term averages to the published one over each cycle. Neighbouring
    cells read different phases (a scrambled offset per cell), so each call already mixes them all.
    Why: Adam divides each step by the gradient's running magnitude, so a noisier estimate of the same
    term moves the content less. On the bundled model's 20 masked benchmark tasks (float32): one
    phase for the whole map per step ended 8.30 px from the targets with 1.03 8-bit levels of change
    outside, four 8.25 / 1.14, all sixteen (exact) 8.24 / 1.15; two scrambled reads per cell 8.24 /
    1.12 at half the reads of four; published 8.18 / 1.20. (The first fast version, an L1 over the
    map's cells with an area-averaged mask, is a different quantity and ended at 8.29 / 1.04: the
    cells' L1 is larger than their interpolation's, so it held the outside harder.)
    """

    def __init__(self, initial_features: torch.Tensor, editable: torch.Tensor, image_resolution: int):
        self.initial_features = initial_features.detach()
        outside = 1 - editable.to(torch.float32)
        feature_res = initial_features.shape[-1]
        if image_resolution % feature_res:  # no whole phases: compute it as published
            self.initial_features = upsample_to_image(self.initial_features, image_resolution)
        if image_resolution % feature_res or feature_res == image_resolution:
            self.points, self.masks = None, [outside[None, None]]
            return
        scale = image_resolution // feature_res
        count = scale * scale
        rows, columns = torch.meshgrid(torch.arange(feature_res, device=outside.device),
                                       torch.arange(feature_res, device=outside.device), indexing="ij")
        offset = (7 * columns + 13 * rows) % count  # neighbouring cells start the cycle apart
        order = torch.tensor(_phase_order(scale), device=outside.device)
        points, masks = [], []
        for turn in range(count):
            phase = (order[turn] + offset) % count
            xs, ys = scale * columns + phase % scale, scale * rows + phase // scale
            points.append(torch.stack([xs, ys], dim=-1).to(torch.float32))
            masks.append(outside[ys, xs])
        per_call = max(d for d in range(1, READS_PER_CALL + 1) if count % d == 0)  # equal groups
        self.points = [torch.cat(points[i:i + per_call]) for i in range(0, count, per_call)]
        self.masks = [torch.cat(masks[i:i + per_call])[..., None] for i in range(0, count, per_call)]
        self.image_resolution = image_resolution
        self.calls = 0

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        if self.points is None:
            if features.shape[-1] != self.initial_features.shape[-1]:
                features = upsample_to_image(features, self.initial_features.shape[-1])
            return ((features - self.initial_features).abs() * self.masks[0]).mean()
        k = self.calls % len(self.points)
        self.calls += 1
        read = sample_features(features - self.initial_features, self.points[k], self.image_resolution)
        return (read.abs() * self.masks[k]).mean()


def _phase_order(scale: int) -> list[int]:
    """All scale² phases, consecutive ones far apart: a stride near half the count that is coprime
    with it, so one cycle visits every phase once (7 of 16 at 4 image px per feature px)."""
    count = scale * scale
    stride = next(k for k in range(max(count // 2, 1), 0, -1) if math.gcd(k, count) == 1)
    return [(k * stride) % count for k in range(count)]
