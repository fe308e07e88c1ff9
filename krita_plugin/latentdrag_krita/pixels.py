"""Pixel conversions between Krita layers and the engine, and selection → mask.

The engine speaks 8-bit straight-alpha RGBA. Krita's `pixelData` gives RGBA layers as B,G,R,A (U8, and U16
little-endian) or R,G,B,A (F16/F32 half/single floats). Integer layers are converted exactly both ways;
other colour models and float depths are refused with a message that says how to convert them, because a
float layer's linear-light profile would need a colour-managed conversion that this plugin does not do.
Pure Python (no numpy in Krita's interpreter): slice assignment on bytearrays keeps it fast.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SUPPORTED_DEPTHS = {"U8": 1, "U16": 2}


class PixelFormatError(ValueError):
    """The layer's colour model or depth cannot be sent to the engine."""


@dataclass(frozen=True)
class LayerFormat:
    color_model: str
    color_depth: str

    @property
    def bytes_per_channel(self) -> int:
        return SUPPORTED_DEPTHS[self.color_depth]


def check_format(color_model: str, color_depth: str) -> LayerFormat:
    """Accept RGBA U8/U16; refuse everything else with the menu path that fixes it."""
    if color_model != "RGBA" or color_depth not in SUPPORTED_DEPTHS:
        raise PixelFormatError(
            f"the layer is {color_model}/{color_depth}; Latent Drag works on RGB/Alpha 8- or 16-bit integer "
            "layers. Convert it with Image → Convert Image Color Space… (RGB/Alpha, 8-bit integer/channel).")
    return LayerFormat(color_model, color_depth)


def _check_size(data: bytes, width: int, height: int, bytes_per_pixel: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"{what}: width and height must be positive, got {width} x {height}")
    expected = width * height * bytes_per_pixel
    if len(data) != expected:
        raise ValueError(f"{what}: expected {expected} bytes for {width} x {height} px, got {len(data)}")


def _swap_red_blue(pixels: bytes) -> bytearray:
    """BGRA ↔ RGBA for 4-byte pixels (the same swap both ways)."""
    src = bytes(pixels)
    out = bytearray(src)
    out[0::4] = src[2::4]
    out[2::4] = src[0::4]
    return out


def layer_to_rgba8(data: bytes, width: int, height: int, fmt: LayerFormat) -> bytes:
    """Krita `pixelData` bytes → straight RGBA U8, row-major, no padding."""
    bpc = fmt.bytes_per_channel
    _check_size(data, width, height, 4 * bpc, "layer pixels")
    if bpc == 2:
        # Little-endian U16 → U8 with rounding: (v * 255 + 32767) // 65535 equals round(v / 257).
        wide = memoryview(bytes(data)).cast("H")
        data = bytes((v * 255 + 32767) // 65535 for v in wide)
    return bytes(_swap_red_blue(data))


def rgba8_to_layer(rgba: bytes, width: int, height: int, fmt: LayerFormat) -> bytes:
    """Straight RGBA U8 → bytes for Krita `setPixelData` in the layer's depth."""
    _check_size(rgba, width, height, 4, "result pixels")
    bgra = _swap_red_blue(rgba)
    if fmt.bytes_per_channel == 1:
        return bytes(bgra)
    # U8 → U16 by v * 257 (0 → 0, 255 → 65535), little-endian: low byte and high byte are both v.
    wide = bytearray(2 * len(bgra))
    wide[0::2] = bgra
    wide[1::2] = bgra
    return bytes(wide)


@dataclass(frozen=True)
class Mask:
    """Selection coverage over the source image, one byte per pixel (0 = keep, 255 = may change)."""

    data: bytes
    width: int
    height: int
    box: tuple[int, int, int, int]  # x, y, w, h of the selected pixels within the image


def selection_to_mask(selection: bytes, width: int, height: int) -> Mask | None:
    """Krita selection bytes (already read over the source image's rectangle) → Mask.

    None when nothing in the rectangle is selected, so the caller can say that the selection misses the
    layer instead of sending an all-zero mask.
    """
    _check_size(selection, width, height, 1, "selection")
    data = bytes(selection)
    rows = [y for y in range(height) if data[y * width:(y + 1) * width].strip(b"\x00")]
    if not rows:
        return None
    left, right = width, 0
    for y in rows:
        row = data[y * width:(y + 1) * width]
        stripped_left = len(row) - len(row.lstrip(b"\x00"))
        stripped_right = len(row.rstrip(b"\x00"))
        left = min(left, stripped_left)
        right = max(right, stripped_right)
    top, bottom = rows[0], rows[-1] + 1
    return Mask(data, width, height, (left, top, right - left, bottom - top))


def clip_box(box: tuple[int, int, int, int], bounds: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """The part of `box` inside `bounds` (both x, y, w, h), or None when they do not overlap."""
    left, top = max(box[0], bounds[0]), max(box[1], bounds[1])
    right = min(box[0] + box[2], bounds[0] + bounds[2])
    bottom = min(box[1] + box[3], bounds[1] + bounds[3])
    if right <= left or bottom <= top:
        return None
    return (left, top, right - left, bottom - top)


def crop_rgba(rgba: bytes, width: int, height: int, box: tuple[int, int, int, int]) -> bytes:
    """The pixels of `box` (x, y, w, h, inside the image) from RGBA U8 rows."""
    _check_size(rgba, width, height, 4, "image pixels")
    x, y, w, h = box
    if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
        raise ValueError(f"crop box {box} is not inside the {width} x {height} image")
    return b"".join(rgba[4 * ((y + row) * width + x):4 * ((y + row) * width + x + w)] for row in range(h))


_RUNS = re.compile(rb"\x00+|\xff+|[\x01-\xfe]+")


def restrict_to_selection(source: bytes, result: bytes, mask: Mask) -> bytes:
    """The result where the selection is full, the source where it is empty, blended in between.

    Krita users expect unselected pixels to stay exactly as they were, whatever the engine returns (its
    composite works at model resolution and can bleed a pixel past the selection edge). Works on runs of
    equal coverage so that a hard-edged selection costs a few slice copies per row.
    """
    width, height = mask.width, mask.height
    _check_size(source, width, height, 4, "source pixels")
    _check_size(result, width, height, 4, "result pixels")
    out = bytearray(result)
    for y in range(height):
        row = mask.data[y * width:(y + 1) * width]
        for run in _RUNS.finditer(row):
            start, end = 4 * (y * width + run.start()), 4 * (y * width + run.end())
            coverage = run.group()
            if coverage[0] == 0:
                out[start:end] = source[start:end]
            elif coverage[0] != 255:
                for i, weight in enumerate(coverage):
                    base = start + 4 * i
                    for c in range(base, base + 4):
                        out[c] = (source[c] * (255 - weight) + result[c] * weight + 127) // 255
    return bytes(out)
