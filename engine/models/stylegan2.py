"""StyleGAN2 generator and discriminator with NVIDIA's parameter names.

Written from the StyleGAN2 paper and the format facts of NVIDIA's network pickles: every parameter and
buffer has the name and shape of NVIDIA's `G_ema` / `D` state dict, so their weights load 1:1, and the
forward pass reproduces their fp32 numerics. Construction is driven by `StyleGAN2Config`, which the
loaders fill from the resolved attributes and tensor shapes of a model file (never from code in it).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import torch
from torch import nn

from .ops import (LRELU_GAIN, bias_act, conv2d_resample, downsample2d, make_resample_filter,
                  modulated_conv2d, normalize_2nd_moment, upsample2d)

if TYPE_CHECKING:
    from .prepared_pass import PreparedPass

NOISE_MODES = ("const", "random", "none")


@dataclass
class StyleGAN2Config:
    """Everything needed to build a StyleGAN2 generator (and optionally its discriminator).

    `channels` maps each block resolution to its channel count, so any channel layout works, not
    only `min(channel_base // res, channel_max)`.
    """
    img_resolution: int
    channels: dict[int, int]
    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_channels: int = 3
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    embed_features: int | None = None
    layer_features: int | None = None
    w_avg_beta: float | None = 0.995
    architecture: str = "skip"
    conv_clamp: float | None = None
    use_noise: bool = True
    # Discriminator (None when the model has no D).
    d_channels: dict[int, int] | None = None
    d_architecture: str = "resnet"
    d_conv_clamp: float | None = None
    d_mbstd_group_size: int | None = 4
    d_mbstd_num_channels: int = 1
    d_cmap_dim: int = 0
    d_mapping_layers: int = 8

    def __post_init__(self) -> None:
        self.channels = {int(k): int(v) for k, v in self.channels.items()}
        if self.d_channels is not None:
            self.d_channels = {int(k): int(v) for k, v in self.d_channels.items()}
        log2 = math.log2(self.img_resolution)
        if not (4 <= self.img_resolution <= 4096 and log2 == int(log2)):
            raise ValueError(f"img_resolution must be a power of two in 4..4096, got {self.img_resolution}")
        missing = [r for r in self.block_resolutions if r not in self.channels]
        if missing:
            raise ValueError(f"channels missing for block resolutions {missing}")
        if any(self.channels[r] <= 0 for r in self.block_resolutions):
            raise ValueError(f"channel counts must be positive, got {self.channels}")
        if self.architecture not in ("skip", "resnet", "orig"):
            raise ValueError(f"unknown generator architecture {self.architecture!r}")

    @property
    def block_resolutions(self) -> list[int]:
        return [2 ** i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    @classmethod
    def from_base(cls, img_resolution: int, channel_base: int = 32768, channel_max: int = 512,
                  **kwargs) -> "StyleGAN2Config":
        """NVIDIA's channel rule: min(channel_base // res, channel_max) for G (and D if asked)."""
        res = [2 ** i for i in range(2, int(math.log2(img_resolution)) + 1)]
        channels = {r: min(channel_base // r, channel_max) for r in res}
        return cls(img_resolution=img_resolution, channels=channels, **kwargs)

    def to_json_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["channels"] = {str(k): v for k, v in self.channels.items()}
        if self.d_channels is not None:
            d["d_channels"] = {str(k): v for k, v in self.d_channels.items()}
        return d

    @classmethod
    def from_json_dict(cls, d: dict) -> "StyleGAN2Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown StyleGAN2 config keys: {sorted(unknown)}")
        return cls(**d)


class FullyConnectedLayer(nn.Module):
    """Equalized-learning-rate linear layer: stored weights are scaled by lr/√in at run time."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0, bias: bool = True):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        x = x.matmul(w.t())
        return bias_act(x, b, act=self.activation, gain=LRELU_GAIN if self.activation == "lrelu" else 1)


class MappingNetwork(nn.Module):
    """z (and optional class label c) → w, broadcast to num_ws rows, with truncation."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.995):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation="lrelu",
                                        lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        x = None
        if self.z_dim > 0:
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None:
                raise ValueError(f"this model is conditional: c must have shape [N, {self.c_dim}]")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_emas and self.w_avg_beta is not None:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x = x.clone()
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x


class _ModulatedLayer(nn.Module):
    """What the synthesis and ToRGB layers share: styles from w."""
    demodulate = True

    def styles(self, w: torch.Tensor) -> torch.Tensor:
        return self.affine(w)

    def float32_styles(self, w: torch.Tensor) -> torch.Tensor:
        """Styles in float32 even under autocast: tiny matmuls that bf16 made slower and coarser."""
        with torch.autocast(w.device.type, enabled=False):
            return self.styles(w.float())


class SynthesisLayer(_ModulatedLayer):
    """Modulated 3×3 conv (optionally 2× upsampling) + noise + bias + lrelu + clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 use_noise: bool = True, conv_clamp: float | None = None, kernel_size: int = 3):
        super().__init__()
        self.resolution, self.up, self.use_noise, self.conv_clamp = resolution, up, use_noise, conv_clamp
        self.padding = kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.register_buffer("resample_filter", make_resample_filter())
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", fused: bool = True,
                gain: float = 1.0) -> torch.Tensor:
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device,
                                dtype=x.dtype) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(x, self.weight, self.float32_styles(w), noise=noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, fused=fused)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act="lrelu", gain=LRELU_GAIN * gain, clamp=clamp)


class ToRGBLayer(_ModulatedLayer):
    """1×1 modulated conv to RGB, without demodulation."""
    demodulate = False

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def styles(self, w: torch.Tensor) -> torch.Tensor:
        return self.affine(w) * self.weight_gain

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = True) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.float32_styles(w), demodulate=False, fused=fused)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class Conv2dLayer(nn.Module):
    """Plain equalized-lr conv with optional FIR up/downsampling (discriminator, resnet skips)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1, conv_clamp: float | None = None):
        super().__init__()
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.register_buffer("resample_filter", make_resample_filter())
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = LRELU_GAIN if activation == "lrelu" else 1.0
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        x = conv2d_resample(x, w.to(x.dtype), f=self.resample_filter, up=self.up, down=self.down,
                            padding=self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class SynthesisBlock(nn.Module):
    """One resolution level: (const | upsampling conv0) → conv1 → ToRGB, skip or resnet wiring."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip", conv_clamp: float | None = None,
                 use_noise: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.is_last, self.architecture = resolution, is_last, architecture
        self.num_conv = 0
        self.num_torgb = 0
        self.register_buffer("resample_filter", make_resample_filter())
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        use_noise=use_noise, conv_clamp=conv_clamp)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, use_noise=use_noise,
                                    conv_clamp=conv_clamp)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str = "const", fused: bool = True, want_rgb: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        rows = iter(ws.unbind(dim=1))

        def conv(layer: SynthesisLayer, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
            return layer(x, next(rows), noise_mode=noise_mode, fused=fused, gain=gain)

        if self.in_channels == 0:
            x = self.const.to(ws.dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = conv(self.conv1, x)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = conv(self.conv0, x)
            x = conv(self.conv1, x, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = conv(self.conv0, x)
            x = conv(self.conv1, x)
        if not want_rgb:
            return x, None
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(rows), fused=fused).to(torch.float32)
            img = img + y if img is not None else y
        return x, img


@dataclass(frozen=True)
class BlockInfo:
    """What editing code needs to know about a synthesis block."""
    name: str
    resolution: int
    channels: int


@dataclass
class SynthesisOutput:
    """Result of a (possibly truncated) synthesis pass."""
    features: dict[str, torch.Tensor] = field(default_factory=dict)
    image: torch.Tensor | None = None


class SynthesisNetwork(nn.Module):
    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = cfg.w_dim, cfg.img_resolution, cfg.img_channels
        self.block_resolutions = cfg.block_resolutions
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = cfg.channels[res // 2] if res > 4 else 0
            block = SynthesisBlock(in_channels, cfg.channels[res], cfg.w_dim, res, cfg.img_channels,
                                   is_last=(res == cfg.img_resolution), architecture=cfg.architecture,
                                   conv_clamp=cfg.conv_clamp, use_noise=cfg.use_noise)
            self.num_ws += block.num_conv
            if res == cfg.img_resolution:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)

    def blocks(self) -> Iterator[tuple[str, SynthesisBlock]]:
        for res in self.block_resolutions:
            yield f"b{res}", getattr(self, f"b{res}")

    def run(self, ws: torch.Tensor, noise_mode: str = "const", stop_after: str | None = None,
            keep: tuple[str, ...] | None = None, fused: bool | None = None) -> SynthesisOutput:
        """Run blocks in order; `stop_after` ends early (no image), `keep` names feature maps to return.

        The RGB path is skipped entirely when stopping early. (A fast drag step runs
        `engine.models.prepared_pass` instead, built once per drag.)
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        if stop_after is not None and not hasattr(self, stop_after):
            raise ValueError(f"unknown block {stop_after!r}; blocks are "
                             f"{[name for name, _ in self.blocks()]}")
        if fused is None:
            fused = not self.training
        out = SynthesisOutput()
        x = img = None
        w_idx = 0
        for name, block in self.blocks():
            count = block.num_conv + block.num_torgb
            block_ws = ws.narrow(1, w_idx, count)
            w_idx += block.num_conv
            x, img = block(x, img, block_ws, noise_mode=noise_mode, fused=fused, want_rgb=(stop_after is None))
            if keep is not None and name in keep:
                out.features[name] = x
            if name == stop_after:
                return out
        out.image = img
        return out

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = True,
                **_ignored) -> torch.Tensor:
        """NVIDIA-compatible call: ws → image [N, C, H, W] in about [-1, 1] (always fp32 here)."""
        return self.run(ws, noise_mode=noise_mode).image


class Generator(nn.Module):
    """StyleGAN2 generator with NVIDIA's public interface (`G(z, c)`, `G.mapping`, `G.synthesis`)
    plus the small interface the editing code uses (see `engine.models.interface`)."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        self.config = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.synthesis = SynthesisNetwork(cfg)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(cfg.z_dim, cfg.c_dim, cfg.w_dim, self.num_ws,
                                      num_layers=cfg.mapping_layers, embed_features=cfg.embed_features,
                                      layer_features=cfg.layer_features,
                                      lr_multiplier=cfg.mapping_lr_multiplier, w_avg_beta=cfg.w_avg_beta)
        # Drag settings its model file recommends (set by the loader; see engine.edit.drag).
        self.drag_defaults: dict[str, float] = {}

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, noise_mode: str = "const", **synthesis_kwargs
                ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)

    # --- editing interface -------------------------------------------------------------------
    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    @property
    def device(self) -> torch.device:
        return self.synthesis.b4.const.device

    @property
    def blocks(self) -> list[BlockInfo]:
        return [BlockInfo(name, block.resolution, block.out_channels) for name, block in self.synthesis.blocks()]

    def block_for_resolution(self, resolution: int) -> str:
        name = f"b{resolution}"
        if not hasattr(self.synthesis, name):
            raise ValueError(f"no synthesis block at {resolution} px; have {self.synthesis.block_resolutions}")
        return name

    def prepare_pass(self, ws: torch.Tensor, free_rows: int, feature_block: str, dtype: torch.dtype = torch.float32,
                     image: bool = False, prepare_held: bool = True) -> PreparedPass:
        """A drag's differentiated pass, built once per drag (`engine.models.prepared_pass`)."""
        from .prepared_pass import PreparedPass  # it builds on this module's classes
        return PreparedPass(self.synthesis, ws, free_rows, feature_block, dtype, image, prepare_held)

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const", feature_block: str | None = None,
                   stop_at_features: bool = False, fused: bool | None = None) -> SynthesisOutput:
        """Image and/or one block's feature map; `stop_at_features` skips every later block.

        `fused=False` picks the unfused modulated conv, whose backward pass to ws is 2–3× cheaper at
        batch 1 on CPU (what a drag step differentiates); None keeps the mode's default."""
        keep = (feature_block,) if feature_block else None
        return self.synthesis.run(ws, noise_mode=noise_mode, keep=keep,
                                  stop_after=feature_block if stop_at_features else None, fused=fused)


class MinibatchStdLayer(nn.Module):
    def __init__(self, group_size: int | None, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = y.square().mean(dim=0)
        y = (y + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4])
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int,
                 img_channels: int, architecture: str = "resnet", conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.resolution, self.architecture = in_channels, resolution, architecture
        self.register_buffer("resample_filter", make_resample_filter())
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1, activation="lrelu",
                                       conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, activation="lrelu",
                                 conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, kernel_size=3, activation="lrelu", down=2,
                                 conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.in_channels == 0 or self.architecture == "skip":
            y = self.fromrgb(img)
            x = x + y if x is not None else y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x)
            x = self.conv1(x, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv1(self.conv0(x))
        return x, img


class DiscriminatorEpilogue(nn.Module):
    def __init__(self, in_channels: int, cmap_dim: int, resolution: int, img_channels: int,
                 architecture: str = "resnet", mbstd_group_size: int | None = 4, mbstd_num_channels: int = 1,
                 conv_clamp: float | None = None):
        super().__init__()
        self.architecture, self.cmap_dim = architecture, cmap_dim
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, kernel_size=1, activation="lrelu")
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3,
                                activation="lrelu", conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None = None,
                features: list[torch.Tensor] | None = None) -> torch.Tensor:
        if self.architecture == "skip":
            x = x + self.fromrgb(img)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        if features is not None:
            features.append(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class Discriminator(nn.Module):
    """StyleGAN2 discriminator (NVIDIA names). Used for training the bundled model and as a
    perceptual feature extractor for inversion when a model file carries D."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        if cfg.d_channels is None:
            raise ValueError("config has no discriminator channels")
        self.img_resolution, self.img_channels, self.c_dim = cfg.img_resolution, cfg.img_channels, cfg.c_dim
        self.block_resolutions = [2 ** i for i in range(int(math.log2(cfg.img_resolution)), 2, -1)]
        ch = cfg.d_channels
        for res in self.block_resolutions:
            in_channels = ch[res] if res < cfg.img_resolution else 0
            block = DiscriminatorBlock(in_channels, ch[res], ch[res // 2], res, cfg.img_channels,
                                       architecture=cfg.d_architecture, conv_clamp=cfg.d_conv_clamp)
            setattr(self, f"b{res}", block)
        if cfg.c_dim > 0:
            self.mapping = MappingNetwork(0, cfg.c_dim, cfg.d_cmap_dim, num_ws=None, w_avg_beta=None,
                                          num_layers=cfg.d_mapping_layers)
        self.b4 = DiscriminatorEpilogue(ch[4], cfg.d_cmap_dim if cfg.c_dim > 0 else 0, 4, cfg.img_channels,
                                        architecture=cfg.d_architecture, mbstd_group_size=cfg.d_mbstd_group_size,
                                        mbstd_num_channels=cfg.d_mbstd_num_channels, conv_clamp=cfg.d_conv_clamp)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None,
                features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Realness logits [N, 1]; if `features` is a list, each block's output is appended to it."""
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img)
            if features is not None:
                features.append(x)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, img, cmap, features=features)
