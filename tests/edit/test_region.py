"""Region crops: exact pixels where no resampling happens, reflection at edges, points that map back."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.edit.region import crop_region


def layer(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 4), dtype=np.uint8)


def as_uint8(crop: torch.Tensor) -> np.ndarray:
    return ((crop[0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()


def test_box_inside_odd_layer_is_cut_exactly_when_sizes_match():
    image = layer(37, 91)
    region = crop_region(image, 16, box=(40, 9, 56, 25))
    assert (region.left, region.top, region.size) == (40, 9, 16)
    np.testing.assert_array_equal(as_uint8(region.crop), image[9:25, 40:56, :3])
    np.testing.assert_allclose(region.alpha.numpy(), image[9:25, 40:56, 3] / 255.0, atol=1e-6)
    assert torch.all(region.mask == 1)


def test_box_at_edge_uses_context_from_inside_the_layer():
    image = layer(37, 91)
    region = crop_region(image, 11, box=(83, 0, 91, 11))   # 8x11 box touching right and top edges
    assert (region.left, region.top, region.size) == (80, 0, 11)
    np.testing.assert_array_equal(as_uint8(region.crop), image[0:11, 80:91, :3])
    # Only the box itself is editable, not the context columns to its left.
    assert torch.all(region.mask[:, :3] == 0) and torch.all(region.mask[:, 3:] == 1)


def test_square_larger_than_layer_is_reflection_padded_with_zero_alpha_and_mask():
    image = layer(10, 40)
    region = crop_region(image, 40)   # whole layer: a 40x40 square centred on a 10 px tall layer
    assert (region.left, region.top, region.size) == (0, -15, 40)
    pixels = as_uint8(region.crop)
    np.testing.assert_array_equal(pixels[15:25], image[:, :, :3])
    np.testing.assert_array_equal(pixels[14], image[1, :, :3])      # reflection, no repeated edge row
    np.testing.assert_array_equal(pixels[25], image[8, :, :3])
    assert torch.all(region.alpha[:15] == 0) and torch.all(region.alpha[25:] == 0)
    assert torch.all(region.mask[:15] == 0) and torch.all(region.mask[15:25] == 1)
    layer_rows, layer_cols, win_rows, win_cols = region.layer_slices()
    assert (layer_rows, layer_cols) == (slice(0, 10), slice(0, 40))
    assert (win_rows, win_cols) == (slice(15, 25), slice(0, 40))


def test_one_pixel_layer_works():
    region = crop_region(layer(1, 1), 8)
    assert region.crop.shape == (1, 3, 8, 8) and region.size == 1


@pytest.mark.parametrize("box", [(3, 5, 40, 30), (0, 0, 13, 77), (50, 60, 57, 77)])
def test_points_round_trip_exactly(box):
    region = crop_region(layer(77, 57), 64, box=box)
    points = [(0.0, 0.0), (12.25, 33.5), (56.0, 76.0)]
    back = region.model_to_layer(region.layer_to_model(points))
    np.testing.assert_allclose(back, points, atol=1e-9)


def test_point_mapping_follows_the_content():
    """A blob centred at a known layer point is found at the mapped model point after resampling."""
    height, width, centre = 150, 203, (121.3, 47.6)
    ys, xs = np.mgrid[0:height, 0:width]
    blob = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * 6.0 ** 2))
    image = np.zeros((height, width, 4), dtype=np.uint8)
    image[..., :3] = (blob * 255).round().astype(np.uint8)[..., None]
    image[..., 3] = 255
    region = crop_region(image, 64, box=(90, 10, 170, 90))
    intensity = (region.crop[0, 0] + 1).double()
    my, mx = torch.meshgrid(torch.arange(64.0, dtype=torch.float64), torch.arange(64.0, dtype=torch.float64),
                            indexing="ij")
    found = (float((intensity * mx).sum() / intensity.sum()), float((intensity * my).sum() / intensity.sum()))
    expected = region.layer_to_model([centre])[0]
    assert abs(found[0] - expected[0]) < 0.05 and abs(found[1] - expected[1]) < 0.05


def test_mask_selection_sets_box_and_editable_mask():
    image = layer(60, 80)
    mask = np.zeros((60, 80), dtype=np.uint8)
    mask[20:36, 30:46] = 255
    mask[20:28, 30:38] = 0
    region = crop_region(image, 16, mask=mask)
    assert (region.left, region.top, region.size) == (30, 20, 16)
    np.testing.assert_allclose(region.mask.numpy(), mask[20:36, 30:46] / 255.0, atol=1e-6)


def test_margin_widens_the_square():
    region = crop_region(layer(100, 100), 32, box=(40, 40, 60, 60), margin=0.5)
    assert region.size == 30 and (region.left, region.top) == (35, 35)


def test_rgb_input_gets_opaque_alpha():
    region = crop_region(layer(20, 20)[..., :3].copy(), 8)
    assert torch.allclose(region.alpha, torch.ones(8, 8))


@pytest.mark.parametrize("kwargs, field", [
    (dict(box=(100, 0, 120, 10)), "box"),
    (dict(box=(5, 5, 5, 9)), "box"),
    (dict(mask=np.zeros((20, 30), dtype=np.uint8)), "mask"),
    (dict(mask=np.ones((5, 5), dtype=np.uint8)), "mask"),
    (dict(mask=np.full((20, 30), 2.0)), "mask"),
    (dict(margin=-0.1), "margin"),
])
def test_bad_selection_is_rejected_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        crop_region(layer(20, 30), 16, **kwargs)


def test_bad_image_is_rejected():
    with pytest.raises(ValueError, match="uint8"):
        crop_region(np.zeros((8, 8, 3), dtype=np.float32), 8)
    with pytest.raises(ValueError, match="shape"):
        crop_region(np.zeros((8, 8), dtype=np.uint8), 8)
