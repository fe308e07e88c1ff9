"""Bilinear reads of a feature map at image-pixel positions.

Points are image pixels (x, y) with pixel centres at integer coordinates. Any feature map that
covers the whole image (the block's own low-resolution map, or one upsampled to image size) is read
with the same normalised coordinates, so point work never needs an upsampled copy of the map.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def image_to_grid(points: torch.Tensor, image_resolution: int) -> torch.Tensor:
    """Image pixel (x, y) → `grid_sample` coordinates in [-1, 1] (align_corners=False convention)."""
    return (2 * points + 1) / image_resolution - 1


def sample_features(features: torch.Tensor, points: torch.Tensor, image_resolution: int) -> torch.Tensor:
    """Feature vectors at `points` ([..., 2] image px) from `features` [1, C, h, w] → [..., C].

    Reads only the requested points (bilinear, border-clamped like an upsampled map would be).
    """
    batch_shape = points.shape[:-1]
    grid = image_to_grid(points, image_resolution).reshape(1, -1, 1, 2).to(features.dtype)
    sampled = F.grid_sample(features, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[0, :, :, 0].transpose(0, 1).reshape(*batch_shape, features.shape[1])


def disk_offsets(radius: float, spacing: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Offsets [K, 2] on a grid of `spacing` px that lie within `radius` of the origin (origin included)."""
    n = int(math.floor(radius / spacing + 1e-9))
    axis = torch.arange(-n, n + 1, dtype=torch.float32, device=device) * spacing
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    offsets = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    return offsets[offsets.norm(dim=1) <= radius + 1e-6]


def square_offsets(half_size: float, spacing: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Offsets [K, 2] on a grid of `spacing` px filling the square of half-size `half_size`."""
    n = int(math.floor(half_size / spacing + 1e-9))
    axis = torch.arange(-n, n + 1, dtype=torch.float32, device=device) * spacing
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def upsample_to_image(features: torch.Tensor, image_resolution: int) -> torch.Tensor:
    """Full-resolution bilinear upsampling, as DragGAN's reference does every step (the "published"
    preset's baseline cost)."""
    return F.interpolate(features, size=(image_resolution, image_resolution), mode="bilinear",
                         align_corners=False)

