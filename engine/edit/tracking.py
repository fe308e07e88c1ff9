"""Point tracking: find each handle's content again after an optimisation step."""
from __future__ import annotations

import torch

from .features import sample_features


@torch.no_grad()
def track_points(features: torch.Tensor, handles: torch.Tensor, handle_features: torch.Tensor,
                 window_offsets: torch.Tensor, image_resolution: int) -> torch.Tensor:
    """New handle positions [N, 2]: the window position whose feature is nearest (L2 over channels)
    to the handle's initial feature `handle_features` [N, C].

    Candidates are `handles + window_offsets` (a square of image-px offsets at any spacing, so the
    search can be finer than one pixel at low resolution); all are read from `features` by
    bilinear sampling, whatever its resolution.
    """
    candidates = handles[:, None, :] + window_offsets[None]
    candidates = candidates.clamp(0, image_resolution - 1)
    sampled = sample_features(features, candidates, image_resolution)
    distances = (sampled - handle_features[:, None, :].to(sampled.dtype)).square().sum(dim=-1)
    best = distances.argmin(dim=1)
    return candidates[torch.arange(len(handles), device=handles.device), best]
