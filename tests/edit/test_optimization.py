"""The latent a drag optimises: which pass its steps differentiate, and that it is the generator's."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.edit.optimization import LatentOptimizer

from drag_fixtures import seed_latent, small_generator


@pytest.mark.parametrize("latent_space", ["w+", "w"])
def test_fast_steps_run_the_prepared_pass_and_get_the_generators_features_and_gradients(latent_space):
    G = small_generator()
    ws = seed_latent(G, 3)
    block = G.block_for_resolution(G.img_resolution // 4)
    latent = LatentOptimizer(G, ws, rows=3, latent_space=latent_space, lr=0.01, feature_block=block,
                             full_forward=False)
    assert latent.prepared_pass is not None and not latent.prepared_pass.image
    for _ in range(2):  # before and after an Adam step moved the free rows
        got = latent.features()
        expected = G.synthesize(latent.ws(), feature_block=block, stop_at_features=True,
                                fused=False).features[block]
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
        loss = lambda f: (f[:, :, 2:5, 3:6] - 0.5).abs().mean()
        expected_grad = torch.autograd.grad(loss(expected), latent.free)[0]
        latent.step(loss(got))
        torch.testing.assert_close(latent.free.grad, expected_grad, atol=1e-6, rtol=1e-4)


def test_published_steps_keep_the_reference_per_step_work():
    """The whole image every pass and the features upsampled to it, on the same prepared pass."""
    G = small_generator()
    ws = seed_latent(G, 3)
    block = G.block_for_resolution(G.img_resolution // 4)
    latent = LatentOptimizer(G, ws, rows=3, latent_space="w+", lr=0.01, feature_block=block, full_forward=True)
    assert latent.prepared_pass is not None and latent.prepared_pass.image
    got = latent.features()
    assert got.shape[-1] == G.img_resolution
    expected = G.synthesize(ws, feature_block=block, fused=False).features[block]
    torch.testing.assert_close(got, F.interpolate(expected, size=G.img_resolution, mode="bilinear",
                                                  align_corners=False), atol=1e-5, rtol=1e-4)
