"""The small generator interface all editing code is written against.

Editing algorithms (drag, inversion, latent operations) take any object with these members, so they
never depend on a particular network class, file format or device.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from .stylegan2 import BlockInfo, SynthesisOutput


@runtime_checkable
class EditableGenerator(Protocol):
    """What an editing algorithm may use.

    - `mapping(z, c=None, truncation_psi=1, truncation_cutoff=None)` → ws `[N, num_ws, w_dim]`
    - `synthesize(ws, noise_mode, feature_block, stop_at_features)` → `SynthesisOutput` with
      `.features[feature_block]` and `.image` (None when stopped at the feature block, which skips
      every later block: a drag step needs only the features)
    - `blocks`: the synthesis blocks in order with their resolution and channels
    - `w_avg`, `num_ws`, `w_dim`, `z_dim`, `img_resolution`, `device`
    - optionally `drag_defaults`: drag settings the model recommends (`engine.edit.drag`)
    - optionally `prepare_pass(ws, free_rows, feature_block, dtype, image, prepare_held)` → a drag's
      differentiated pass built once per drag (`engine.models.prepared_pass`); without it a drag
      runs `synthesize` every step
    - `.to(device / dtype)` as for any `nn.Module`
    """

    z_dim: int
    w_dim: int
    num_ws: int
    img_resolution: int

    @property
    def w_avg(self) -> torch.Tensor: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def blocks(self) -> list[BlockInfo]: ...

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None) -> torch.Tensor: ...

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const", feature_block: str | None = None,
                   stop_at_features: bool = False) -> SynthesisOutput: ...

    def block_for_resolution(self, resolution: int) -> str: ...
