"""A drag's differentiated synthesis pass, prepared once per drag.

A drag runs the synthesis a few hundred times with the same frozen weights and the same held rows of
W+; only the first rows change. What a layer derives from the weights alone is built here once: the
affine layers' scaled weights, the demodulation tables, the conv weights in the pass's dtype and
memory layout (channels-last on CPU, where oneDNN's batch-1 convolutions run 8–12 % faster), noise and
bias in that dtype, the FIR kernels. Per step each layer is then the bare sequence of ops, with no
lookups in weight caches and no autocast switching (about 1 ms of a 9–11 ms fast step on the bundled
64 px model, docs/drag.md). With `prepare_held` the held rows' modulated weights are built once too
(the fast preset); without, their styles are recomputed every pass, as DragGAN's reference does (the
published preset). The ops and their order are the module path's under autocast
(`SynthesisNetwork.run` with `fused=False`), so the numbers match it (tests/models/test_prepared_pass.py).

The weights are read when the pass is built: a pass must not outlive a change to them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .ops import LRELU_GAIN, bias_act, fir_filter, fir_kernel, modulated_weight, transposed_conv_padding, upsample2d
from .precision import autocast
from .stylegan2 import SynthesisBlock, SynthesisNetwork, SynthesisOutput

if TYPE_CHECKING:
    from .stylegan2 import _ModulatedLayer


@dataclass(frozen=True)
class _Styles:
    """Styles and demodulation of a row the pass computes every time, from weights scaled once."""
    affine_weight: torch.Tensor  # [in_channels, w_dim], float32, the equalized-lr gain applied
    affine_bias: torch.Tensor  # [1, in_channels]
    gain: float  # ToRGB's extra style gain (1 for the synthesis layers)
    square_sums: torch.Tensor | None  # [in, out] Σ_kl weight² (a transposed view, as the module's); None: no demod
    row: int | None  # index into the free rows, or None for a held row
    held_w: torch.Tensor | None  # the held row, when its styles are recomputed every pass


@dataclass(frozen=True)
class _Layer:
    styles: _Styles | None  # None: a held row whose styles are built into `weight`
    weight: torch.Tensor  # conv weight in the pass's dtype and layout; transposed for upsampling
    upsample: tuple[int, int, torch.Tensor, tuple[int, int, int, int]] | None  # factor, conv pad, FIR kernel, pad
    padding: int
    noise: torch.Tensor | None
    bias: torch.Tensor  # [1, C, 1, 1] in the pass's dtype
    activation_gain: float | None  # lrelu and this gain; None: linear (ToRGB)
    clamp: float | None


@dataclass(frozen=True)
class _Block:
    name: str
    block: SynthesisBlock
    layers: list[_Layer]
    torgb: _Layer | None  # run only when the pass renders the image


class PreparedPass:
    """`pass_(free)` → `SynthesisOutput` with the feature block's map [1, C, h, w] in `dtype` (and the
    float32 image with `image=True`), differentiable w.r.t. `free` [1, free_rows, w_dim]; rows from
    `free_rows` on are `ws`'s, held fixed for the pass's life.

    Convolutions run in `dtype`; bfloat16 is autocast's policy made explicit (styles and demodulation
    in float32; held styles, where built once, as autocast computed them).
    """

    def __init__(self, synthesis: SynthesisNetwork, ws: torch.Tensor, free_rows: int, feature_block: str,
                 dtype: torch.dtype = torch.float32, image: bool = False, prepare_held: bool = True):
        if ws.ndim != 3 or ws.shape[0] != 1 or ws.shape[1] != synthesis.num_ws or ws.shape[2] != synthesis.w_dim:
            raise ValueError(f"ws must have shape [1, {synthesis.num_ws}, {synthesis.w_dim}] (one drag), "
                             f"got {list(ws.shape)}")
        if not 1 <= free_rows <= synthesis.num_ws:
            raise ValueError(f"free_rows must be in 1..{synthesis.num_ws}, got {free_rows}")
        names = [name for name, _ in synthesis.blocks()]
        if feature_block not in names:
            raise ValueError(f"unknown block {feature_block!r}; blocks are {names}")
        self.free_rows, self.w_dim, self.feature_block = free_rows, synthesis.w_dim, feature_block
        self.dtype, self.device, self.image = dtype, ws.device, image
        self._prepare_held = prepare_held
        self._layout = torch.channels_last if ws.device.type == "cpu" else torch.contiguous_format
        held = ws.detach()
        self._blocks: list[_Block] = []
        row = 0
        with torch.no_grad():
            for name, block in synthesis.blocks():
                convs = [block.conv1] if block.in_channels == 0 else [block.conv0, block.conv1]
                gains = [1.0] * len(convs)
                if block.in_channels != 0 and block.architecture == "resnet":
                    gains[-1] = math.sqrt(0.5)
                layers = [self._layer(conv, row + i, held, gain) for i, (conv, gain) in enumerate(zip(convs, gains))]
                torgb = None
                if image and block.num_torgb:
                    torgb = self._layer(block.torgb, row + block.num_conv, held, 1.0)
                self._blocks.append(_Block(name, block, layers, torgb))
                row += block.num_conv
                if name == feature_block and not image:
                    break
            const = self._blocks[0].block.const.to(ws.dtype).unsqueeze(0)
            self._const = const.contiguous(memory_format=self._layout)

    def _layer(self, layer: _ModulatedLayer, row: int, held: torch.Tensor, gain: float) -> _Layer:
        is_conv = hasattr(layer, "up")  # a SynthesisLayer; else a ToRGBLayer (1×1, linear, no demod)
        if row < self.free_rows or not self._prepare_held:
            styles = _Styles(layer.affine.weight.float() * layer.affine.weight_gain,
                             (layer.affine.bias.float() * layer.affine.bias_gain).unsqueeze(0),
                             1.0 if is_conv else layer.weight_gain,
                             layer.weight.square().sum(dim=[2, 3]).t() if layer.demodulate else None,
                             row if row < self.free_rows else None,
                             None if row < self.free_rows else held[:, row])
            weight = layer.weight.to(self.dtype)
        else:
            styles = None
            with autocast(self.device, self.dtype):  # the held styles as the autocast pass built them
                weight = modulated_weight(layer.weight, layer.styles(held[:, row]), layer.demodulate)
            weight = weight.to(self.dtype).contiguous()
        upsample = None
        if is_conv and layer.up > 1:
            weight = weight.transpose(0, 1).contiguous()
            f = layer.resample_filter
            pt, fir_pad = transposed_conv_padding(weight.shape[-1], f.shape[-1], layer.padding, layer.up)
            kernel = fir_kernel(f, weight.shape[1], self.dtype, gain=layer.up ** 2).contiguous()
            upsample = (layer.up, pt, kernel, fir_pad)
        noise = None
        if is_conv and layer.use_noise:
            noise = (layer.noise_const * layer.noise_strength).to(self.dtype)
        return _Layer(styles=styles, weight=weight.contiguous(memory_format=self._layout), upsample=upsample,
                      padding=layer.padding if is_conv else 0, noise=noise,
                      bias=layer.bias.to(self.dtype).reshape(1, -1, 1, 1),
                      activation_gain=LRELU_GAIN * gain if is_conv else None,
                      clamp=layer.conv_clamp * gain if layer.conv_clamp is not None else None)

    def __call__(self, free: torch.Tensor) -> SynthesisOutput:
        if free.ndim != 3 or free.shape[0] != 1 or free.shape[1] != self.free_rows or free.shape[2] != self.w_dim:
            raise ValueError(f"free must have shape [1, {self.free_rows}, {self.w_dim}], got {list(free.shape)}")
        rows = free.unbind(dim=1)
        out = SynthesisOutput()
        x = self._const
        img = None
        with torch.autocast(self.device.type, enabled=False):
            for step in self._blocks:
                block = step.block
                skip = None
                if block.in_channels != 0 and block.architecture == "resnet":
                    skip = block.skip(x, gain=math.sqrt(0.5))
                for layer in step.layers:
                    x = self._run(layer, x, rows)
                if skip is not None:
                    x = skip + x
                if step.name == self.feature_block:
                    out.features[self.feature_block] = x
                if img is not None:
                    img = upsample2d(img, block.resample_filter)
                if step.torgb is not None:
                    y = self._run(step.torgb, x, rows).to(torch.float32)
                    img = img + y if img is not None else y
        out.image = img
        return out

    def _run(self, layer: _Layer, x: torch.Tensor, rows: tuple[torch.Tensor, ...]) -> torch.Tensor:
        demodulation = None
        if layer.styles is not None:
            s = layer.styles
            w = rows[s.row] if s.row is not None else s.held_w
            styles = torch.addmm(s.affine_bias, w, s.affine_weight.t())
            if s.gain != 1:
                styles = styles * s.gain
            if s.square_sums is not None:
                demodulation = (styles.square() @ s.square_sums + 1e-8).rsqrt()
            x = x * styles.reshape(1, -1, 1, 1).to(x.dtype)
        x = x.to(self.dtype)
        if layer.upsample is None:
            x = F.conv2d(x, layer.weight, padding=layer.padding)
        else:
            up, pt, kernel, fir_pad = layer.upsample
            x = fir_filter(F.conv_transpose2d(x, layer.weight, stride=up, padding=pt), kernel, fir_pad)
        if demodulation is not None:
            x = x * demodulation.reshape(1, -1, 1, 1).to(x.dtype)
        if layer.noise is not None:
            x = x + layer.noise
        if layer.activation_gain is None:  # the bias is added here, already in the pass's dtype and shape
            return bias_act(x + layer.bias, None, clamp=layer.clamp)
        return bias_act(x + layer.bias, None, act="lrelu", gain=layer.activation_gain, clamp=layer.clamp)
