"""The GIMP selection as the engine's editable region: a box and a grey mask in layer coordinates."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .points import DragPair

MASK_FORMAT = "Y u8"  # babl format of the selection mask as read from GIMP: one byte per pixel


class SelectionError(ValueError):
    """The selection cannot be used as the editable region; the message says why."""


@dataclass(frozen=True)
class LayerRegion:
    """The editable part of the layer: `box` (x, y, width, height) in layer pixels and the selection's
    coverage (0..255 per pixel) over the whole layer, row-major."""
    box: tuple[int, int, int, int]
    mask: bytes


def selection_box_in_layer(bounds: tuple[int, int, int, int], layer_offsets: tuple[int, int],
                           layer_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Selection bounds (x1, y1, x2, y2) in image coordinates → (x, y, width, height) inside the layer.

    Raises SelectionError when the selection misses the layer entirely.
    """
    x1, y1, x2, y2 = bounds
    offset_x, offset_y = layer_offsets
    width, height = layer_size
    left, top = max(x1 - offset_x, 0), max(y1 - offset_y, 0)
    right, bottom = min(x2 - offset_x, width), min(y2 - offset_y, height)
    if right <= left or bottom <= top:
        raise SelectionError(f"the selection ({x1},{y1})–({x2},{y2}) does not overlap the layer "
                             f"({offset_x},{offset_y})–({offset_x + width},{offset_y + height}); "
                             "select part of the layer or Select → None")
    return left, top, right - left, bottom - top


def layer_region(mask: bytes, box: tuple[int, int, int, int], layer_size: tuple[int, int]) -> LayerRegion:
    """Check a selection mask read at the layer's size and pair it with its box."""
    width, height = layer_size
    if len(mask) != width * height:
        raise SelectionError(f"selection mask has {len(mask)} bytes, expected {width}×{height} = "
                             f"{width * height} for the layer")
    if mask.count(0) == len(mask):
        raise SelectionError("the selection is empty inside the layer; select the area that may change")
    return LayerRegion(box=box, mask=mask)


def points_outside_region(pairs: list[DragPair], region: Optional[LayerRegion]) -> list[str]:
    """Descriptions of handles/targets outside the selection box (empty when all are inside).

    The engine only edits the region it cropped around the selection, so a point outside it cannot move.
    """
    if region is None:
        return []
    x, y, width, height = region.box
    problems = []
    for number, pair in enumerate(pairs, start=1):
        for role, (px, py) in (("handle", pair.handle), ("target", pair.target)):
            if not (x <= px <= x + width and y <= py <= y + height):
                problems.append(f"stroke {number}: {role} ({px:.0f}, {py:.0f}) is outside the selection")
    return problems
