"""The discriminator that sharpens the distilled generator: it scores every ~26 px patch of an image
as teacher or student instead of the whole image.

Why a separate, patch-level critic (measured on faces64, docs/model-card.md): the StyleGAN2
discriminator, which judges whole images, fell back to chance within a few dozen G steps, or, with a
slow G, led it into one mask-like face for every z. Blur is a local property; a small fully
convolutional critic finds it at once and keeps finding it, while the strong distillation anchor keeps
the layout. It is training-only: the model file ships the StyleGAN2 discriminator, which inversion reads.
"""
from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """Four convolutions (two of stride 2): one logit per 4×4 pixels, each seeing a 26 px patch."""

    def __init__(self, img_channels: int = 3, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(img_channels, width, 4, 2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 3, 1, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * width, 1, 3, 1, padding=1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Logits [N, 1, H/4, W/4]: positive = looks like the teacher."""
        return self.net(img)
