"""Image similarity terms for inversion: PSNR, SSIM, MS-SSIM and a discriminator-feature distance.

All take images `[N, 3, H, W]` in the generator's [-1, 1] range. MS-SSIM is written here rather than
taken from a package because the published 5-scale form needs images of at least 161 px; this one
uses as many scales as the image allows (3 at 64 px), which is what a small bundled model needs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Per-scale exponents of the original MS-SSIM paper, finest first; renormalised when fewer scales fit.
MS_SSIM_SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
DATA_RANGE = 2.0  # images are in [-1, 1]


def psnr(image: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> float:
    """Peak signal-to-noise ratio in dB over the [-1, 1] range (same as over [0, 1]).

    `weight` (in [0, 1], broadcastable to `[1, 1, H, W]`, e.g. a layer's alpha) averages the squared error over what is visible
    only, so a half-transparent layer is not flattered by the pixels nobody sees."""
    squared = (image.detach().clamp(-1, 1).float() - target.detach().float()).square()
    if weight is None:
        mse = squared.mean().item()
    else:
        w = weight.detach().float().to(squared.device)
        mse = ((squared * w).sum() / (w.sum() * squared.shape[1]).clamp_min(1e-12)).item()
    return float("inf") if mse == 0 else 10 * math.log10(DATA_RANGE ** 2 / mse)


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    taps = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-0.5 * (taps / sigma) ** 2)
    g = g / g.sum()
    return g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)


def _blur(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter per channel."""
    channels = x.shape[1]
    x = F.conv2d(x, window, groups=channels)
    return F.conv2d(x, window.transpose(2, 3), groups=channels)


def _ssim_and_contrast(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean SSIM and mean contrast-structure term."""
    c1, c2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2
    mu_x, mu_y = _blur(x, window), _blur(y, window)
    var_x = _blur(x * x, window) - mu_x ** 2
    var_y = _blur(y * y, window) - mu_y ** 2
    cov = _blur(x * y, window) - mu_x * mu_y
    contrast = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    return (luminance * contrast).flatten(1).mean(1), contrast.flatten(1).mean(1)


def _window_size(side: int) -> int:
    """The standard 11-tap window, shrunk (odd) for images smaller than that."""
    return min(11, side if side % 2 else side - 1)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Single-scale SSIM per image (Gaussian window 11, σ 1.5), `[N]`."""
    window = _gaussian_window(_window_size(min(x.shape[-2:])), 1.5, x.shape[1], x)
    return _ssim_and_contrast(x, y, window)[0]


def ms_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Multi-scale SSIM per image, `[N]`, using every 2× scale that still holds an 11-tap window."""
    size = _window_size(min(x.shape[-2:]))
    window = _gaussian_window(size, 1.5, x.shape[1], x)
    scales = 1
    while scales < len(MS_SSIM_SCALE_WEIGHTS) and min(x.shape[-2:]) // 2 ** scales >= size:
        scales += 1
    weights = torch.tensor(MS_SSIM_SCALE_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    factors = []
    for scale in range(scales):
        full, contrast = _ssim_and_contrast(x, y, window)
        # Negative contrast terms would make the fractional powers undefined.
        factors.append((full if scale == scales - 1 else contrast).clamp_min(1e-6))
        if scale < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return torch.stack(factors, dim=1).pow(weights).prod(dim=1)


class DiscriminatorFeatureDistance:
    """Perceptual distance from a model's own discriminator: normalised feature MSE per D block.

    A StyleGAN discriminator trained on the model's domain sees the structure that matters for it; it
    is the perceptual network a model file can carry, so no VGG weights need downloading. Each block's
    squared error is divided by the target's mean squared activation so every block weighs alike.
    """

    def __init__(self, discriminator: torch.nn.Module, target: torch.Tensor):
        self.discriminator = discriminator
        with torch.no_grad():
            self.target_features = self._features(target)
        self.scales = [f.square().mean().clamp_min(1e-8) for f in self.target_features]

    def _features(self, image: torch.Tensor) -> list[torch.Tensor]:
        features: list[torch.Tensor] = []
        self.discriminator(image, features=features)
        return features

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        features = self._features(image)
        return sum(F.mse_loss(f, t) / s for f, t, s in zip(features, self.target_features, self.scales)
                   ) / len(features)
