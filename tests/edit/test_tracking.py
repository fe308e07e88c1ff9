"""Point tracking: the published single-vector tracker and the patch tracker (`track_patch`)."""
from __future__ import annotations

import pytest
import torch

from engine.edit.features import sample_features, square_offsets
from engine.edit.motion import initial_templates
from engine.edit.tracking import patch_distances, track_points, tracking_offsets

RES = 64  # image px; the maps below are 16×16, so one feature px = 4 image px


def smooth_map(seed: int, channels: int = 8) -> torch.Tensor:
    noise = torch.randn(1, channels, 8, 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(noise, size=(16, 16), mode="bilinear", align_corners=False)


def test_radius_zero_is_the_published_nearest_neighbour_of_one_feature_vector():
    before, after = smooth_map(0), smooth_map(1)
    handles = torch.tensor([[30.0, 22.0], [12.5, 40.25]])
    window = square_offsets(2.0, 0.25)
    reads = tracking_offsets(0.0, 2.0)
    found = track_points(after, handles, initial_templates(before, handles, reads, RES), window, reads, RES)
    for handle, point in zip(handles, found):
        candidates = (handle + window).clamp(0, RES - 1)
        wanted = sample_features(before, handle[None], RES)[0]
        distances = (sample_features(after, candidates, RES) - wanted).square().sum(-1)
        torch.testing.assert_close(point, candidates[distances.argmin()])


def test_the_patch_tracker_finds_moved_content_where_one_vector_is_fooled_by_a_look_alike():
    before = smooth_map(2)
    handle = torch.tensor([[32.0, 32.0]])
    # The content moved one feature px (4 image px) to the right, with a little noise on top, and an
    # exact copy of the handle's own feature vector now sits 2 px above the handle: a look-alike that
    # matches the single vector perfectly but not its neighbourhood.
    after = torch.roll(before, shifts=1, dims=-1) + 0.05 * torch.randn(1, 8, 16, 16,
                                                                        generator=torch.Generator().manual_seed(3))
    handle_vector = sample_features(before, handle, RES)[0]
    after[0, :, 7, 8] = handle_vector  # read exactly at that cell's centre, image px (33.5, 29.5)
    window = square_offsets(6.0, 0.5)
    point_reads, patch_reads = tracking_offsets(0.0, 2.0), tracking_offsets(8.0, 2.0)
    by_point = track_points(after, handle, initial_templates(before, handle, point_reads, RES), window,
                            point_reads, RES)[0]
    by_patch = track_points(after, handle, initial_templates(before, handle, patch_reads, RES), window,
                            patch_reads, RES)[0]
    truth = torch.tensor([36.0, 32.0])
    assert (by_patch - truth).norm() <= 0.5
    assert (by_point - truth).norm() > 2.0  # taken in by the copy of the single vector



@pytest.mark.parametrize("size, res, channels, radius, window, spacing",
                         [(16, 64, 32, 8.0, 2.0, 0.25), (16, 64, 32, 3.0, 2.0, 0.25), (32, 256, 16, 6.0, 6.0, 1.0)])
def test_patch_distances_equal_reading_every_point(size, res, channels, radius, window, spacing):
    generator = torch.Generator().manual_seed(size + int(radius))
    features = torch.randn(1, channels, size, size, generator=generator)
    reads_around = tracking_offsets(radius, 0.5 * res / size)
    handles = torch.rand(4, 2, generator=generator) * (res - 1)
    handles[0] = torch.tensor([0.0, res - 1.0])  # corners and edges: border-clamped reads
    handles[1] = torch.tensor([res - 1.0, res - 1.5])
    templates = (sample_features(features, handles[:, None] + reads_around, res)
                 + 0.3 * torch.randn(4, len(reads_around), channels, generator=generator))
    candidates = (handles[:, None] + square_offsets(window, spacing)[None]).clamp(0, res - 1)
    reads = (candidates[:, :, None] + reads_around[None, None]).clamp(0, res - 1)
    direct = (sample_features(features, reads, res) - templates[:, None]).square().sum(-1).mean(-1)
    fast = patch_distances(features, reads, templates, res)
    torch.testing.assert_close(fast, direct, rtol=1e-4, atol=1e-4)
    assert torch.equal(fast.argmin(dim=1), direct.argmin(dim=1))
