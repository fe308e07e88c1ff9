"""Drag pairs from the lines on the "Drag points" vector layer.

Krita stores vector shapes in points (1/72 inch) relative to the shape, with a separate transform. Each line
the user draws is one pair: its first point is the handle, its last point the target. Only the path's `d`
is parsed (the transform comes from `shape.transformation()`), so this works for straight lines, curves
and lines with arrow heads alike. Pure Python: tested without Krita.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

Point = tuple[float, float]
# QTransform as (m11, m12, m21, m22, dx, dy): x' = m11*x + m21*y + dx, y' = m12*x + m22*y + dy.
Affine = tuple[float, float, float, float, float, float]
IDENTITY: Affine = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
POINTS_PER_INCH = 72.0
# A handle and target closer than this (in pixels) is almost certainly a click, not a drag.
MIN_PAIR_LENGTH_PX = 0.5

_TOKEN = re.compile(r"[MmLlHhVvCcSsQqTtAaZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARG_COUNTS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}


class GeometryError(ValueError):
    """A shape on the drag-points layer cannot be read as a handle → target line."""


@dataclass(frozen=True)
class ShapeInfo:
    """What the plugin reads from one Krita vector shape (collected on the GUI thread)."""

    name: str
    shape_type: str
    svg: str
    transform: Affine = IDENTITY


@dataclass(frozen=True)
class DragPair:
    handle: Point
    target: Point


def path_endpoints(d: str) -> tuple[Point, Point]:
    """First and last point of an SVG path `d` attribute, in the path's own coordinates."""
    tokens = _TOKEN.findall(d)
    if not tokens:
        raise GeometryError("the path has no points")
    first: Point | None = None
    current: Point = (0.0, 0.0)
    subpath_start: Point = (0.0, 0.0)
    command = ""
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.isalpha():
            command = token
            index += 1
        elif not command:
            raise GeometryError(f"the path data starts with a number: {d[:40]!r}")
        upper = command.upper()
        relative = command.islower()
        count = _ARG_COUNTS[upper]
        args = tokens[index:index + count]
        if len(args) < count or any(arg.isalpha() for arg in args):
            raise GeometryError(f"the path command {command!r} is missing numbers: {d[:60]!r}")
        values = [float(arg) for arg in args]
        index += count
        base_x, base_y = current if relative else (0.0, 0.0)
        if upper == "Z":
            current = subpath_start
        elif upper == "H":
            current = (values[0] + base_x, current[1])
        elif upper == "V":
            current = (current[0], values[0] + base_y)
        else:
            current = (values[-2] + base_x, values[-1] + base_y)
        if upper == "M":
            subpath_start = current
            # Further coordinate pairs after a moveto are implicit linetos.
            command = "l" if relative else "L"
        if first is None:
            if upper != "M":
                raise GeometryError("the path does not start with a move-to")
            first = current
        if upper == "Z" and index < len(tokens) and not tokens[index].isalpha():
            raise GeometryError("numbers follow a close-path command")
    assert first is not None
    return first, current


def apply_affine(transform: Affine, point: Point) -> Point:
    m11, m12, m21, m22, dx, dy = transform
    x, y = point
    return (m11 * x + m21 * y + dx, m12 * x + m22 * y + dy)


_PATH_D = re.compile(r"<path\b[^>]*?\sd\s*=\s*(\"[^\"]*\"|'[^']*')", re.S)


def path_data_from_svg(svg: str) -> list[str]:
    """The `d` attributes of every <path> in a shape's SVG."""
    return [match.group(1)[1:-1] for match in _PATH_D.finditer(svg)]


def shape_to_pair(shape: ShapeInfo, x_res: float, y_res: float, layer_offset: Point = (0.0, 0.0)) -> DragPair:
    """One shape → a pair in document pixels.

    `x_res`/`y_res` are the document's pixels per inch (`Document.xRes()`), `layer_offset` the vector
    layer's `position()` in pixels.
    """
    label = f"shape {shape.name!r}" if shape.name else f"a {shape.shape_type or 'vector'} shape"
    if x_res <= 0 or y_res <= 0 or not all(map(math.isfinite, (x_res, y_res))):
        raise GeometryError(f"the document resolution must be positive, got {x_res} x {y_res} ppi")
    paths = path_data_from_svg(shape.svg)
    if not paths:
        raise GeometryError(f"{label} is not a line; draw the drag points with the line or path tool")
    if len(paths) > 1:
        raise GeometryError(f"{label} holds {len(paths)} paths; draw one line per drag point")
    try:
        start, end = path_endpoints(paths[0])
    except GeometryError as exc:
        raise GeometryError(f"{label}: {exc}") from None
    scale_x, scale_y = x_res / POINTS_PER_INCH, y_res / POINTS_PER_INCH

    def to_pixels(point: Point) -> Point:
        x, y = apply_affine(shape.transform, point)
        return (x * scale_x + layer_offset[0], y * scale_y + layer_offset[1])

    pair = DragPair(to_pixels(start), to_pixels(end))
    if math.dist(pair.handle, pair.target) < MIN_PAIR_LENGTH_PX:
        raise GeometryError(f"{label} starts and ends at the same place; draw a line from handle to target")
    return pair


def pairs_from_shapes(shapes: list[ShapeInfo], x_res: float, y_res: float,
                      layer_offset: Point = (0.0, 0.0)) -> list[DragPair]:
    """All pairs on the drag-points layer, in drawing order."""
    if not shapes:
        raise GeometryError("the drag-points layer is empty; draw a line from each handle to its target")
    return [shape_to_pair(shape, x_res, y_res, layer_offset) for shape in shapes]


def to_local(pairs: list[DragPair], origin: Point) -> list[DragPair]:
    """Document pixels → pixels of an image whose top-left corner sits at `origin` in the document."""
    ox, oy = origin
    return [DragPair((p.handle[0] - ox, p.handle[1] - oy), (p.target[0] - ox, p.target[1] - oy)) for p in pairs]


def check_inside(pairs: list[DragPair], width: int, height: int) -> None:
    """Handles and targets must lie on the image the engine sees (0 ≤ x < width, 0 ≤ y < height)."""
    for number, pair in enumerate(pairs, start=1):
        for role, (x, y) in (("handle", pair.handle), ("target", pair.target)):
            if not (0 <= x < width and 0 <= y < height):
                raise GeometryError(f"point {number}: the {role} ({x:.1f}, {y:.1f}) lies outside the source "
                                    f"layer ({width} x {height} px)")
