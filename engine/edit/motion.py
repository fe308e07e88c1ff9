"""DragGAN's motion supervision and mask terms (losses over a feature map; no optimiser here)."""
from __future__ import annotations

import torch

from .features import sample_features


def motion_supervision_loss(features: torch.Tensor, handles: torch.Tensor, targets: torch.Tensor,
                            patch_offsets: torch.Tensor, step: float, stop_distance: float,
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
    q = handles[:, None, :] + patch_offsets[None]
    reference = sample_features(features.detach(), q, image_resolution)
    if anchor:
        reference = anchor * templates.to(reference.dtype) + (1 - anchor) * reference
    shifted = sample_features(features, q + shift[:, None, :], image_resolution)
    per_handle = (shifted - reference).abs().mean(dim=(1, 2))
    active = (distance[:, 0] > stop_distance).to(per_handle.dtype)
    return (per_handle * active).sum()


def initial_templates(initial_features: torch.Tensor, handles: torch.Tensor, patch_offsets: torch.Tensor,
                      image_resolution: int) -> torch.Tensor:
    """The supervision patch around each handle in the unedited features [N, K, C]: the anchor of
    `motion_supervision_loss`."""
    return sample_features(initial_features, handles[:, None, :] + patch_offsets[None], image_resolution)


def mask_preservation_loss(features: torch.Tensor, initial_features: torch.Tensor,
                           outside_mask: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the features and the first step's features where editing is not allowed.

    `outside_mask` is [1, 1, h, w] at the features' resolution (1 = must stay put)."""
    return ((features - initial_features).abs() * outside_mask).mean()
