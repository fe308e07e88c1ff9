"""What a loaded model file is: the networks plus descriptive metadata.

Kept apart from the loaders so that both the native and the pickle reader can return the same records.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .stylegan2 import Discriminator, Generator, StyleGAN2Config


@dataclass
class ModelInfo:
    """Descriptive metadata of a model file (what `latentdrag models` shows)."""
    name: str
    architecture: str
    config: StyleGAN2Config
    description: str = ""
    provenance: str = ""
    license: str = ""
    source_format: str = "safetensors"  # "safetensors" | "nvidia-pickle"
    has_discriminator: bool = False

    @property
    def resolution(self) -> int:
        return self.config.img_resolution

    @property
    def num_ws(self) -> int:
        # One w per conv layer plus one for the last ToRGB: 2 per block from 8 px up, 2 for b4.
        return 2 * (int(math.log2(self.config.img_resolution)) - 1)

    def summary_dict(self) -> dict:
        """Flat JSON-friendly view for listings."""
        cfg = self.config
        return {
            "name": self.name, "architecture": self.architecture, "resolution": self.resolution,
            "z_dim": cfg.z_dim, "w_dim": cfg.w_dim, "c_dim": cfg.c_dim, "num_ws": self.num_ws,
            "conv_clamp": cfg.conv_clamp, "has_discriminator": self.has_discriminator,
            "license": self.license, "description": self.description, "provenance": self.provenance,
            "format": self.source_format,
        }


@dataclass
class LoadedModel:
    """A model file's networks (G ready for inference, D when the file has one) and metadata."""
    G: Generator
    D: Discriminator | None
    meta: ModelInfo
    path: Path
