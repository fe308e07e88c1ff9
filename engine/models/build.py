"""Build networks straight from a config and a state dict.

Construction happens on the `meta` device and the file's tensors are then assigned, so loading never
pays for random initialisation and never holds two copies of the weights.
"""
from __future__ import annotations

import torch
from torch import nn

from .errors import ModelFileError
from .stylegan2 import Discriminator, Generator, StyleGAN2Config


def _assign_strict(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    for name, tensor in state.items():
        if tensor.dtype != torch.float32:
            raise ModelFileError(f"{what} tensor {name!r} has dtype {tensor.dtype}; expected float32")
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise ModelFileError(f"{what} weights do not match the network described by the file: {detail}") from exc
    left_on_meta = [name for name, t in list(module.named_parameters()) + list(module.named_buffers())
                    if t.is_meta]
    if left_on_meta:
        raise ModelFileError(f"{what} is missing tensors {left_on_meta}")


def build_generator(cfg: StyleGAN2Config, state: dict[str, torch.Tensor]) -> Generator:
    """Generator in eval mode with gradients off (editing code optimises latents, not weights)."""
    with torch.device("meta"):
        G = Generator(cfg)
    _assign_strict(G, state, "generator")
    return G.eval().requires_grad_(False)


def build_discriminator(cfg: StyleGAN2Config, state: dict[str, torch.Tensor]) -> Discriminator:
    if cfg.d_channels is None:
        raise ModelFileError("the file has discriminator weights but no discriminator config (d_channels)")
    with torch.device("meta"):
        D = Discriminator(cfg)
    _assign_strict(D, state, "discriminator")
    return D.eval().requires_grad_(False)
