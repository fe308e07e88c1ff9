"""The drag's prepared pass (`engine.models.prepared_pass`) against the module path it replaces."""
from __future__ import annotations

import pytest
import torch

from engine.models.precision import autocast

from model_fixtures import make_networks


def networks(**config):
    G, _ = make_networks(d_channels=None, **config)
    return G.requires_grad_(False)


def module_features(G, free: torch.Tensor, held: torch.Tensor, block: str, dtype: torch.dtype) -> torch.Tensor:
    with autocast(G.device, dtype):
        out = G.synthesize(torch.cat([free, held], 1), feature_block=block, stop_at_features=True, fused=False)
    return out.features[block]


def patch_loss(features: torch.Tensor) -> torch.Tensor:
    return features.float()[:, :, 3:6, 2:5].abs().mean() + features.float().square().mean()


@pytest.mark.parametrize("arch", ["skip", "resnet", "orig"])
@pytest.mark.parametrize("free_rows", [1, 2, 5])
def test_the_pass_gives_the_module_features_and_gradients_step_after_step(arch, free_rows):
    """Same map and same gradient to the free rows as the module path, over passes whose free rows
    change (a drag's steps), with a clamp that binds."""
    G = networks(architecture=arch, conv_clamp=0.5)
    ws = G.mapping(torch.randn(1, G.z_dim))
    held = ws[:, free_rows:]
    prepared = G.prepare_pass(ws, free_rows, "b16")
    free = ws[:, :free_rows].clone().requires_grad_(True)
    for _ in range(3):
        got = prepared(free).features["b16"]
        expected = module_features(G, free, held, "b16", torch.float32)
        assert got.shape == expected.shape == (1, 16, 16, 16)
        assert got.is_contiguous(memory_format=torch.channels_last)  # CPU runs it channels-last
        assert (expected.abs() >= 0.5 - 1e-6).any()  # the clamp took part
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(torch.autograd.grad(patch_loss(got), free)[0],
                                   torch.autograd.grad(patch_loss(expected), free)[0], atol=1e-6, rtol=1e-4)
        with torch.no_grad():
            free.add_(0.3)


@pytest.mark.parametrize("arch", ["skip", "resnet", "orig"])
def test_the_published_pass_renders_the_module_image_and_recomputes_every_row(arch):
    """`image=True, prepare_held=False` (the published preset): the whole image and the feature map of
    the module path, the gradient to the free rows through both, and held rows whose styles come from
    their values every pass rather than from weights built once."""
    G = networks(architecture=arch, conv_clamp=0.5)
    ws = G.mapping(torch.randn(1, G.z_dim))
    prepared = G.prepare_pass(ws, 3, "b16", image=True, prepare_held=False)
    free = ws[:, :3].clone().requires_grad_(True)
    got = prepared(free)
    expected = G.synthesize(torch.cat([free, ws[:, 3:]], 1), feature_block="b16", fused=False)
    assert got.image.shape == (1, 3, 32, 32) and got.image.dtype == torch.float32
    torch.testing.assert_close(got.image, expected.image, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.features["b16"], expected.features["b16"], atol=1e-5, rtol=1e-4)
    loss = lambda out: out.image.square().mean() + patch_loss(out.features["b16"])
    torch.testing.assert_close(torch.autograd.grad(loss(got), free)[0],
                               torch.autograd.grad(loss(expected), free)[0], atol=1e-6, rtol=1e-4)
    assert all(layer.styles is not None for step in prepared._blocks for layer in step.layers)
    assert G.prepare_pass(ws, 3, "b16")(free).image is None  # the fast pass stops at its block


def test_the_pass_stops_at_the_block_it_was_built_for():
    G = networks()
    ws = G.mapping(torch.randn(1, G.z_dim))
    for block, shape in (("b4", (1, 32, 4, 4)), ("b8", (1, 32, 8, 8)), ("b32", (1, 8, 32, 32))):
        got = G.prepare_pass(ws, 2, block)(ws[:, :2]).features[block]
        assert got.shape == shape
        torch.testing.assert_close(got, module_features(G, ws[:, :2], ws[:, 2:], block, torch.float32),
                                   atol=1e-5, rtol=1e-4)


def test_a_bfloat16_pass_is_the_autocast_module_pass():
    """bf16 is autocast's policy made explicit: the same values as the module path under autocast,
    up to bf16 rounding of the two orders of the held rows' work (built once vs every pass)."""
    G = networks()
    ws = G.mapping(torch.randn(1, G.z_dim))
    got = G.prepare_pass(ws, 2, "b16", torch.bfloat16)(ws[:, :2]).features["b16"]
    expected = module_features(G, ws[:, :2], ws[:, 2:], "b16", torch.bfloat16)
    assert got.dtype == torch.bfloat16
    error = (got.float() - expected.float()).norm() / expected.float().norm()
    assert error < 2e-2
    full = module_features(G, ws[:, :2], ws[:, 2:], "b16", torch.float32)
    assert (got.float() - full).norm() / full.norm() < 3e-2


def test_the_pass_refuses_what_it_cannot_run():
    G = networks()
    ws = G.mapping(torch.randn(1, G.z_dim))
    with pytest.raises(ValueError, match=r"ws must have shape \[1, 8, 16\]"):
        G.prepare_pass(ws.repeat(2, 1, 1), 2, "b16")
    with pytest.raises(ValueError, match="free_rows must be in 1..8, got 0"):
        G.prepare_pass(ws, 0, "b16")
    with pytest.raises(ValueError, match="unknown block 'b64'"):
        G.prepare_pass(ws, 2, "b64")
    with pytest.raises(ValueError, match=r"free must have shape \[1, 2, 16\], got \[1, 3, 16\]"):
        G.prepare_pass(ws, 2, "b16")(ws[:, :3])
