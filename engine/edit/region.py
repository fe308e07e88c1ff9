"""Cut the part of a layer a user wants to edit into the generator's square input, and map back.

A layer has any size; the generator wants a square image at its own resolution. `crop_region` takes
the smallest square around the selection (shifted to use real image context where the layer allows,
reflection-padded where it does not), resamples it to the model resolution, and keeps everything
needed to bring pixels and points back to layer coordinates.

Points are (x, y) floats in pixel-index units, as the drag API uses them: the centre of pixel (i, j)
is at (i, j) in both spaces. With the resampling's half-pixel alignment this makes layer pixel centre
x map to model (x + 0.5 - left) / scale - 0.5, and `model_to_layer(layer_to_model(p)) == p`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def as_rgba(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an RGB(A) uint8 image and return it as RGBA (alpha 255 added for RGB)."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{name} must have shape [H, W, 3] or [H, W, 4], got {list(image.shape)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} is empty ({image.shape[1]}x{image.shape[0]})")
    if image.shape[2] == 4:
        return image
    alpha = np.full(image.shape[:2] + (1,), 255, dtype=np.uint8)
    return np.concatenate([image, alpha], axis=2)


def resample(images: torch.Tensor, size: int) -> torch.Tensor:
    """Antialiased bicubic resize of `[N, C, h, w]` float images to `size`×`size`."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    antialias = size < max(images.shape[-2:])
    return F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False,
                         antialias=antialias)


@dataclass(frozen=True)
class Region:
    """A square window of a layer at model resolution, plus the way back.

    - `crop`: `[1, 3, R, R]` float in [-1, 1] — the generator's target.
    - `alpha`: `[R, R]` float in [0, 1] — the layer's alpha over the window (0 in padding).
    - `mask`: `[R, R]` float in [0, 1] — where editing is allowed (the selection; 0 in padding).
    - `left`, `top`, `size`: the square window in layer pixels; may extend past the layer edges,
      where the crop holds reflected pixels.
    - `layer_width`, `layer_height`: the layer's size.
    - `window_selection`: the selection over the window at layer resolution (uint8 0–255, `[size,
      size]`), or None when the whole layer may change. Compositing uses it so that the edit can never
      leak past the selection by the up-sampling of the model-resolution `mask`.
    """
    crop: torch.Tensor
    alpha: torch.Tensor
    mask: torch.Tensor
    left: int
    top: int
    size: int
    layer_width: int
    layer_height: int
    window_selection: np.ndarray | None = None

    @property
    def resolution(self) -> int:
        return int(self.crop.shape[-1])

    @property
    def scale(self) -> float:
        """Layer pixels per model pixel."""
        return self.size / self.resolution

    def layer_to_model(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """Layer pixel coordinates (x, y) → model pixel coordinates."""
        s = self.scale
        return [((x + 0.5 - self.left) / s - 0.5, (y + 0.5 - self.top) / s - 0.5) for x, y in points]

    def model_to_layer(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """Model pixel coordinates (x, y) → layer pixel coordinates."""
        s = self.scale
        return [(self.left + (x + 0.5) * s - 0.5, self.top + (y + 0.5) * s - 0.5) for x, y in points]

    def layer_slices(self) -> tuple[slice, slice, slice, slice]:
        """(layer rows, layer cols, window rows, window cols) of the window's overlap with the layer."""
        y0, x0 = max(self.top, 0), max(self.left, 0)
        y1 = min(self.top + self.size, self.layer_height)
        x1 = min(self.left + self.size, self.layer_width)
        return (slice(y0, y1), slice(x0, x1),
                slice(y0 - self.top, y1 - self.top), slice(x0 - self.left, x1 - self.left))


def _window_start(lo: int, hi: int, size: int, extent: int) -> int:
    """Start of a `size`-long window covering [lo, hi) inside [0, extent) when it fits, else centred."""
    if size >= extent:
        return (extent - size) // 2
    start = (lo + hi) // 2 - size // 2
    return min(max(start, 0), extent - size)


def _selection_box(box: tuple[int, int, int, int] | None, mask: np.ndarray | None,
                   width: int, height: int) -> tuple[int, int, int, int]:
    if box is not None:
        if len(box) != 4:
            raise ValueError(f"box must be (left, top, right, bottom), got {box!r}")
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"box {tuple(box)} has no area inside the {width}x{height} layer")
        return x0, y0, x1, y1
    if mask is not None:
        ys, xs = np.nonzero(mask > 0)
        if len(xs) == 0:
            raise ValueError("mask selects nothing (all zero)")
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    return 0, 0, width, height


def _check_mask(mask: np.ndarray | None, width: int, height: int) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != (height, width):
        raise ValueError(f"mask must have the layer's shape [{height}, {width}], got {list(mask.shape)}")
    if mask.dtype == np.uint8:
        return mask.astype(np.float32) / 255.0
    mask = mask.astype(np.float32)
    if not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise ValueError("mask must be uint8, bool, or float in [0, 1]")
    return mask


def crop_region(image: np.ndarray, resolution: int, box: tuple[int, int, int, int] | None = None,
                mask: np.ndarray | None = None, margin: float = 0.0) -> Region:
    """Square crop of `image` (uint8 RGB(A) `[H, W, C]`) around the selection, at `resolution`.

    `box` is (left, top, right, bottom) in layer pixels (right/bottom exclusive); `mask` is an
    `[H, W]` selection (uint8 0–255, bool or float 0–1). With neither, the whole layer is the
    selection. `margin` widens the square by that fraction of its side (context around a tight
    selection). The editable `mask` of the result is the selection (the box, or the mask inside it).
    """
    rgba = as_rgba(image)
    height, width = rgba.shape[:2]
    if not isinstance(resolution, int) or resolution < 4:
        raise ValueError(f"resolution must be an int >= 4, got {resolution!r}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    sel = _check_mask(mask, width, height)
    x0, y0, x1, y1 = _selection_box(box, sel, width, height)
    size = int(np.ceil(max(x1 - x0, y1 - y0) * (1 + margin)))
    left = _window_start(x0, x1, size, width)
    top = _window_start(y0, y1, size, height)

    pad_top, pad_left = max(-top, 0), max(-left, 0)
    pad = ((pad_top, max(top + size - height, 0)), (pad_left, max(left + size - width, 0)))
    rows = slice(top + pad_top, top + pad_top + size)
    cols = slice(left + pad_left, left + pad_left + size)
    # Reflection (no repeated edge pixel) needs at least 2 pixels along each axis.
    mode = "reflect" if min(height, width) > 1 else "edge"
    window = np.pad(rgba, pad + ((0, 0),), mode=mode)[rows, cols]
    rgb = torch.from_numpy(np.ascontiguousarray(window[..., :3])).permute(2, 0, 1)[None].float() / 255.0

    editable = np.zeros((height, width), dtype=np.float32)
    editable[y0:y1, x0:x1] = 1.0 if sel is None else sel[y0:y1, x0:x1]
    editable = np.pad(editable, pad, mode="constant")[rows, cols]
    in_layer = np.pad(np.ones((height, width), dtype=np.float32), pad, mode="constant")[rows, cols]
    planes = torch.from_numpy(np.stack([editable, in_layer * window[..., 3] / 255.0]))[None]

    small = resample(torch.cat([rgb, planes], dim=1), resolution).clamp(0, 1)
    whole_layer = sel is None and (x0, y0, x1, y1) == (0, 0, width, height)
    window_selection = None if whole_layer else np.round(editable * 255).astype(np.uint8)
    return Region(crop=small[:, :3] * 2 - 1, alpha=small[0, 4], mask=small[0, 3], left=left, top=top,
                  size=size, layer_width=width, layer_height=height, window_selection=window_selection)
