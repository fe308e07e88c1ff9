"""Put an edited crop back into the user's layer, touching only what the edit changed.

The generator never reproduces a real photo exactly, so pasting its whole output would alter every
pixel of the window. Instead the change mask comes from the generator's own before/after pair:
where the edit did not move the output, the layer keeps its original bytes (bit-identical); where it
did, the edited pixels are blended in through a soft, feathered mask.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .region import Region, as_rgba, resample

CompositeMode = Literal["replace", "delta", "raw"]
COMPOSITE_MODES = ("replace", "delta", "raw")


def _gaussian_blur(plane: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a `[1, 1, H, W]` plane (zero padding, so edges fade)."""
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=plane.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    plane = F.conv2d(plane, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return F.conv2d(plane, kernel.view(1, 1, -1, 1), padding=(radius, 0))


def change_mask(before: torch.Tensor, edited: torch.Tensor, low: float = 0.02, high: float = 0.08,
                grow: int = 1, feather: float = 1.0) -> torch.Tensor:
    """Soft `[R, R]` mask in [0, 1] of where `edited` differs from `before` (both `[1, 3, R, R]`).

    Differences are in the generator's [-1, 1] units (max over channels): below `low` counts as
    unchanged, above `high` as fully changed. The mask is then grown by `grow` pixels and blurred with
    a Gaussian of `feather` pixels so the blend has no hard seam.
    """
    if before.shape != edited.shape or before.ndim != 4 or before.shape[:2] != (1, 3):
        raise ValueError(f"before and edited must both be [1, 3, R, R], got {list(before.shape)} and "
                         f"{list(edited.shape)}")
    if not 0 <= low < high:
        raise ValueError(f"need 0 <= low < high, got low={low}, high={high}")
    if grow < 0 or feather < 0:
        raise ValueError(f"grow and feather must be >= 0, got grow={grow}, feather={feather}")
    diff = (edited.detach().float().cpu() - before.detach().float().cpu()).abs().amax(dim=1, keepdim=True)
    mask = ((diff - low) / (high - low)).clamp(0, 1)
    if grow:
        mask = F.max_pool2d(mask, kernel_size=2 * grow + 1, stride=1, padding=grow)
    if feather:
        mask = _gaussian_blur(mask, feather)
    return mask[0, 0].clamp(0, 1)


def _to_layer_pixels(crop: torch.Tensor, size: int) -> torch.Tensor:
    """`[1, 3, R, R]` in [-1, 1] → `[size, size, 3]` float in 0–255."""
    up = resample(crop.detach().float().cpu(), size)
    return ((up[0].permute(1, 2, 0) + 1) * 127.5).clamp(0, 255)


def composite(original_rgba: np.ndarray, region: Region, before_crop: torch.Tensor,
              edited_crop: torch.Tensor, *, mode: CompositeMode = "replace", low: float = 0.02,
              high: float = 0.08, grow: int = 1, feather: float = 1.0,
              limit_to_selection: bool = True) -> np.ndarray:
    """Full-size RGBA layer with the edit applied; bit-identical wherever the edit changed nothing.

    - `before_crop` / `edited_crop`: the generator's output for the crop before and after the edit.
    - `mode`: "replace" blends the edited generator pixels in; "delta" adds only the change
      (edited − before) to the original pixels, keeping detail the generator could not reproduce;
      "raw" pastes the edited output over the whole window without any mask.
    - `low`, `high`, `grow`, `feather`: the change mask (see `change_mask`), in model pixels.
    - `limit_to_selection`: also multiply the mask by the region's selection.
    Alpha always comes from the original layer.
    """
    rgba = as_rgba(original_rgba, "original_rgba")
    if rgba.shape[:2] != (region.layer_height, region.layer_width):
        raise ValueError(f"original_rgba is {rgba.shape[1]}x{rgba.shape[0]} but the region was cut from a "
                         f"{region.layer_width}x{region.layer_height} layer")
    if mode not in COMPOSITE_MODES:
        raise ValueError(f"mode must be one of {COMPOSITE_MODES}, got {mode!r}")
    res = region.resolution
    for name, crop in (("before_crop", before_crop), ("edited_crop", edited_crop)):
        if tuple(crop.shape) != (1, 3, res, res):
            raise ValueError(f"{name} must have shape [1, 3, {res}, {res}], got {list(crop.shape)}")

    out = rgba.copy()
    layer_rows, layer_cols, win_rows, win_cols = region.layer_slices()
    edited = _to_layer_pixels(edited_crop, region.size)[win_rows, win_cols]
    if mode == "raw":
        out[layer_rows, layer_cols, :3] = edited.round().to(torch.uint8).numpy()
        return out

    mask = change_mask(before_crop, edited_crop, low, high, grow, feather)
    mask = F.interpolate(mask[None, None], size=(region.size, region.size), mode="bilinear",
                         align_corners=False)[0, 0][win_rows, win_cols]
    if limit_to_selection and region.window_selection is not None:
        # At layer resolution, so nothing outside the selection can change (an up-sampled
        # model-resolution selection would bleed up to a model pixel past its edge).
        selection = torch.from_numpy(region.window_selection[win_rows, win_cols].astype(np.float32) / 255)
        mask = mask * selection
    # Weights below half a grey level cannot change a byte: make them exactly 0 (and near-1 exactly 1).
    mask = torch.where(mask < 0.5 / 255, 0.0, torch.where(mask > 1 - 0.5 / 255, 1.0, mask))[..., None]

    original = torch.from_numpy(rgba[layer_rows, layer_cols, :3].astype(np.float32))
    if mode == "replace":
        blended = original + mask * (edited - original)
    else:
        before = _to_layer_pixels(before_crop, region.size)[win_rows, win_cols]
        blended = original + mask * (edited - before)
    blended = blended.round().clamp(0, 255).to(torch.uint8).numpy()
    touched = (mask[..., 0] > 0).numpy()
    out[layer_rows, layer_cols, :3] = np.where(touched[..., None], blended, rgba[layer_rows, layer_cols, :3])
    return out
