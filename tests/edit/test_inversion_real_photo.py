"""The whole chain on a real photograph at its own size: crop the face, invert, drag, composite back.

Uses scikit-image's bundled `astronaut` (512×512) as test-only data and a small generator, so it
checks the plumbing and the guarantees (size, alpha, bit-identical outside the edit), not quality.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from drag_fixtures import small_generator
from skimage import data

from engine.edit.composite import change_mask, composite
from engine.edit.drag import DragOptions, drag
from engine.edit.inversion import invert, latent_statistics, preset_settings
from engine.edit.image_losses import psnr
from engine.edit.region import crop_region

FACE_BOX = (145, 15, 305, 175)   # hair to chin of the astronaut, 160×160 layer px

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def astronaut_layer() -> np.ndarray:
    """RGBA with a non-trivial alpha (a ramp), so alpha preservation is actually tested."""
    rgb = data.astronaut()
    alpha = np.tile(np.linspace(40, 255, rgb.shape[1]).round().astype(np.uint8), (rgb.shape[0], 1))
    return np.concatenate([rgb, alpha[..., None]], axis=2)


def test_photo_is_inverted_dragged_and_composited_changing_only_the_edit():
    layer = astronaut_layer()
    generator = small_generator(seed=5)
    region = crop_region(layer, generator.img_resolution, box=FACE_BOX)
    assert region.size == 160 and region.crop.shape == (1, 3, 64, 64)

    inverted = invert(generator, region.crop, settings=preset_settings("fast", w_steps=25, w_plus_steps=25,
                                                                        w_avg_samples=256))
    w_mean, _ = latent_statistics(generator, 256)
    with torch.no_grad():
        start = psnr(generator.synthesize(w_mean.expand(1, generator.num_ws, -1)).image, region.crop)
    assert inverted.psnr > start + 2

    # Drag the left cheek 8 layer px to the right, handles given in layer pixels.
    handle_layer, target_layer = (200.0, 120.0), (208.0, 120.0)
    handle, target = region.layer_to_model([handle_layer, target_layer])
    result = drag(inverted.generator, inverted.ws, [handle], [target], mask=region.mask,
                  options=DragOptions(max_steps=30))
    assert not result.cancelled and result.steps > 0
    reached = result.handles[0]
    # The tracked handle arrived (3.2 model px to go; on this small random generator the track wanders
    # by up to a pixel across the way, so a distance rather than an exact hit).
    assert ((reached[0] - target[0]) ** 2 + (reached[1] - target[1]) ** 2) ** 0.5 < 1.0
    before = inverted.image
    edited = result.image
    assert (edited - before).abs().max() > 0.1

    out = composite(layer, region, before, edited)
    assert out.shape == layer.shape and out.dtype == np.uint8
    assert np.array_equal(out[..., 3], layer[..., 3])
    changed = np.any(out != layer, axis=2)
    assert changed.sum() > 50

    # Every changed layer pixel lies where the generator's own output changed (grown by the mask's
    # reach: 1 px grow + 3σ feather + 1 px resampling, in model px), and inside the face box.
    reach = change_mask(before, edited, grow=1 + 3 + 1, feather=0) > 0
    allowed = np.zeros(layer.shape[:2], dtype=bool)
    rows, cols, win_rows, win_cols = region.layer_slices()
    up = torch.nn.functional.interpolate(reach[None, None].float(), size=(region.size, region.size),
                                         mode="nearest")[0, 0].bool().numpy()
    allowed[rows, cols] = up[win_rows, win_cols]
    x0, y0, x1, y1 = FACE_BOX
    box = np.zeros_like(allowed)
    box[y0:y1, x0:x1] = True
    assert not np.any(changed & ~allowed) and not np.any(changed & ~box)
    assert np.array_equal(out[~box], layer[~box])
