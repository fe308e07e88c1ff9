"""`latent_ops.apply_edit`: several explore settings at once, as absolute offsets from a base latent."""
from __future__ import annotations

import pytest
import torch

from engine.edit import latent_ops as lo


@pytest.fixture
def base() -> torch.Tensor:
    return torch.randn(1, 10, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def other() -> torch.Tensor:
    return torch.randn(1, 10, 8, generator=torch.Generator().manual_seed(2))


def unit(index: int, scale: float = 1.0) -> lo.Direction:
    offset = torch.zeros(8)
    offset[index] = scale
    return lo.Direction(offset)


def test_an_empty_edit_and_zero_settings_return_the_base_exactly(base, other):
    w_avg = torch.randn(8)
    assert torch.equal(lo.apply_edit(base, lo.LatentEdit(), w_avg), base)
    zeros = lo.LatentEdit(directions=[lo.DirectionStep(unit(0), 0.0), lo.DirectionStep(unit(1), 0.0, "coarse")],
                          truncation=(0.7, 0.7), toward_ws=other, toward_t=0.0)
    assert torch.equal(lo.apply_edit(base, zeros, w_avg), base)


def test_directions_add_up_each_on_its_own_rows(base):
    edit = lo.LatentEdit(directions=[lo.DirectionStep(unit(0, 2.0), 1.5, "coarse"),
                                     lo.DirectionStep(unit(3, 1.0), -1.0, "fine")])
    out = lo.apply_edit(base, edit, torch.zeros(8))
    change = out - base
    assert torch.allclose(change[0, 0:4, 0], torch.full((4,), 3.0))
    assert torch.allclose(change[0, 8:10, 3], torch.full((2,), -1.0))
    change[0, 0:4, 0] = 0
    change[0, 8:10, 3] = 0
    assert torch.count_nonzero(change) == 0, "only the chosen rows and components may move"


def test_slider_values_are_absolute_not_cumulative(base):
    """The same settings give the same latent however often they are applied to the base."""
    edit = lo.LatentEdit(directions=[lo.DirectionStep(unit(2), 1.0)])
    first = lo.apply_edit(base, edit, torch.zeros(8))
    assert torch.equal(lo.apply_edit(base, edit, torch.zeros(8)), first)
    assert not torch.equal(first, base)


def test_order_is_truncation_mix_interpolation_then_directions(base, other):
    w_avg = torch.randn(8)
    step = lo.DirectionStep(unit(1, 0.5), 2.0, "middle")
    edit = lo.LatentEdit(directions=[step], truncation=(1.0, 0.5), mix_ws=other, mix_rows="coarse",
                         toward_ws=other * 2, toward_t=0.25)
    expected = lo.retruncate(base, w_avg, 1.0, 0.5)
    expected = lo.style_mix(expected, other, "coarse")
    expected = lo.interpolate_at(expected, other * 2, 0.25)
    expected = lo.apply_direction(expected, step.direction, 2.0, "middle")
    assert torch.allclose(lo.apply_edit(base, edit, w_avg), expected)


def test_interpolate_at_hits_both_ends_exactly_and_checks_t(base, other):
    assert torch.equal(lo.interpolate_at(base, other, 0.0), base)
    assert torch.equal(lo.interpolate_at(base, other, 1.0), other)
    assert torch.allclose(lo.interpolate_at(base, other, 0.5), (base + other) / 2)
    assert torch.allclose(lo.interpolate_at(base, other, 0.25), lo.interpolate(base, other, 5)[1:2])
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="t must be in"):
            lo.interpolate_at(base, other, bad)
