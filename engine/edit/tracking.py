"""Point tracking: find each handle's content again after an optimisation step."""
from __future__ import annotations

import torch

from .features import disk_offsets, sample_features


@torch.no_grad()
def track_points(features: torch.Tensor, handles: torch.Tensor, templates: torch.Tensor,
                 window_offsets: torch.Tensor, template_offsets: torch.Tensor,
                 image_resolution: int) -> torch.Tensor:
    """New handle positions [N, 2]: the window position whose patch of features is nearest (mean
    over the patch of the squared L2 over channels) to the handle's initial patch `templates` [N, K, C].

    `template_offsets` [K, 2] are the patch's reads around a position: the single offset (0, 0) is
    DragGAN's published tracker (nearest neighbour of one feature vector); a disk of them matches the
    neighbourhood, which pins the content down better than one bilinear read of a coarse map
    (docs/drag.md, "Tracking by patch"). Candidates are `handles + window_offsets` (a square of
    image-px offsets at any spacing, so the search can be finer than one pixel at low resolution);
    everything is read from `features` by bilinear sampling, whatever its resolution.
    """
    candidates = (handles[:, None, :] + window_offsets[None]).clamp(0, image_resolution - 1)
    reads = (candidates[:, :, None, :] + template_offsets[None, None]).clamp(0, image_resolution - 1)
    sampled = sample_features(features, reads, image_resolution)  # [N, M, K, C]
    distances = (sampled - templates[:, None].to(sampled.dtype)).square().sum(dim=-1).mean(dim=-1)
    best = distances.argmin(dim=1)
    return candidates[torch.arange(len(handles), device=handles.device), best]


def tracking_offsets(radius: float, spacing: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """The tracker's template reads [K, 2]: (0, 0) alone for radius 0 (as published), else a disk."""
    if radius <= 0:
        return torch.zeros(1, 2, device=device)
    return disk_offsets(radius, spacing, device)
