"""The drag's mask term: the fast preset's phase reads average to DragGAN's published term."""
from __future__ import annotations

import pytest
import torch

from engine.edit.features import upsample_to_image
from engine.edit.motion import MaskPreservation


def published_term(features, initial, editable, res):
    """DragGAN's reference: L1 of the upsampled maps' difference where the image must stay put."""
    difference = upsample_to_image(features, res) - upsample_to_image(initial, res)
    return (difference.abs() * (1 - editable)).mean()


@pytest.mark.parametrize("feature_res, res", [(16, 64), (8, 64), (32, 64), (128, 512), (64, 64), (24, 64), (8, 24)])
def test_one_cycle_of_phase_reads_equals_the_published_term(feature_res, res):
    """(64 over 24 has no whole phases: that map gets the published computation; 24 over 8 has 9
    phases, read 3 per call.)"""
    generator = torch.Generator().manual_seed(feature_res)
    initial = torch.randn(1, 6, feature_res, feature_res, generator=generator)
    features = initial + 0.3 * torch.randn(1, 6, feature_res, feature_res, generator=generator)
    editable = torch.zeros(res, res)
    editable[res // 5:res // 2, res // 4:3 * res // 4] = 1
    term = MaskPreservation(initial, editable, res)
    calls_per_cycle = len(term.points) if term.points else 1
    cycle = torch.stack([term(features) for _ in range(calls_per_cycle)]).mean()
    assert torch.allclose(cycle, published_term(features, initial, editable, res), rtol=1e-5)


def test_each_phase_read_differs_and_the_gradient_reaches_only_the_outside():
    """Single calls are not the average (they read a few phases each), and cells whose whole
    neighbourhood is editable get no gradient: the term never holds the editable region."""
    res, feature_res = 64, 16
    initial = torch.zeros(1, 2, feature_res, feature_res)
    features = torch.randn(1, 2, feature_res, feature_res).requires_grad_(True)
    editable = torch.zeros(res, res)
    editable[8:56, 8:56] = 1
    term = MaskPreservation(initial, editable, res)
    reads = [term(features) for _ in range(len(term.points))]  # one cycle
    assert len({round(float(r.detach()), 6) for r in reads}) > 1
    (grad,) = torch.autograd.grad(torch.stack(reads).sum(), [features])
    assert grad[..., 4:12, 4:12].abs().max() == 0  # interior cells: every read of them is editable
    assert grad[..., 0, :].abs().min() > 0  # border row: outside the mask everywhere
