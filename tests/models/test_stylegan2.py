"""Generator core: NVIDIA-compatible names/shapes and the math of each operation against naive
re-derivations written independently in this file."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from engine.models import Discriminator, Generator, StyleGAN2Config
from engine.models.ops import conv2d_resample, make_resample_filter, modulated_conv2d, upsample2d


def small_config(**kw) -> StyleGAN2Config:
    base = dict(z_dim=32, w_dim=32, mapping_layers=2,
                d_channels={32: 16, 16: 16, 8: 16, 4: 16})
    base.update(kw)
    return StyleGAN2Config(img_resolution=32, channels={4: 32, 8: 32, 16: 16, 32: 8}, **base)


def seeded_generator(cfg: StyleGAN2Config, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    G = Generator(cfg).eval()
    with torch.no_grad():  # non-zero noise strengths and biases so every term is exercised
        for name, p in G.named_parameters():
            if name.endswith("noise_strength") or name.endswith(".bias"):
                p.add_(torch.randn_like(p) * 0.1)
        G.mapping.w_avg.normal_()
    return G


def test_ffhq512_state_dict_matches_nvidia_layout():
    cfg = StyleGAN2Config.from_base(512, conv_clamp=256)
    G = Generator(cfg)
    sd = {k: tuple(v.shape) for k, v in G.state_dict().items()}
    assert G.num_ws == 16
    assert sd["mapping.fc0.weight"] == (512, 512) and "mapping.fc7.bias" in sd
    assert sd["mapping.w_avg"] == (512,)
    assert sd["synthesis.b4.const"] == (512, 4, 4)
    assert sd["synthesis.b4.resample_filter"] == (4, 4)
    assert sd["synthesis.b4.conv1.noise_const"] == (4, 4)
    assert sd["synthesis.b4.conv1.noise_strength"] == ()
    assert sd["synthesis.b128.conv0.weight"] == (256, 512, 3, 3)
    assert sd["synthesis.b512.conv1.affine.weight"] == (64, 512)
    assert sd["synthesis.b512.torgb.weight"] == (3, 64, 1, 1)
    assert sd["synthesis.b512.conv1.noise_const"] == (512, 512)
    assert "synthesis.b4.conv0.weight" not in sd
    # 16 ws for 512 px: 1 + 2*7 convs + the last ToRGB
    assert G.blocks[5].name == "b128" and G.blocks[5].channels == 256


def test_resample_filter_is_normalised_outer_product():
    f = make_resample_filter()
    expected = torch.tensor([1., 3., 3., 1.])
    expected = torch.outer(expected, expected) / 64
    assert torch.allclose(f, expected)


def test_upsample2d_preserves_a_constant_image_in_the_interior():
    x = torch.full([1, 3, 8, 8], 0.7)
    y = upsample2d(x, make_resample_filter())
    assert y.shape == (1, 3, 16, 16)
    assert torch.allclose(y[..., 2:-2, 2:-2], torch.full_like(y[..., 2:-2, 2:-2], 0.7), atol=1e-6)


def naive_upsampling_conv(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Transposed stride-2 conv written as zero insertion + full correlation with the flipped kernel,
    then the FIR filter (×4 gain) as a correlation with the flipped filter, padding 1."""
    n, c, h, wd = x.shape
    k = w.shape[-1]
    z = torch.zeros(n, c, 2 * h - 1, 2 * wd - 1)
    z[:, :, ::2, ::2] = x
    z = F.pad(z, [k - 1] * 4)
    y = F.conv2d(z, w.flip([2, 3]))  # conv_transpose2d == correlation with the flipped kernel
    kernel = (f * 4).flip([0, 1])[None, None].repeat(y.shape[1], 1, 1, 1)
    return F.conv2d(F.pad(y, [1, 1, 1, 1]), kernel, groups=y.shape[1])


def test_upsampling_conv_matches_naive_derivation():
    torch.manual_seed(1)
    x = torch.randn(2, 5, 6, 6)
    w = torch.randn(7, 5, 3, 3)
    f = make_resample_filter()
    got = conv2d_resample(x, w, f=f, up=2, padding=1)
    assert got.shape == (2, 7, 12, 12)
    assert torch.allclose(got, naive_upsampling_conv(x, w, f), atol=1e-5)


def naive_modulated_conv(x, weight, styles, up, f):
    outs = []
    for i in range(x.shape[0]):
        wi = weight * styles[i].reshape(1, -1, 1, 1)
        wi = wi * (wi.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt()
        xi = x[i:i + 1]
        outs.append(naive_upsampling_conv(xi, wi, f) if up == 2 else F.conv2d(xi, wi, padding=1))
    return torch.cat(outs)


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("fused", [True, False])
def test_modulated_conv_matches_per_sample_reference(up, fused):
    torch.manual_seed(2)
    x = torch.randn(3, 4, 8, 8)
    weight = torch.randn(6, 4, 3, 3)
    styles = torch.randn(3, 4) + 1
    f = make_resample_filter()
    got = modulated_conv2d(x, weight, styles, up=up, padding=1, resample_filter=f, fused=fused)
    assert torch.allclose(got, naive_modulated_conv(x, weight, styles, up, f), atol=1e-4)


def test_mapping_normalises_z_and_applies_truncation():
    G = seeded_generator(small_config())
    z = torch.randn(4, 32)
    ws = G.mapping(z)
    assert ws.shape == (4, G.num_ws, 32)
    assert torch.equal(ws[:, 0], ws[:, -1])
    # z is normalised to unit second moment, so its scale does not matter
    assert torch.allclose(G.mapping(z * 3.0), ws, atol=1e-5)
    ws_t = G.mapping(z, truncation_psi=0.5)
    assert torch.allclose(ws_t, G.w_avg + 0.5 * (ws - G.w_avg), atol=1e-5)
    ws_c = G.mapping(z, truncation_psi=0.5, truncation_cutoff=3)
    assert torch.allclose(ws_c[:, :3], ws_t[:, :3]) and torch.equal(ws_c[:, 3:], ws[:, 3:])


def test_each_block_reads_its_own_ws_rows():
    """Changing ws row k must leave every block before the first reader of row k untouched."""
    G = seeded_generator(small_config())
    ws = G.mapping(torch.randn(1, 32))
    base = G.synthesis.run(ws, keep=("b4", "b8", "b16", "b32"))
    ws2 = ws.clone()
    ws2[:, 3] += 1.0  # row 3 = b8.torgb / b16.conv0 (NVIDIA's sharing of ToRGB and the next conv0)
    out = G.synthesis.run(ws2, keep=("b4", "b8", "b16", "b32"))
    assert torch.equal(out.features["b8"], base.features["b8"])
    assert not torch.allclose(out.features["b16"], base.features["b16"])
    assert G.num_ws == 8


def test_stopping_early_returns_the_same_features_and_no_image():
    G = seeded_generator(small_config())
    ws = G.mapping(torch.randn(2, 32))
    full = G.synthesize(ws, feature_block="b16")
    early = G.synthesize(ws, feature_block="b16", stop_at_features=True)
    assert early.image is None
    assert torch.equal(full.features["b16"], early.features["b16"])
    assert full.image.shape == (2, 3, 32, 32)


def test_noise_modes():
    G = seeded_generator(small_config())
    ws = G.mapping(torch.randn(1, 32))
    const1, const2 = G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const")
    assert torch.equal(const1, const2)
    torch.manual_seed(0)
    r1 = G.synthesis(ws, noise_mode="random")
    torch.manual_seed(1)
    r2 = G.synthesis(ws, noise_mode="random")
    assert not torch.allclose(r1, r2)
    none = G.synthesis(ws, noise_mode="none")
    assert not torch.allclose(none, const1)
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="loud")


def test_fused_and_batched_training_path_agree():
    G = seeded_generator(small_config())
    ws = G.mapping(torch.randn(3, 32))
    fused = G.synthesis.run(ws, fused=True).image
    batched = G.synthesis.run(ws, fused=False).image
    assert torch.allclose(fused, batched, atol=1e-5)


def test_batch_composition_does_not_change_results():
    G = seeded_generator(small_config())
    ws = G.mapping(torch.randn(3, 32))
    together = G.synthesis(ws)
    alone = torch.cat([G.synthesis(ws[i:i + 1]) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_conv_clamp_bounds_activations():
    G = seeded_generator(small_config(conv_clamp=0.05))
    out = G.synthesize(G.mapping(torch.randn(1, 32)), feature_block="b16")
    assert out.features["b16"].abs().max() <= 0.05 + 1e-6


@pytest.mark.parametrize("arch", ["skip", "resnet", "orig"])
def test_architectures_build_and_render(arch):
    G = seeded_generator(small_config(architecture=arch))
    img = G(torch.randn(2, 32))
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()
    assert ("synthesis.b8.skip.weight" in G.state_dict()) == (arch == "resnet")
    assert ("synthesis.b8.torgb.weight" in G.state_dict()) == (arch == "skip")


def test_conditional_mapping_requires_and_uses_labels():
    G = seeded_generator(small_config(c_dim=3))
    z = torch.randn(2, 32)
    with pytest.raises(ValueError, match="conditional"):
        G.mapping(z)
    a = G.mapping(z, torch.eye(3)[:2])
    b = G.mapping(z, torch.eye(3)[1:])
    assert not torch.allclose(a, b)
    assert G.state_dict()["mapping.embed.weight"].shape == (32, 3)


def test_discriminator_shapes_and_feature_hook():
    cfg = small_config()
    D = Discriminator(cfg)
    feats: list[torch.Tensor] = []
    logits = D(torch.randn(4, 3, 32, 32), features=feats)
    assert logits.shape == (4, 1)
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 4]
    sd = D.state_dict()
    assert sd["b32.fromrgb.weight"].shape == (16, 3, 1, 1)
    assert sd["b4.conv.weight"].shape == (16, 17, 3, 3)  # +1 minibatch-std channel
    assert sd["b4.fc.weight"].shape == (16, 16 * 16)


def test_config_rejects_bad_resolution_and_roundtrips_json():
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN2Config(img_resolution=48, channels={4: 8})
    with pytest.raises(ValueError, match="positive"):
        StyleGAN2Config(img_resolution=8, channels={4: 8, 8: 0})
    cfg = small_config(conv_clamp=256.0)
    assert StyleGAN2Config.from_json_dict(cfg.to_json_dict()) == cfg


def test_any_resolution_from_4_to_1024_builds():
    for res in (4, 8, 1024):
        cfg = StyleGAN2Config.from_base(res, channel_base=4096, channel_max=8, z_dim=8, w_dim=8, mapping_layers=1)
        G = Generator(cfg)
        assert G.num_ws == 2 * int(math.log2(res)) - 2
    assert Generator(StyleGAN2Config.from_base(8, channel_base=64, channel_max=4, z_dim=4, w_dim=4,
                                               mapping_layers=1))(torch.randn(1, 4)).shape == (1, 3, 8, 8)


