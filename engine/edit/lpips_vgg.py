"""VGG16-LPIPS perceptual distance from weight files the user already has on disk (never downloaded).

Two files are needed, each a plain state dict (`.safetensors`, or a `.pth`/`.pt` tensor-only pickle read
with `torch.load(weights_only=True)`, which refuses code):
- the VGG16 backbone in torchvision's layout: `features.{0,2,5,...,28}.weight|bias`;
- the LPIPS v0.1 linear heads in the `lpips` package's layout: `lin{0..4}.model.1.weight`, `[1, C, 1, 1]`.

The distance compares unit-normalised activations after relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3,
weights their squared differences per channel by the heads, averages over space and sums the layers.
Images are used at their own size (upsampling a 64 px crop to 224 px would cost ~40× more per step).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

# VGG16 "D" layout: channels per conv, "M" = 2× max-pool. Taps: after the last conv of each of 5 stages.
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
TAP_CHANNELS = (64, 128, 256, 512, 512)
# LPIPS input scaling (images in [-1, 1]).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def _read_state_dict(path: str | os.PathLike, what: str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} weights file not found: {path}")
    with path.open("rb") as f:
        head = f.read(9)
    if head[8:9] == b"{":    # safetensors: 8-byte header length, then the JSON header
        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling refusal is the user's file problem
        raise ValueError(f"{what} weights file {path} is not a tensor-only state dict: {exc}") from exc
    if not isinstance(state, dict):
        raise ValueError(f"{what} weights file {path} does not hold a state dict")
    return state


def _take(state: dict[str, torch.Tensor], key: str, shape: tuple[int, ...], what: str) -> torch.Tensor:
    if key not in state:
        raise ValueError(f"{what} weights lack {key!r}")
    tensor = state[key]
    if tuple(tensor.shape) != shape:
        raise ValueError(f"{what} weight {key!r} has shape {list(tensor.shape)}, expected {list(shape)}")
    return tensor.float()


class VGG16LPIPS(torch.nn.Module):
    """`distance(x, y) -> [N]` for images `[N, 3, H, W]` in [-1, 1]; frozen weights."""

    def __init__(self, backbone: dict[str, torch.Tensor], heads: dict[str, torch.Tensor]):
        super().__init__()
        self.convs = torch.nn.ParameterList()
        self.stage_ends: list[int] = []     # index of the conv after which a tap is taken
        in_channels, index = 3, 0
        for item in VGG16_LAYOUT:
            if item == "M":
                self.stage_ends.append(len(self.convs) - 1)
                index += 1
                continue
            self.convs.append(_take(backbone, f"features.{index}.weight", (item, in_channels, 3, 3), "VGG16"))
            self.convs.append(_take(backbone, f"features.{index}.bias", (item,), "VGG16"))
            in_channels, index = item, index + 2
        self.stage_ends.append(len(self.convs) - 1)
        self.heads = torch.nn.ParameterList(
            _take(heads, f"lin{i}.model.1.weight", (1, c, 1, 1), "LPIPS") for i, c in enumerate(TAP_CHANNELS))
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        taps = []
        for i in range(0, len(self.convs), 2):
            x = F.relu(F.conv2d(x, self.convs[i], self.convs[i + 1], padding=1))
            if i + 1 in self.stage_ends:
                taps.append(x)
                if len(taps) < len(TAP_CHANNELS):
                    x = F.max_pool2d(x, 2)
        return taps

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(x.shape[0])
        for fx, fy, head in zip(self._taps(x), self._taps(y), self.heads):
            fx = fx / (fx.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            fy = fy / (fy.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + F.conv2d((fx - fy).square(), head).mean(dim=(1, 2, 3))
        return total


def load_vgg16_lpips(backbone_path: str | os.PathLike, heads_path: str | os.PathLike,
                     device: str | torch.device = "cpu") -> VGG16LPIPS:
    """Build the distance from local files (see the module docstring for the expected layouts)."""
    model = VGG16LPIPS(_read_state_dict(backbone_path, "VGG16"), _read_state_dict(heads_path, "LPIPS"))
    return model.to(device).eval()
