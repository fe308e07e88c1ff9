"""A pre-generated pool of teacher samples: (z, image) pairs on disk.

A teacher forward pass costs about a third of a distillation step, so the pool is made once (in
resumable chunks) and training reads random batches from it. Files in the pool directory:
`z.npy` float32 [N, 100], `images.npy` uint8 [N, 64, 64, 3], `progress.json` {"done": n} while building.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .teacher import TEACHER_RESOLUTION, TEACHER_Z_DIM

POOL_CHUNK = 1024


def images_to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, 3, H, W] in [-1, 1] → uint8 [N, H, W, 3]."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def uint8_to_images(pixels: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] → float [N, 3, H, W] in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).to(torch.float32)
    return x / 127.5 - 1


class TeacherPool:
    """Random access to the pool's pairs; batches come back as training tensors."""

    def __init__(self, z: np.ndarray, images: np.ndarray):
        if len(z) != len(images) or len(z) == 0:
            raise ValueError(f"pool z ({len(z)}) and images ({len(images)}) must be equally long and non-empty")
        self.z, self.images = z, images

    def __len__(self) -> int:
        return len(self.z)

    @property
    def z_dim(self) -> int:
        return self.z.shape[1]

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Sorted reads are friendlier to a memory-mapped file; the order within a batch is irrelevant.
        idx = np.sort(indices.numpy())
        return torch.from_numpy(np.array(self.z[idx])), uint8_to_images(self.images[idx])

    @classmethod
    def open(cls, pool_dir: Path) -> "TeacherPool":
        pool_dir = Path(pool_dir)
        if (pool_dir / "progress.json").exists() or not (pool_dir / "images.npy").exists():
            raise FileNotFoundError(f"teacher pool in {pool_dir} is missing or incomplete")
        return cls(np.load(pool_dir / "z.npy", mmap_mode="r"), np.load(pool_dir / "images.npy", mmap_mode="r"))


@torch.no_grad()
def build_pool(pool_dir: Path, teacher: nn.Module, size: int, seed: int,
               log: Callable[[str], None] = print) -> TeacherPool:
    """Fill the pool in chunks, resuming after the last finished chunk. z for chunk k is drawn from
    a generator seeded with (seed, k), so the pool is the same however often it was interrupted."""
    pool_dir = Path(pool_dir)
    pool_dir.mkdir(parents=True, exist_ok=True)
    progress_path = pool_dir / "progress.json"
    z_path, img_path = pool_dir / "z.npy", pool_dir / "images.npy"
    if not progress_path.exists() and img_path.exists():
        pool = TeacherPool.open(pool_dir)
        if len(pool) != size:
            raise ValueError(f"existing pool in {pool_dir} has {len(pool)} samples, asked for {size}")
        return pool
    if progress_path.exists():
        done = json.loads(progress_path.read_text())["done"]
        z_all = np.load(z_path, mmap_mode="r+")
        img_all = np.load(img_path, mmap_mode="r+")
        if len(z_all) != size:
            raise ValueError(f"partial pool in {pool_dir} is for {len(z_all)} samples, asked for {size}")
    else:
        done = 0
        res = TEACHER_RESOLUTION
        z_all = np.lib.format.open_memmap(z_path, mode="w+", dtype=np.float32, shape=(size, TEACHER_Z_DIM))
        img_all = np.lib.format.open_memmap(img_path, mode="w+", dtype=np.uint8, shape=(size, res, res, 3))
        progress_path.write_text(json.dumps({"done": 0}))
    while done < size:
        chunk = done // POOL_CHUNK
        n = min(POOL_CHUNK, size - done)
        rng = torch.Generator().manual_seed(seed * 1_000_003 + chunk)
        z = torch.randn([n, TEACHER_Z_DIM], generator=rng)
        z_all[done:done + n] = z.numpy()
        img_all[done:done + n] = images_to_uint8(teacher(z))
        z_all.flush()
        img_all.flush()
        done += n
        tmp = progress_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"done": done}))
        os.replace(tmp, progress_path)
        log(f"teacher pool: {done}/{size}")
    del z_all, img_all
    progress_path.unlink()
    return TeacherPool.open(pool_dir)
