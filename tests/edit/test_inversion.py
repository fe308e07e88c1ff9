"""Inversion on a small generator: W / W+ / PTI improve the fit, cancellation, no side effects."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from drag_fixtures import seed_latent, small_generator
from skimage.metrics import structural_similarity

from engine.edit.image_losses import ms_ssim, psnr, ssim
from engine.edit.inversion import InversionSettings, invert, latent_statistics, preset_settings
from engine.models import Discriminator, StyleGAN2Config

QUICK = dict(w_steps=30, w_plus_steps=30, w_avg_samples=256)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def generator():
    return small_generator(seed=3)


@pytest.fixture(scope="module")
def target(generator):
    with torch.no_grad():
        return generator.synthesize(seed_latent(generator, 11, psi=0.8)).image.clamp(-1, 1)


def start_psnr(generator, target) -> float:
    """PSNR of the image every inversion starts from: the mean w of the mapping's output."""
    w_mean, _ = latent_statistics(generator, QUICK["w_avg_samples"])
    with torch.no_grad():
        return psnr(generator.synthesize(w_mean.expand(1, generator.num_ws, -1)).image, target)


def test_w_then_w_plus_fit_a_generator_sample(generator, target):
    result = invert(generator, target, settings=preset_settings("fast", **QUICK))
    stages = {s.stage: s for s in result.stages}
    assert list(stages) == ["w", "w+"] and stages["w"].steps == 30 and stages["w+"].steps == 30
    start = start_psnr(generator, target)
    print(f"start {start:.2f} dB, W {stages['w'].psnr:.2f} dB, W+ {stages['w+'].psnr:.2f} dB")
    assert stages["w"].psnr > start + 1
    assert stages["w+"].psnr > stages["w"].psnr + 3
    assert result.psnr == pytest.approx(stages["w+"].psnr, abs=1e-6)
    assert result.generator is generator and not result.cancelled
    assert result.ws.shape == (1, generator.num_ws, generator.w_dim) and not result.ws.requires_grad
    np.testing.assert_allclose(psnr(result.image, target), result.psnr, atol=1e-6)


def test_same_seed_same_result(generator, target):
    settings = preset_settings("fast", w_steps=5, w_plus_steps=5, w_avg_samples=64)
    a = invert(generator, target, settings=settings, seed=4)
    b = invert(generator, target, settings=settings, seed=4)
    assert torch.equal(a.ws, b.ws)


def test_cancel_stops_within_one_step_and_reports_progress(generator, target):
    cancel = threading.Event()
    seen = []

    def on_progress(progress):
        seen.append(progress)
        if progress.step == 7:
            cancel.set()

    result = invert(generator, target, settings=preset_settings("faithful", **QUICK, pti_steps=10),
                    callback=on_progress, cancel=cancel, preview_every=3)
    assert result.cancelled and len(seen) == 7 and [p.step for p in seen] == list(range(1, 8))
    assert all(p.total_steps == 70 and p.stage == "w" for p in seen)
    assert [p.step for p in seen if p.image is not None] == [3, 6]
    assert seen[5].image.shape == target.shape
    assert result.generator is generator and [s.stage for s in result.stages] == ["w"]


def test_pivotal_tuning_fits_better_and_leaves_the_original_untouched(generator, target):
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    odd_target = target.flip(-1).roll(5, dims=-2)   # not exactly reachable in W+
    result = invert(generator, odd_target, preset="faithful",
                    settings=preset_settings("faithful", **QUICK, pti_steps=40, pti_lr=2e-3))
    stages = {s.stage: s for s in result.stages}
    assert stages["pti"].psnr > stages["w+"].psnr + 1
    assert result.generator is not generator
    assert all(torch.equal(v, generator.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in generator.parameters())
    assert not any(p.requires_grad for p in result.generator.parameters())


def test_locality_term_keeps_distant_latents_close_to_the_original(generator, target):
    odd_target = target.flip(-1)
    probe = seed_latent(generator, 99)
    with torch.no_grad():
        reference = generator.synthesize(probe).image

    def drift(locality_weight: float) -> float:
        settings = preset_settings("faithful", w_steps=10, w_plus_steps=10, w_avg_samples=128,
                                   pti_steps=30, pti_lr=2e-3, locality_every=1, locality_weight=locality_weight)
        tuned = invert(generator, odd_target, settings=settings).generator
        with torch.no_grad():
            return float((tuned.synthesize(probe).image - reference).abs().mean())

    assert drift(10.0) < 0.7 * drift(0.0)


def test_active_noise_is_optimised_in_a_twin_sharing_the_weights(target):
    noisy = small_generator(seed=3)
    with torch.no_grad():
        for module in noisy.modules():
            if hasattr(module, "noise_strength"):
                module.noise_strength.fill_(0.1)
    original_noise = {k: v.clone() for k, v in noisy.state_dict().items() if k.endswith("noise_const")}
    result = invert(noisy, target, settings=preset_settings("fast", w_steps=10, w_plus_steps=10,
                                                            w_avg_samples=64))
    twin = result.generator
    assert twin is not noisy
    assert all(a is b for a, b in zip(twin.parameters(), noisy.parameters()))
    assert all(torch.equal(noisy.state_dict()[k], v) for k, v in original_noise.items())
    assert any(not torch.equal(twin.state_dict()[k], v) for k, v in original_noise.items())
    with torch.no_grad():
        assert psnr(twin.synthesize(result.ws).image, target) == pytest.approx(result.psnr, abs=1e-4)


def test_discriminator_term_is_used_without_touching_d(generator, target):
    cfg = StyleGAN2Config(img_resolution=64, channels=generator.config.channels, z_dim=64, w_dim=64,
                          d_channels={4: 32, 8: 32, 16: 32, 32: 16, 64: 16})
    torch.manual_seed(0)
    discriminator = Discriminator(cfg).eval()
    settings = preset_settings("fast", w_steps=8, w_plus_steps=0, w_avg_samples=64)
    losses = {}
    for name, d in (("plain", None), ("with_d", discriminator)):
        seen = []
        invert(generator, target, settings=settings, discriminator=d, callback=lambda p: seen.append(p.loss))
        losses[name] = seen[0]
    assert losses["with_d"] > losses["plain"]          # same first step, plus the D feature term
    assert all(p.grad is None for p in discriminator.parameters())

    # Pivotal tuning leaves D out unless asked (pti_discriminator_weight).
    pti_losses = {}
    for weight in (0.0, 0.05):
        seen = []
        invert(generator, target, discriminator=discriminator, callback=lambda p: seen.append(p.loss),
               settings=preset_settings("faithful", w_steps=0, w_plus_steps=0, pti_steps=1, w_avg_samples=64,
                                        pti_discriminator_weight=weight))
        pti_losses[weight] = seen[0]
    assert pti_losses[0.05] > pti_losses[0.0]


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(1, 3, 32, 32), r"target must be a tensor of shape \[1, 3, 64, 64\]"),
    (torch.full((1, 3, 64, 64), 2.0), "target values"),
    (np.zeros((64, 64, 3)), "target must be a tensor"),
])
def test_bad_target_is_rejected(generator, bad, message):
    with pytest.raises(ValueError, match=message):
        invert(generator, bad)


def test_bad_preset_and_settings_are_rejected(generator, target):
    with pytest.raises(ValueError, match="preset"):
        invert(generator, target, preset="best")
    with pytest.raises(ValueError, match="w_steps"):
        InversionSettings(w_steps=-1)
    with pytest.raises(ValueError, match="at least one"):
        InversionSettings(w_steps=0, w_plus_steps=0, pti_steps=0)


def test_ssim_matches_scikit_image_and_ms_ssim_orders_distortions():
    rng = np.random.default_rng(0)
    clean = torch.from_numpy(rng.uniform(-1, 1, (1, 3, 64, 64))).float()
    clean = torch.nn.functional.avg_pool2d(clean, 3, 1, 1)       # some spatial structure
    noisy = (clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))).clamp(-1, 1)
    expected = structural_similarity(clean[0].permute(1, 2, 0).numpy(), noisy[0].permute(1, 2, 0).numpy(),
                                     channel_axis=2, data_range=2.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert float(ssim(clean, noisy)) == pytest.approx(expected, abs=1e-4)
    very_noisy = (clean + 0.3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))).clamp(-1, 1)
    assert float(ms_ssim(clean, clean)) == pytest.approx(1.0, abs=1e-5)
    assert 0 < float(ms_ssim(clean, very_noisy)) < float(ms_ssim(clean, noisy)) < 1


def test_lpips_callable_is_part_of_the_loss(generator, target):
    calls = []

    def fake_distance(image, reference):
        calls.append(reference)
        return (image - reference).abs().mean(dim=(1, 2, 3)) * 10

    settings = preset_settings("fast", w_steps=3, w_plus_steps=0, w_avg_samples=64)
    plain, with_lpips = [], []
    invert(generator, target, settings=settings, callback=lambda p: plain.append(p.loss))
    invert(generator, target, settings=settings, lpips=fake_distance, callback=lambda p: with_lpips.append(p.loss))
    assert len(calls) == 3 and all(torch.equal(c, target) for c in calls)
    assert with_lpips[0] > plain[0] + 0.1


def test_transparent_pixels_are_not_fitted(generator, target):
    """Alpha weights every term: what lies under alpha 0 cannot change the result, and the PSNR is
    over the visible part only. (MS-SSIM is off here: its windows straddle the alpha edge.)"""
    res = generator.img_resolution
    alpha = torch.zeros(res, res)
    alpha[:, : res // 2] = 1
    settings = preset_settings("fast", w_steps=10, w_plus_steps=10, w_avg_samples=64, ms_ssim_weight=0.0)
    white, noise = target.clone(), target.clone()
    white[..., res // 2:] = 1
    noise[..., res // 2:] = torch.rand(res, res - res // 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    a = invert(generator, white, settings=settings, target_alpha=alpha)
    b = invert(generator, noise, settings=settings, target_alpha=alpha)
    assert torch.equal(a.ws, b.ws)
    assert a.psnr == pytest.approx(psnr(a.image[..., : res // 2], target[..., : res // 2]), abs=1e-4)
    unweighted = invert(generator, noise, settings=settings)
    assert not torch.equal(unweighted.ws, b.ws)
    assert psnr(b.image[..., : res // 2], target[..., : res // 2]) > \
        psnr(unweighted.image[..., : res // 2], target[..., : res // 2])


@pytest.mark.parametrize("alpha, message", [
    (torch.zeros(64, 64), "fully transparent"),
    (torch.ones(16, 16), "shape"),
    (torch.full((64, 64), 2.0), "in \\[0, 1\\]"),
])
def test_bad_alpha_is_rejected(generator, target, alpha, message):
    with pytest.raises(ValueError, match=message):
        invert(generator, target, settings=preset_settings("fast", w_steps=1, w_plus_steps=0, w_avg_samples=8),
               target_alpha=alpha)
