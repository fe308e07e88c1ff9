"""Line geometry: SVG path data + shape transform + resolution + layer offset → drag pairs in pixels."""
import math

import pytest

from latentdrag_krita.geometry import (DragPair, GeometryError, ShapeInfo, check_inside, pairs_from_shapes,
                                       path_endpoints, shape_to_pair, to_local)


@pytest.mark.parametrize("d, start, end", [
    ("M0 0L10 5", (0, 0), (10, 5)),
    ("M 1.5,2.5 L 3e1 -4", (1.5, 2.5), (30, -4)),
    ("m10 10 l5 5", (10, 10), (15, 15)),  # relative line after relative move
    ("M10 10 20 20 30 40", (10, 10), (30, 40)),  # implicit line-tos after a move-to
    ("M0 0 H 7 V 9", (0, 0), (7, 9)),
    ("M0 0 h 7 v 9", (0, 0), (7, 9)),
    ("M0 0 C 1 1 2 2 3 4", (0, 0), (3, 4)),
    ("M0 0 c 1 1 2 2 3 4 s 1 1 2 2", (0, 0), (5, 6)),
    ("M0 0 Q 5 5 10 0 T 20 0", (0, 0), (20, 0)),
    ("M0 0 A 5 5 0 0 1 10 0", (0, 0), (10, 0)),
    ("M0 0L10 0L10 10Z", (0, 0), (0, 0)),  # closing returns to the start
    ("M.5.5L-.5-.5", (0.5, 0.5), (-0.5, -0.5)),  # numbers glued together the SVG way
])
def test_path_endpoints(d, start, end):
    first, last = path_endpoints(d)
    assert first == pytest.approx(start)
    assert last == pytest.approx(end)


@pytest.mark.parametrize("d, message", [
    ("", "no points"),
    ("L 1 2", "does not start with a move-to"),
    ("M 1", "missing numbers"),
    ("M 1 2 L 3", "missing numbers"),
    ("1 2", "starts with a number"),
    ("M0 0 L1 1 Z 4 5", "close-path"),
])
def test_path_errors_are_explained(d, message):
    with pytest.raises(GeometryError, match=message):
        path_endpoints(d)


def line_svg(d: str, name: str = "line1") -> str:
    return (f'<path id="{name}" transform="translate(3, 4)" fill="none" stroke="#000000" '
            f'stroke-width="1" marker-end="url(#ArrowHead)" d="{d}"/>')


def test_points_become_pixels_through_transform_resolution_and_offset():
    # 144 ppi = 2 pixels per point; the shape is rotated 90° and moved; the layer sits at (10, 20).
    rotate_and_move = (0.0, 1.0, -1.0, 0.0, 5.0, 6.0)  # x' = -y + 5, y' = x + 6
    shape = ShapeInfo("line1", "KoPathShape", line_svg("M0 0 L 4 2"), rotate_and_move)
    pair = shape_to_pair(shape, 144.0, 144.0, (10.0, 20.0))
    assert pair.handle == pytest.approx(((0 * -1 + 5) * 2 + 10, (0 + 6) * 2 + 20))
    assert pair.target == pytest.approx(((-2 + 5) * 2 + 10, (4 + 6) * 2 + 20))


def test_anisotropic_resolution_scales_axes_separately():
    shape = ShapeInfo("", "KoPathShape", line_svg("M 0 0 L 72 72"))
    pair = shape_to_pair(shape, 72.0, 144.0)
    assert pair.target == pytest.approx((72.0, 144.0))


def test_single_quoted_path_and_arrow_markers_are_read():
    svg = "<g><marker id='m'><path d='M0 0L1 1'/></marker></g>"
    shape = ShapeInfo("a", "KoPathShape", "<path d='M1 1 L 9 9' marker-end='url(#m)'/>")
    assert shape_to_pair(shape, 72, 72).target == (9.0, 9.0)
    with pytest.raises(GeometryError, match="2 paths"):
        shape_to_pair(ShapeInfo("b", "KoPathShape", svg + "<path d='M0 0L5 5'/>"), 72, 72)


@pytest.mark.parametrize("svg, message", [
    ('<rect id="r" width="10" height="10"/>', "is not a line"),
    ('<path d="M5 5 L5 5"/>', "starts and ends at the same place"),
    ('<path d="M0 0 L10 0 L10 10 Z"/>', "starts and ends at the same place"),
    ('<path d="L1 1"/>', "does not start with a move-to"),
])
def test_shapes_that_are_not_lines_are_refused_by_name(svg, message):
    with pytest.raises(GeometryError, match=f"shape 'mine'.*{message}|{message}"):
        shape_to_pair(ShapeInfo("mine", "KoPathShape", svg), 72, 72)


def test_bad_resolution_is_refused():
    shape = ShapeInfo("a", "KoPathShape", line_svg("M0 0L1 1"))
    for bad in (0.0, -72.0, math.nan):
        with pytest.raises(GeometryError, match="resolution"):
            shape_to_pair(shape, bad, 72.0)


def test_pairs_keep_drawing_order_and_empty_layer_is_explained():
    shapes = [ShapeInfo(f"l{i}", "KoPathShape", line_svg(f"M{i} 0 L{i} 10")) for i in range(3)]
    pairs = pairs_from_shapes(shapes, 72, 72, (100, 0))
    assert [p.handle[0] for p in pairs] == [100, 101, 102]
    with pytest.raises(GeometryError, match="empty"):
        pairs_from_shapes([], 72, 72)


def test_local_coordinates_and_bounds():
    pairs = to_local([DragPair((110.0, 220.0), (130.0, 225.0))], (100, 200))
    assert pairs == [DragPair((10.0, 20.0), (30.0, 25.0))]
    check_inside(pairs, 31, 26)
    with pytest.raises(GeometryError, match=r"point 1: the target \(30.0, 25.0\) lies outside"):
        check_inside(pairs, 30, 26)
    with pytest.raises(GeometryError, match="the handle"):
        check_inside([DragPair((-0.5, 1.0), (1.0, 1.0))], 10, 10)
