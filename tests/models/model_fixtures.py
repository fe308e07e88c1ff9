"""Small random StyleGAN2 networks shared by the model-file tests."""
from __future__ import annotations

import torch

from engine.models import Discriminator, Generator, StyleGAN2Config


def small_config(**overrides) -> StyleGAN2Config:
    """32 px, tiny channels: every code path of a real model, at test speed."""
    kwargs = dict(img_resolution=32, channels={4: 32, 8: 32, 16: 16, 32: 8}, z_dim=16, w_dim=16,
                  mapping_layers=2, d_channels={4: 32, 8: 16, 16: 16, 32: 8})
    kwargs.update(overrides)
    return StyleGAN2Config(**kwargs)


def randomize_(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give every parameter and buffer non-trivial values (biases, noise strengths, w_avg are zero at init)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith("resample_filter"):
                continue
            tensor.copy_(torch.randn(tensor.shape, generator=gen) * (0.3 if tensor.ndim <= 1 else 1.0))
    return module.eval()


def make_networks(seed: int = 0, **overrides) -> tuple[Generator, Discriminator | None]:
    """Random G and D (D is None when the config has no d_channels)."""
    cfg = small_config(**overrides)
    torch.manual_seed(seed)
    D = randomize_(Discriminator(cfg), seed + 1) if cfg.d_channels is not None else None
    return randomize_(Generator(cfg), seed), D


def reference_outputs(G: Generator, D: Discriminator | None, seed: int = 123) -> dict[str, torch.Tensor]:
    """Images (const noise), block features and D logits for fixed latents: what a loaded copy must equal."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn([2, G.z_dim], generator=gen)
    c = torch.nn.functional.one_hot(torch.tensor([0, 1]), G.c_dim).float() if G.c_dim else None
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=0.7)
        out = {"ws": ws, "image": G.synthesis(ws, noise_mode="const")}
        for block in G.blocks:
            out[f"features.{block.name}"] = G.synthesize(ws, feature_block=block.name,
                                                         stop_at_features=True).features[block.name]
        if D is not None:
            out["logits"] = D(out["image"], c)
    return out


def assert_same_outputs(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs: max abs diff {(a[key] - b[key]).abs().max()}"
