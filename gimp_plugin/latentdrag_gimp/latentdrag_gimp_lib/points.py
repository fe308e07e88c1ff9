"""Drag points from GIMP path strokes.

A GIMP Bézier stroke is a flat list of control-anchor-control triples: `[c0x, c0y, ax, ay, c1x, c1y, ...]`.
Each stroke of the chosen path is one drag pair: its first anchor is the handle, its last anchor the
target. Path coordinates are image coordinates; the engine wants coordinates in the layer, so the layer's
offsets are subtracted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

POINT_VALUES_PER_ANCHOR = 6  # control (x, y), anchor (x, y), control (x, y)
ANCHOR_X_INDEX = 2


class DragPointsError(ValueError):
    """The path cannot be turned into drag points; the message tells the user what to fix."""


@dataclass(frozen=True)
class DragPair:
    handle: tuple[float, float]
    target: tuple[float, float]


def stroke_anchors(control_points: Sequence[float]) -> list[tuple[float, float]]:
    """The on-curve anchors of a Bézier stroke, in order."""
    if len(control_points) % POINT_VALUES_PER_ANCHOR:
        raise DragPointsError(
            f"stroke has {len(control_points)} coordinates, expected a multiple of {POINT_VALUES_PER_ANCHOR} "
            "(control-anchor-control triples)")
    return [(float(control_points[i]), float(control_points[i + 1]))
            for i in range(ANCHOR_X_INDEX, len(control_points), POINT_VALUES_PER_ANCHOR)]


def pairs_from_strokes(strokes: Sequence[Sequence[float]], path_name: str, layer_offsets: tuple[int, int],
                       layer_size: tuple[int, int]) -> list[DragPair]:
    """One drag pair per stroke, in layer coordinates.

    Raises DragPointsError for no strokes, a stroke with a single anchor (no target), a non-finite point,
    or a point outside the layer, naming the path and the stroke number (1-based, as a user counts).
    """
    if not strokes:
        raise DragPointsError(f'path "{path_name}" has no strokes: draw one stroke per drag, from the point '
                              "to move (first anchor) to where it should go (last anchor)")
    offset_x, offset_y = layer_offsets
    width, height = layer_size
    pairs = []
    for number, control_points in enumerate(strokes, start=1):
        anchors = stroke_anchors(control_points)
        if len(anchors) < 2:
            raise DragPointsError(f'stroke {number} of path "{path_name}" has only one anchor: add a second '
                                  "anchor where the point should move to")
        handle, target = ((x - offset_x, y - offset_y) for x, y in (anchors[0], anchors[-1]))
        for role, (x, y) in (("handle", handle), ("target", target)):
            if not (math.isfinite(x) and math.isfinite(y)):
                raise DragPointsError(f'stroke {number} of path "{path_name}": {role} is not a finite point')
            if not (0 <= x <= width and 0 <= y <= height):
                raise DragPointsError(
                    f'stroke {number} of path "{path_name}": {role} ({x:.1f}, {y:.1f}) lies outside the '
                    f"layer ({width}×{height} in layer coordinates)")
        pairs.append(DragPair(handle=handle, target=target))
    return pairs


def stroke_points_for_pair(handle: tuple[float, float], target: tuple[float, float]) -> list[float]:
    """Bézier control points for a straight stroke from handle to target (used to draw points in scripts)."""
    hx, hy = handle
    tx, ty = target
    return [hx, hy] * 3 + [tx, ty] * 3
