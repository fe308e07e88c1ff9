"""Point tracking: find each handle's content again after an optimisation step."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .features import bilinear_cells, disk_offsets, sample_features


@torch.no_grad()
def track_points(features: torch.Tensor, handles: torch.Tensor, templates: torch.Tensor,
                 window_offsets: torch.Tensor, template_offsets: torch.Tensor,
                 image_resolution: int) -> torch.Tensor:
    """New handle positions [N, 2]: the window position whose patch of features is nearest (mean
    over the patch of the squared L2 over channels) to the handle's initial patch `templates` [N, K, C].

    `template_offsets` [K, 2] are the patch's reads around a position: the single offset (0, 0) is
    DragGAN's published tracker (nearest neighbour of one feature vector); a disk of them matches the
    neighbourhood, which pins the content down better than one bilinear read of a coarse map
    (docs/drag.md, `track_patch`). Candidates are `handles + window_offsets` (a square of image-px
    offsets at any spacing, so the search can be finer than one pixel at low resolution); everything
    is read from `features` bilinearly, whatever its resolution.
    """
    candidates = (handles[:, None, :] + window_offsets[None]).clamp(0, image_resolution - 1)
    reads = (candidates[:, :, None, :] + template_offsets[None, None]).clamp(0, image_resolution - 1)
    if len(template_offsets) == 1:  # the published tracker: one read per candidate, read directly
        sampled = sample_features(features, reads, image_resolution)  # [N, M, 1, C]
        distances = (sampled - templates[:, None].to(sampled.dtype)).square().sum(dim=-1).mean(dim=-1)
    else:
        distances = patch_distances(features, reads, templates, image_resolution)
    best = distances.argmin(dim=1)
    return candidates[torch.arange(len(handles), device=handles.device), best]


def tracking_offsets(radius: float, spacing: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """The tracker's template reads [K, 2]: (0, 0) alone for radius 0 (as published), else a disk."""
    if radius <= 0:
        return torch.zeros(1, 2, device=device)
    return disk_offsets(radius, spacing, device)


def patch_distances(features: torch.Tensor, reads: torch.Tensor, templates: torch.Tensor,
                    image_resolution: int) -> torch.Tensor:
    """mean_k |F(reads[n, m, k]) − templates[n, k]|² → [N, M], F [1, C, h, w] read bilinearly exactly
    as `sample_features` reads it, without reading all C channels at each of the M·K points.

    |v − t|² = |v|² − 2 v·t + |t|², v the bilinear blend of four cells: v·t is the same blend of the
    cells' dot products with t, and |v|² the blend of the cells' pairwise dot products, all computed
    once on the crop of the map the reads touch. Same argmin as the direct form on every tested case
    (relative difference ~1e-6); 2.7× faster for a 49-read disk at 64 px, 21× at 512 px.
    """
    size = features.shape[-1]
    distances = []
    for n in range(reads.shape[0]):
        low, high, frac = bilinear_cells(reads[n], (size, size), image_resolution)  # [M, K, 2] each, (x, y)
        x_a, y_a = int(low[..., 0].min()), int(low[..., 1].min())
        x_b, y_b = int(high[..., 0].max()), int(high[..., 1].max())
        crop = features[0, :, y_a:y_b + 1, x_a:x_b + 1].float()
        h, w = crop.shape[-2:]
        # Replicating the last row/column reproduces border padding where a read's high cell is clamped.
        padded = F.pad(crop[None], (0, 1, 0, 1), mode="replicate")[0]
        norm = crop.square().sum(0)
        right = (crop * padded[:, :h, 1:]).sum(0)
        down = (crop * padded[:, 1:, :w]).sum(0)
        diagonal = (crop * padded[:, 1:, 1:]).sum(0)
        anti_diagonal = (padded[:, :h, 1:] * padded[:, 1:, :w]).sum(0)
        template = templates[n].float()  # [K, C]
        cross = torch.einsum("kc,chw->khw", template, crop)
        x0, y0, x1, y1 = low[..., 0] - x_a, low[..., 1] - y_a, high[..., 0] - x_a, high[..., 1] - y_a
        fx, fy = frac[..., 0], frac[..., 1]
        w00, w10, w01, w11 = (1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy
        squared = (w00.square() * norm[y0, x0] + w10.square() * norm[y0, x1] + w01.square() * norm[y1, x0]
                   + w11.square() * norm[y1, x1]
                   + 2 * (w00 * w10 * right[y0, x0] + w01 * w11 * right[y1, x0] + w00 * w01 * down[y0, x0]
                          + w10 * w11 * down[y0, x1] + w00 * w11 * diagonal[y0, x0]
                          + w10 * w01 * anti_diagonal[y0, x0]))
        k = torch.arange(len(template), device=reads.device).expand_as(x0)
        dot = w00 * cross[k, y0, x0] + w10 * cross[k, y0, x1] + w01 * cross[k, y1, x0] + w11 * cross[k, y1, x1]
        distances.append((squared - 2 * dot + template.square().sum(-1)).mean(dim=-1))
    return torch.stack(distances)
