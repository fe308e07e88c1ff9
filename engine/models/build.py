"""Build networks straight from a config and a state dict.

The networks are constructed with uninitialised placeholder weights and the file's tensors are then
assigned in place of them, so loading never pays for random initialisation and never holds two copies
of the weights. (The `meta` device would do the same, but its first use imports torch._dynamo, which
costs seconds per process.)
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .errors import ModelFileError
from .stylegan2 import Discriminator, Generator, StyleGAN2Config


class _PlaceholderInit(TorchFunctionMode):
    """Turns `torch.randn` into `torch.empty` and skips scalar division of those placeholders
    (FullyConnectedLayer's `randn / lr_multiplier`).

    Safe only because every placeholder is replaced by a file tensor afterwards (strict assign load).
    """

    _SCALINGS = {torch.Tensor.__truediv__, torch.Tensor.div}

    def __init__(self) -> None:
        super().__init__()
        # Held (not just their ids) so that no other tensor can reuse a placeholder's id meanwhile.
        self.placeholders: dict[int, torch.Tensor] = {}

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.randn:
            placeholder = torch.empty(*args, dtype=kwargs.get("dtype"), device=kwargs.get("device"))
            self.placeholders[id(placeholder)] = placeholder
            return placeholder
        if func in self._SCALINGS and id(args[0]) in self.placeholders and isinstance(args[1], (int, float)):
            return args[0]
        return func(*args, **kwargs)


def _assign_strict(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    for name, tensor in state.items():
        if tensor.dtype != torch.float32:
            raise ModelFileError(f"{what} tensor {name!r} has dtype {tensor.dtype}; expected float32")
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise ModelFileError(f"{what} weights do not match the network described by the file: {detail}") from exc


def build_generator(cfg: StyleGAN2Config, state: dict[str, torch.Tensor]) -> Generator:
    """Generator in eval mode with gradients off (editing code optimises latents, not weights)."""
    with _PlaceholderInit():
        G = Generator(cfg)
    _assign_strict(G, state, "generator")
    return G.eval().requires_grad_(False)


def build_discriminator(cfg: StyleGAN2Config, state: dict[str, torch.Tensor]) -> Discriminator:
    if cfg.d_channels is None:
        raise ModelFileError("the file has discriminator weights but no discriminator config (d_channels)")
    with _PlaceholderInit():
        D = Discriminator(cfg)
    _assign_strict(D, state, "discriminator")
    return D.eval().requires_grad_(False)
