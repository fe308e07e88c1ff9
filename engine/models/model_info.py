"""What a loaded model file is: the networks plus descriptive metadata.

Kept apart from the loaders so that both the native and the pickle reader can return the same records.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .stylegan2 import Discriminator, Generator, StyleGAN2Config


# Drag settings a model file may recommend in place of the published ones (`drag_defaults` in the
# metadata; see engine.edit.drag): the best values depend on the model, so its author can tune them.
DRAG_DEFAULT_FIELDS = {"optimize_rows": int, "lr": float, "r1": float, "motion_anchor": float,
                       "template_anchor": float, "track_patch": float}
FRACTION_FIELDS = {"motion_anchor", "template_anchor"}  # weights in [0, 1] (see engine.edit.motion); the rest must be positive


def validate_drag_defaults(value: object) -> dict:
    """A checked copy of a model's `drag_defaults`; ValueError names the bad key and why."""
    if not isinstance(value, dict):
        raise ValueError(f"drag_defaults must be a JSON object, got {type(value).__name__}")
    checked = {}
    for key, item in value.items():
        kind = DRAG_DEFAULT_FIELDS.get(key)
        if kind is None:
            raise ValueError(f"drag_defaults has unknown key {key!r} (allowed: {sorted(DRAG_DEFAULT_FIELDS)})")
        is_number = isinstance(item, (int, float)) and not isinstance(item, bool)
        if key in FRACTION_FIELDS:
            if not is_number or not 0 <= item <= 1:
                raise ValueError(f"drag_defaults.{key} must be a number in [0, 1], got {item!r}")
        elif not is_number or (kind is int and not float(item).is_integer()) or not math.isfinite(item) or item <= 0:
            raise ValueError(f"drag_defaults.{key} must be a positive {kind.__name__}, got {item!r}")
        checked[key] = kind(item)
    return checked


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
    drag_defaults: dict = field(default_factory=dict)  # validated by validate_drag_defaults

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
            "format": self.source_format, "drag_defaults": dict(self.drag_defaults),
        }


@dataclass
class LoadedModel:
    """A model file's networks (G ready for inference, D when the file has one) and metadata."""
    G: Generator
    D: Discriminator | None
    meta: ModelInfo
    path: Path
