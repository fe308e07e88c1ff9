"""DragGAN's motion supervision and mask terms (losses over a feature map; no optimiser here)."""
from __future__ import annotations

import torch

from .features import sample_features


def motion_supervision_loss(features: torch.Tensor, handles: torch.Tensor, targets: torch.Tensor,
                            patch_offsets: torch.Tensor, step: float, stop_distance: float,
                            image_resolution: int) -> torch.Tensor:
    """Pull the content around each handle one small step toward its target.

    For every patch point q around handle p: L1(F(q).detach(), F(q + d)), d = step along p → t
    (shortened to the remaining distance). Detaching the unshifted read means the gradient moves the
    content *at* q + d toward what is now at q, i.e. the content travels along d. Handles already
    within `stop_distance` get no pull. `handles`, `targets` [N, 2] in image px; returns a scalar.
    """
    delta = targets - handles
    distance = delta.norm(dim=1, keepdim=True)
    shift = delta / distance.clamp_min(1e-8) * distance.clamp_max(step)
    q = handles[:, None, :] + patch_offsets[None]
    current = sample_features(features.detach(), q, image_resolution)
    shifted = sample_features(features, q + shift[:, None, :], image_resolution)
    per_handle = (shifted - current).abs().mean(dim=(1, 2))
    active = (distance[:, 0] > stop_distance).to(per_handle.dtype)
    return (per_handle * active).sum()


def mask_preservation_loss(features: torch.Tensor, initial_features: torch.Tensor,
                           outside_mask: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the features and the first step's features where editing is not allowed.

    `outside_mask` is [1, 1, h, w] at the features' resolution (1 = must stay put)."""
    return ((features - initial_features).abs() * outside_mask).mean()
