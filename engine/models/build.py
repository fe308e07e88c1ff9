"""Build networks straight from a config and a state dict.

The networks are constructed with uninitialised placeholder weights and the file's tensors are then
assigned in place of them, so loading never pays for random initialisation and never holds two copies
of the weights. (The `meta` device would do the same, but its first use imports torch._dynamo, which
costs seconds per process.)
"""
from __future__ import annotations

from typing import Any, Callable

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


def _keep(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _assign_strict(module: nn.Module, state: dict[str, torch.Tensor], what: str,
                   prepare: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check every name and shape against the constructed network *before* `prepare` (which may copy)
    touches any tensor, so a file cannot make us copy more than the network it describes; then assign."""
    expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    missing, unexpected = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
    if missing or unexpected:
        raise ModelFileError(f"{what} weights do not match the network described by the file: "
                             f"missing {missing[:8]}, unexpected {unexpected[:8]}")
    for name, tensor in state.items():
        if tuple(tensor.shape) != expected[name]:
            raise ModelFileError(f"{what} tensor {name!r} has shape {list(tensor.shape)}, "
                                 f"expected {list(expected[name])}")
    prepared = {name: prepare(tensor) for name, tensor in state.items()}
    for name, tensor in prepared.items():
        if tensor.dtype != torch.float32:
            raise ModelFileError(f"{what} tensor {name!r} has dtype {tensor.dtype}; expected float32")
    module.load_state_dict(prepared, strict=True, assign=True)


def build_generator(cfg: StyleGAN2Config, state: dict[str, torch.Tensor],
                    prepare: Callable[[torch.Tensor], torch.Tensor] = _keep) -> Generator:
    """Generator in eval mode with gradients off (editing code optimises latents, not weights).

    `prepare` turns each checked file tensor into the one the network keeps (e.g. an owned copy)."""
    with _PlaceholderInit():
        G = Generator(cfg)
    _assign_strict(G, state, "generator", prepare)
    return G.eval().requires_grad_(False)


def build_discriminator(cfg: StyleGAN2Config, state: dict[str, torch.Tensor],
                        prepare: Callable[[torch.Tensor], torch.Tensor] = _keep) -> Discriminator:
    if cfg.d_channels is None:
        raise ModelFileError("the file has discriminator weights but no discriminator config (d_channels)")
    with _PlaceholderInit():
        D = Discriminator(cfg)
    _assign_strict(D, state, "discriminator", prepare)
    return D.eval().requires_grad_(False)
