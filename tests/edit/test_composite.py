"""Composite: bit-identical outside the generator's change, the edit inside, alpha always original."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.edit.composite import change_mask, composite
from engine.edit.region import crop_region

RES = 32


def make_layer(height: int = 123, width: int = 77) -> np.ndarray:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(height, width, 4), dtype=np.uint8)
    image[..., 3] = rng.integers(1, 256, size=(height, width), dtype=np.uint8)
    return image


def generator_pair(edit_box: tuple[int, int, int, int], shift: float = 0.8):
    """A smooth 'before' rendering and an 'after' that differs only inside `edit_box` (model px)."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, RES), torch.linspace(-1, 1, RES), indexing="ij")
    before = torch.stack([xs * 0.5, ys * 0.5, xs * ys])[None]
    after = before.clone()
    x0, y0, x1, y1 = edit_box
    after[:, :, y0:y1, x0:x1] += shift
    return before, after.clamp(-1, 1)


def layer_box_of_change(region, edit_box, reach_model_px: float) -> tuple[int, int, int, int]:
    """The edit box mapped to layer pixels, widened by the mask's reach (grow + feather tails)."""
    x0, y0, x1, y1 = edit_box
    (lx0, ly0), (lx1, ly1) = region.model_to_layer([(x0 - 0.5 - reach_model_px, y0 - 0.5 - reach_model_px),
                                                    (x1 - 0.5 + reach_model_px, y1 - 0.5 + reach_model_px)])
    return int(np.floor(lx0)), int(np.floor(ly0)), int(np.ceil(lx1)) + 1, int(np.ceil(ly1)) + 1


def test_no_change_returns_the_original_bytes():
    image = make_layer()
    region = crop_region(image, RES, box=(10, 20, 60, 90))
    before, _ = generator_pair((0, 0, 1, 1))
    out = composite(image, region, before, before.clone())
    assert np.array_equal(out, image)


@pytest.mark.parametrize("mode", ["replace", "delta"])
def test_only_the_changed_area_differs_and_alpha_is_original(mode):
    image = make_layer()
    region = crop_region(image, RES, box=(5, 30, 70, 95))   # 65 px square, ~2 layer px per model px
    edit_box = (12, 10, 18, 16)
    before, after = generator_pair(edit_box)
    out = composite(image, region, before, after, mode=mode, grow=1, feather=1.0)

    assert np.array_equal(out[..., 3], image[..., 3])
    lx0, ly0, lx1, ly1 = layer_box_of_change(region, edit_box, reach_model_px=1 + 3 * 1.0 + 1)
    outside = np.ones(image.shape[:2], dtype=bool)
    outside[ly0:ly1, lx0:lx1] = False
    assert np.array_equal(out[outside], image[outside])
    # The core of the edit is fully applied: mapped core pixels moved strongly towards the edit.
    (cx0, cy0), (cx1, cy1) = region.model_to_layer([(13, 11), (16, 14)])
    core = (slice(int(np.ceil(cy0)), int(cy1)), slice(int(np.ceil(cx0)), int(cx1)))
    changed = np.abs(out[core][..., :3].astype(int) - image[core][..., :3].astype(int))
    assert (changed > 0).mean() > 0.9
    if mode == "delta":   # +0.8 in [-1, 1] units = +102 grey levels, clipped at 255
        expected = np.minimum(image[core][..., :3].astype(int) + 102, 255)
        assert np.abs(out[core][..., :3].astype(int) - expected).max() <= 2


def test_changes_outside_the_selection_are_not_applied():
    image = make_layer(64, 64)
    region = crop_region(image, RES, box=(0, 0, 64, 32))   # selection: top half; window 64x64
    before, after = generator_pair((4, 20, 10, 26))        # change in the bottom half of the window
    out = composite(image, region, before, after)
    assert np.array_equal(out, image)
    out = composite(image, region, before, after, limit_to_selection=False)
    assert not np.array_equal(out[32:], image[32:])


@pytest.mark.parametrize("box", [(24, 16, 80, 68), (5, 7, 29, 31)])
def test_edit_never_leaks_past_the_selection_edge(box):
    """A change covering the whole window, at a layer/model scale that is not an integer: not one
    pixel outside the selection may change (an up-sampled model-resolution selection would bleed)."""
    image = make_layer(96, 112)
    region = crop_region(image, RES, box=box)
    assert region.size % RES != 0
    before, after = generator_pair((0, 0, RES, RES))
    out = composite(image, region, before, after)
    x0, y0, x1, y1 = box
    outside = np.ones(image.shape[:2], dtype=bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], image[outside])
    assert (out[y0:y1, x0:x1, :3] != image[y0:y1, x0:x1, :3]).mean() > 0.9


def test_raw_mode_pastes_the_whole_window_only():
    image = make_layer(50, 90)
    region = crop_region(image, RES, box=(60, 0, 90, 30))
    before, after = generator_pair((0, 0, 1, 1))
    out = composite(image, region, before, after, mode="raw")
    assert np.array_equal(out[:, :60], image[:, :60]) and np.array_equal(out[30:], image[30:])
    assert np.array_equal(out[..., 3], image[..., 3])
    assert (out[:30, 60:, :3] != image[:30, 60:, :3]).mean() > 0.9


def test_rgb_original_comes_back_rgba_opaque():
    image = make_layer(40, 40)[..., :3].copy()
    region = crop_region(image, RES)
    before, after = generator_pair((10, 10, 14, 14))
    out = composite(image, region, before, after)
    assert out.shape == (40, 40, 4) and np.all(out[..., 3] == 255)


def test_change_mask_thresholds_and_feather():
    before, after = generator_pair((10, 10, 12, 12), shift=0.01)
    assert change_mask(before, after, low=0.02, high=0.08).max() == 0
    before, after = generator_pair((10, 10, 12, 12), shift=0.5)
    mask = change_mask(before, after, grow=0, feather=0)
    assert torch.all(mask[10:12, 10:12] == 1) and mask.sum() == 4
    soft = change_mask(before, after, grow=0, feather=1.5)
    assert 0 < soft[10, 14] < soft[10, 12] < 1


def test_bad_inputs_name_the_argument():
    image = make_layer(40, 40)
    region = crop_region(image, RES)
    before, after = generator_pair((0, 0, 1, 1))
    with pytest.raises(ValueError, match="original_rgba"):
        composite(make_layer(41, 40), region, before, after)
    with pytest.raises(ValueError, match="mode"):
        composite(image, region, before, after, mode="blend")
    with pytest.raises(ValueError, match="edited_crop"):
        composite(image, region, before, after[:, :, :16])
