"""Turning generator output into pictures: seed → z, tensor → uint8 pixels, grids of samples.

Seeds follow NVIDIA's scripts (`np.random.RandomState(seed).randn(1, z_dim)`), so a seed shows the same
face here as in their tools for the same model.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

MAX_SEED = 2 ** 32 - 1


def z_for_seed(seed: int, z_dim: int) -> torch.Tensor:
    """Latent z [1, z_dim] (float32) for an integer seed in 0..2**32-1."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..{MAX_SEED}, got {seed}")
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim).astype(np.float32))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] or [C, H, W] in about [-1, 1] → uint8 [N, H, W, C] / [H, W, C] (NVIDIA's rounding)."""
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be [N, C, H, W] or [C, H, W], got shape {list(images.shape)}")
    pixels = (images.detach().to("cpu", torch.float32) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return pixels.movedim(-3, -1).numpy()


def to_pil(pixels: np.ndarray) -> Image.Image:
    """uint8 [H, W, 3|4|1] → PIL image."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ValueError(f"pixels must be uint8 [H, W, 1|3|4], got {pixels.dtype} {list(pixels.shape)}")
    return Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Tile [N, H, W, C] images row by row (default: a near-square grid); empty cells stay black."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty [N, H, W, C] array, got shape {list(images.shape)}")
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, c), dtype=images.dtype)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = image
    return grid


@torch.no_grad()
def render_seeds(G: torch.nn.Module, seeds: Sequence[int], psi: float = 1.0, truncation_cutoff: int | None = None,
                 noise_mode: str = "const", class_index: int | None = None, batch_size: int = 8) -> np.ndarray:
    """Render one image per seed → uint8 [N, H, W, 3]; conditional models need `class_index`."""
    if G.c_dim > 0 and class_index is None:
        raise ValueError(f"this model is conditional ({G.c_dim} classes): class_index is required")
    if class_index is not None and not 0 <= class_index < max(G.c_dim, 1):
        raise ValueError(f"class_index must be in 0..{G.c_dim - 1}, got {class_index}")
    device = next(G.parameters()).device
    out = []
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start:start + batch_size]
        z = torch.cat([z_for_seed(s, G.z_dim) for s in chunk]).to(device)
        c = None
        if G.c_dim > 0:
            c = torch.zeros([len(chunk), G.c_dim], device=device)
            c[:, class_index] = 1
        ws = G.mapping(z, c, truncation_psi=psi, truncation_cutoff=truncation_cutoff)
        out.append(to_uint8(G.synthesis(ws, noise_mode=noise_mode)))
    return np.concatenate(out)
