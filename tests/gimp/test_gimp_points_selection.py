"""Drag points from GIMP path strokes and the selection as editable region, without GIMP."""
import math

import pytest

from latentdrag_gimp_lib.points import (DragPair, DragPointsError, pairs_from_strokes, stroke_anchors,
                                        stroke_points_for_pair)
from latentdrag_gimp_lib.selection import (SelectionError, layer_region, points_outside_region,
                                           selection_box_in_layer)


def bezier(*anchors):
    """GIMP's control-anchor-control layout with controls offset from their anchor, as after dragging."""
    points = []
    for x, y in anchors:
        points += [x - 3, y - 1, x, y, x + 3, y + 1]
    return points


def test_first_anchor_is_handle_last_anchor_is_target_and_middle_anchors_are_ignored():
    pairs = pairs_from_strokes([bezier((10, 12), (20, 5), (30.5, 40.25))], "Drag points", (0, 0), (64, 64))
    assert pairs == [DragPair(handle=(10.0, 12.0), target=(30.5, 40.25))]


def test_one_pair_per_stroke_in_layer_coordinates():
    strokes = [bezier((110, 220), (130, 230)), bezier((150, 260), (140, 250))]
    pairs = pairs_from_strokes(strokes, "p", layer_offsets=(100, 200), layer_size=(64, 64))
    assert pairs == [DragPair((10.0, 20.0), (30.0, 30.0)), DragPair((50.0, 60.0), (40.0, 50.0))]


def test_straight_stroke_round_trips():
    assert stroke_anchors(stroke_points_for_pair((1.5, 2.5), (7.0, 8.0))) == [(1.5, 2.5), (7.0, 8.0)]


def test_stroke_with_one_anchor_is_refused_naming_stroke_and_path():
    with pytest.raises(DragPointsError, match=r'stroke 2 of path "Drag points" has only one anchor'):
        pairs_from_strokes([bezier((1, 1), (2, 2)), bezier((5, 5))], "Drag points", (0, 0), (64, 64))


def test_path_without_strokes_is_refused():
    with pytest.raises(DragPointsError, match='path "empty" has no strokes'):
        pairs_from_strokes([], "empty", (0, 0), (64, 64))


def test_malformed_point_list_is_refused():
    with pytest.raises(DragPointsError, match="multiple of 6"):
        stroke_anchors([1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("anchors, role", [(((70, 10), (20, 20)), "handle"), (((10, 10), (20, -1)), "target")])
def test_point_outside_the_layer_is_refused(anchors, role):
    with pytest.raises(DragPointsError, match=f"stroke 1 .*{role} .* outside the layer"):
        pairs_from_strokes([bezier(*anchors)], "p", (0, 0), (64, 64))


def test_offsets_decide_inside_or_outside():
    # (70, 10) is outside a layer at (0, 0) but inside the same layer moved to x = 10.
    assert pairs_from_strokes([bezier((70, 10), (20, 20))], "p", (10, 0), (64, 64))[0].handle == (60.0, 10.0)


def test_non_finite_point_is_refused():
    with pytest.raises(DragPointsError, match="not a finite point"):
        pairs_from_strokes([bezier((math.nan, 1), (2, 2))], "p", (0, 0), (64, 64))


def test_selection_box_is_clipped_to_the_layer_and_moved_by_its_offsets():
    assert selection_box_in_layer((90, 190, 130, 230), (100, 200), (64, 64)) == (0, 0, 30, 30)
    assert selection_box_in_layer((120, 210, 400, 400), (100, 200), (64, 64)) == (20, 10, 44, 54)


def test_selection_outside_the_layer_is_refused():
    with pytest.raises(SelectionError, match="does not overlap the layer"):
        selection_box_in_layer((0, 0, 50, 50), (100, 200), (64, 64))


def test_layer_region_checks_mask_size_and_emptiness():
    region = layer_region(bytes([0, 255, 0, 128]), (1, 0, 1, 2), (2, 2))
    assert region.box == (1, 0, 1, 2) and region.mask == bytes([0, 255, 0, 128])
    with pytest.raises(SelectionError, match="expected 2×2 = 4"):
        layer_region(bytes(3), (0, 0, 2, 2), (2, 2))
    with pytest.raises(SelectionError, match="empty inside the layer"):
        layer_region(bytes(4), (0, 0, 2, 2), (2, 2))


def test_points_outside_the_selection_box_are_listed():
    region = layer_region(bytes([255]) * 64 * 64, (10, 10, 20, 20), (64, 64))
    inside = DragPair((12, 12), (29, 30))
    target_outside = DragPair((15, 15), (31, 15))
    assert points_outside_region([inside], region) == []
    assert points_outside_region([inside, target_outside], region) == [
        "stroke 2: target (31, 15) is outside the selection"]
    assert points_outside_region([target_outside], None) == []
