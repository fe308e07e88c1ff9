"""Bilinear reads of feature maps: the block-resolution read's own backward against grid_sample's."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.edit.features import image_to_grid, sample_features

RES = 64


def grid_sample_read(features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """The read as `grid_sample` defines it (border padding, align_corners=False), [P, C]."""
    grid = image_to_grid(points, RES).reshape(1, -1, 1, 2)
    return F.grid_sample(features, grid, mode="bilinear", padding_mode="border", align_corners=False)[0, :, :, 0].t()


@pytest.mark.parametrize("size", [8, 16, 32])
def test_read_and_gradient_match_grid_sample_inside_on_the_border_and_beyond(size):
    torch.manual_seed(size)
    features = torch.randn(1, 5, size, size, requires_grad=True)
    points = torch.cat([torch.rand(200, 2) * (RES - 1),                      # anywhere
                        torch.tensor([[0.0, 0.0], [RES - 1.0, RES - 1.0], [0.3, RES - 1.0],
                                      [RES - 1.0, 17.0], [1.5, 2.0], [31.5, 31.5]])])  # edges, cell centres
    points = torch.cat([points, points[:20]])  # repeated reads must add up their gradients
    upstream = torch.randn(len(points), 5)
    expected = grid_sample_read(features, points)
    expected_grad = torch.autograd.grad((expected * upstream).sum(), features)[0]
    got = sample_features(features, points.reshape(2, -1, 2), RES).reshape(-1, 5)
    got_grad = torch.autograd.grad((got * upstream).sum(), features)[0]
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_grad, expected_grad, atol=1e-5, rtol=1e-5)


def test_points_that_need_gradients_are_refused():
    with pytest.raises(ValueError, match="points"):
        sample_features(torch.randn(1, 3, 8, 8), torch.rand(4, 2, requires_grad=True), RES)


def disk(radius: float, spacing: float) -> torch.Tensor:
    from engine.edit.features import disk_offsets
    return disk_offsets(radius, spacing)


@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("offsets", [
    "disk", "square", "three_by_three", "uneven"], ids=str)
def test_patch_reads_and_their_gradient_equal_reading_every_point(size, offsets):
    """`sample_patches` (separable, for reads that need a gradient) must be `sample_features` at
    centres + offsets: values and gradients, at centres inside, on the border and beyond it (clamped
    reads), for one and for a grid of centres per handle, and for offsets whose x and y values differ."""
    from engine.edit.features import Patch, sample_patches, square_offsets
    grids = {"disk": disk(8.0, 1.0), "square": square_offsets(2.0, 0.25),
             "three_by_three": torch.tensor([[x, y] for y in (-3.0, 0.0, 3.0) for x in (-3.0, 0.0, 3.0)]),
             "uneven": torch.tensor([[0.0, 0.0], [1.5, -0.5], [-7.0, 2.25], [3.0, 3.0], [1.5, 2.25]])}
    patch = Patch(grids[offsets])
    torch.manual_seed(size)
    features = torch.randn(1, 6, size, size, requires_grad=True)
    for centres in (torch.cat([torch.rand(4, 2) * (RES - 1), torch.tensor([[0.0, 0.0], [RES - 1.0, 30.0],
                                                                           [-2.0, RES + 3.0]])]),
                    torch.rand(3, 7, 2) * (RES + 6) - 3):
        expected = sample_features(features, centres[..., None, :] + patch.offsets, RES)
        got = sample_patches(features, centres, patch, RES)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        upstream = torch.randn_like(expected)
        expected_grad = torch.autograd.grad((expected * upstream).sum(), features)[0]
        got_grad = torch.autograd.grad((got * upstream).sum(), features)[0]
        torch.testing.assert_close(got_grad, expected_grad, atol=1e-5, rtol=1e-5)
        with torch.no_grad():  # the no-gradient path reads the same
            torch.testing.assert_close(sample_patches(features, centres, patch, RES), expected.detach(),
                                       atol=1e-5, rtol=1e-5)


def test_patch_gradient_keeps_a_channels_last_map_channels_last():
    """The fast drag passes run NHWC: a gradient handed back in NCHW made the network's backward mix
    layouts (a feature layer's leaky-ReLU backward ran 6x slower). Same values either way."""
    from engine.edit.features import Patch, sample_patches
    torch.manual_seed(0)
    plain = torch.randn(1, 8, 16, 16, requires_grad=True)
    nhwc = plain.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    centres, patch = torch.tensor([[20.0, 30.5], [41.2, 12.0]]), Patch(disk(8.0, 1.0))
    upstream = torch.randn(2, len(patch), 8)
    (grad_plain,) = torch.autograd.grad((sample_patches(plain, centres, patch, RES) * upstream).sum(), plain)
    (grad_nhwc,) = torch.autograd.grad((sample_patches(nhwc, centres, patch, RES) * upstream).sum(), nhwc)
    assert grad_nhwc.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(grad_nhwc, grad_plain)
