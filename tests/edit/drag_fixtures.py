"""Shared pieces of the drag tests: a small deterministic generator and an independent tracker
(patch matching on the rendered images, knowing nothing about the drag's features)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.models import Generator, StyleGAN2Config
from engine.models.stylegan2 import BlockInfo, SynthesisOutput


def small_generator(seed: int = 0) -> Generator:
    """64 px, small channels: fast enough for many drag steps on a shared CPU."""
    cfg = StyleGAN2Config(img_resolution=64, channels={4: 32, 8: 32, 16: 32, 32: 16, 64: 8},
                          z_dim=32, w_dim=32, mapping_layers=2)
    torch.manual_seed(seed)
    return Generator(cfg).eval().requires_grad_(False)


def seed_latent(G: Generator, seed: int, psi: float = 0.7) -> torch.Tensor:
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(seed))
    return G.mapping(z, truncation_psi=psi)


def match_patch(before: torch.Tensor, after: torch.Tensor, point: tuple[float, float],
                search: float, radius: int = 4, upsample: int = 4) -> tuple[float, float]:
    """Where the patch around `point` in `before` is found in `after` ([1, 3, H, W] images): SSD over
    shifts of 1/upsample px within ±search px, on bicubically upsampled images."""
    up_b = F.interpolate(before, scale_factor=upsample, mode="bicubic", align_corners=False)
    up_a = F.interpolate(after, scale_factor=upsample, mode="bicubic", align_corners=False)
    half = radius * upsample
    cx, cy = (round((c + 0.5) * upsample - 0.5) for c in point)
    patch = up_b[:, :, cy - half: cy + half + 1, cx - half: cx + half + 1]
    reach = int(search * upsample)
    padded = F.pad(up_a, [half + reach] * 4, mode="replicate")
    window = padded[:, :, cy: cy + 2 * (half + reach) + 1, cx: cx + 2 * (half + reach) + 1]
    ssd = F.conv2d(window.square(), torch.ones_like(patch[:, :1]).expand(1, 3, -1, -1)) \
        - 2 * F.conv2d(window, patch)
    best = int(ssd.flatten().argmin())
    dy, dx = divmod(best, ssd.shape[-1])
    return (point[0] + (dx - reach) / upsample, point[1] + (dy - reach) / upsample)


class BlobGenerator(torch.nn.Module):
    """A tiny generator with the editing interface whose content *can* move: soft blobs whose centres
    are linear in the ws rows. Each blob's features are random embeddings of its Gaussian and of the
    Gaussian-weighted offsets from its centre (so, like real features, they say *where* in the blob a
    point is), read at each block's own resolution. Lets the drag tests check real motion quickly."""

    def __init__(self, centres: list[tuple[float, float]], seed: int = 0, sigma: float = 4.0,
                 num_ws: int = 4, w_dim: int = 8, channels: int = 16):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.img_resolution, self.num_ws, self.w_dim, self.z_dim = 64, num_ws, w_dim, w_dim
        self.sigma = sigma
        self.register_buffer("base", torch.tensor(centres, dtype=torch.float32))
        k = len(centres)
        # Each row moves every blob a little; rows differ so W and W+ optimisation differ.
        self.register_buffer("motion", torch.randn(num_ws, w_dim, k, 2, generator=g) * 5)
        self.register_buffer("embedding", torch.randn(3 * k, channels, generator=g))
        self.register_buffer("colours", torch.rand(k, 3, generator=g) * 1.5 - 0.5)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self._channels = channels

    @property
    def device(self) -> torch.device:
        return self.base.device

    @property
    def blocks(self) -> list[BlockInfo]:
        return [BlockInfo(f"b{r}", r, self._channels) for r in (4, 8, 16, 32, 64)]

    def block_for_resolution(self, resolution: int) -> str:
        return f"b{resolution}"

    def mapping(self, z: torch.Tensor, c=None, truncation_psi: float = 1, truncation_cutoff=None):
        w = self.w_avg.lerp(z, truncation_psi) * 0.05
        return w[:, None, :].repeat(1, self.num_ws, 1)

    def centres(self, ws: torch.Tensor) -> torch.Tensor:
        return self.base + torch.einsum("nrw,rwkc->nkc", ws, self.motion)[0]

    def _blob_maps(self, ws: torch.Tensor, resolution: int) -> torch.Tensor:
        scale = self.img_resolution / resolution
        axis = (torch.arange(resolution, dtype=torch.float32) + 0.5) * scale - 0.5
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        c = self.centres(ws)
        d2 = (xx[None] - c[:, 0, None, None]) ** 2 + (yy[None] - c[:, 1, None, None]) ** 2
        return torch.exp(-d2 / (2 * self.sigma ** 2)), xx[None] - c[:, 0, None, None], yy[None] - c[:, 1, None, None]

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const", feature_block: str | None = None,
                   stop_at_features: bool = False) -> SynthesisOutput:
        out = SynthesisOutput()
        if feature_block is not None:
            gauss, dx, dy = self._blob_maps(ws, int(feature_block[1:]))
            maps = torch.cat([gauss, gauss * dx / self.sigma, gauss * dy / self.sigma])
            out.features[feature_block] = torch.einsum("kc,kyx->cyx", self.embedding, maps)[None]
            if stop_at_features:
                return out
        gauss = self._blob_maps(ws, self.img_resolution)[0]
        out.image = (torch.einsum("kc,kyx->cyx", self.colours, gauss) - 0.5)[None].clamp(-1, 1)
        return out
