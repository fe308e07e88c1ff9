"""Helpers shared by the service tests: a tiny model, an in-process engine, PNG round trips."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.models.native import save_native
from engine.models.stylegan2 import Generator, StyleGAN2Config
from engine.service.config import ServiceConfig
from engine.service.server import EngineServer

TINY_RESOLUTION = 32
FAST_INVERSION = {"w_steps": 4, "w_plus_steps": 4, "w_avg_samples": 200}


def write_tiny_model(path: Path) -> Path:
    torch.manual_seed(0)
    cfg = StyleGAN2Config.from_base(TINY_RESOLUTION, channel_base=512, channel_max=32, z_dim=32, w_dim=32,
                                    mapping_layers=2)
    save_native(path, Generator(cfg).eval(), name="tiny", license="test-only")
    return path


def start_engine(tiny_model: Path, tmp_path: Path, **overrides) -> EngineServer:
    settings = dict(listen="127.0.0.1:0", device="cpu", model_path=tiny_model, inversion_overrides=FAST_INVERSION,
                    direction_samples=500, directions_cache_dir=tmp_path / "directions")
    settings.update(overrides)
    return EngineServer(ServiceConfig(**settings)).start()


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
