"""Low-level StyleGAN2 operations in plain PyTorch (no custom CUDA kernels).

The semantics follow NVIDIA's reference ("ref") code paths so that weights from their network pickles
produce the same numbers; the implementations are ours and run on CPU, CUDA and MPS alike.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

LRELU_ALPHA = 0.2
LRELU_GAIN = math.sqrt(2.0)

_DERIVED_ATTRIBUTE = "_latentdrag_derived"


def derived_from_weight(weight: torch.Tensor, name: str, compute: Callable[[torch.Tensor], torch.Tensor]
                        ) -> torch.Tensor:
    """`compute(weight)`, remembered until the weight changes (in place or by being replaced).

    Drags and inversions run thousands of passes over frozen weights; at 64 px recomputing the
    demodulation norms and the transposed upsampling kernels every pass was 40 % of a drag step.
    Weights that take part in autograd (training, pivotal tuning) are always recomputed so gradients
    reach them. The values live on the weight tensor itself, so they go when it goes.
    """
    if weight.requires_grad and torch.is_grad_enabled():
        return compute(weight)
    stamp = (weight._version, weight.data_ptr(), weight.dtype, weight.device)
    entries = weight.__dict__.setdefault(_DERIVED_ATTRIBUTE, {})
    cached = entries.get(name)
    if cached is None or cached[0] != stamp:
        with torch.no_grad():
            cached = (stamp, compute(weight))
        entries[name] = cached
    return cached[1]


def weight_as(weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`weight` in `dtype` (autocast runs), converted once per weight version."""
    if weight.dtype == dtype:
        return weight
    return derived_from_weight(weight, f"as {dtype}", lambda w: w.to(dtype))


def is_channels_last(x: torch.Tensor) -> bool:
    """Activations laid out channels-last (NHWC) and not also plain contiguous (C = 1 or 1 × 1 maps)."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def conv_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a convolution of `x` runs in: autocast's where autocast is on, else x's own. Inputs
    cast to it first get their weight from `weight_as`, converted once per weight version; left to
    autocast, a float32 input (the const block's) had its 256×256×3×3 weight converted on every pass
    (0.16 ms of a 9 ms bf16 drag step at 64 px by the profiler; the same values either way)."""
    try:
        enabled = torch.is_autocast_enabled(x.device.type)
    except TypeError:  # torch < 2.4 takes no device type here: leave the casts to autocast
        return x.dtype
    return torch.get_autocast_dtype(x.device.type) if enabled and x.is_floating_point() else x.dtype


def make_resample_filter(taps: tuple[float, ...] = (1, 3, 3, 1)) -> torch.Tensor:
    """2-D FIR filter as NVIDIA stores it in `resample_filter` buffers: outer product, sum 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def bias_act(x: torch.Tensor, bias: torch.Tensor | None, act: str = "linear", gain: float = 1.0,
             clamp: float | None = None) -> torch.Tensor:
    """Add a per-channel bias, apply the activation, scale by `gain`, clamp to ±clamp."""
    if bias is not None:
        x = x + bias.reshape([1, -1] + [1] * (x.ndim - 2)).to(x.dtype)
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_ALPHA)
    elif act != "linear":
        raise ValueError(f"unsupported activation {act!r}")
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample by zero insertion, pad (x0, x1, y0, y1; negative crops), FIR-filter, downsample.

    `f` is a 2-D filter; it is scaled by `gain` (the caller passes up**2 to keep the DC level) and
    flipped as in true convolution (the StyleGAN filters are symmetric, so this matters only for
    exotic files).
    """
    n, c, h, w = x.shape
    if up > 1:
        keep_layout = is_channels_last(x)
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
        if keep_layout:  # zero insertion went through NCHW
            x = x.contiguous(memory_format=torch.channels_last)
    x = fir_filter(x, fir_kernel(f, c, x.dtype, gain), pad)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def fir_kernel(f: torch.Tensor, channels: int, dtype: torch.dtype, gain: float = 1.0) -> torch.Tensor:
    """The depthwise convolution kernel [C, 1, kh, kw] that applies the FIR filter `f` (scaled, flipped)."""
    kernel = (f * gain).to(dtype).flip([0, 1])
    return kernel[None, None].expand(channels, 1, *kernel.shape)


def fir_filter(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Pad (x0, x1, y0, y1; negative crops) and apply a `fir_kernel`."""
    px0, px1, py0, py1 = pad
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    return F.conv2d(x, kernel, groups=x.shape[1])


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2× upsampling with the FIR filter (used on the RGB skip path)."""
    fw = f.shape[-1]
    return upfirdn2d(x, f, up=2, pad=((fw + 1) // 2, (fw - 2) // 2, (fw + 1) // 2, (fw - 2) // 2), gain=4)


def downsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2× downsampling with the FIR filter."""
    fw = f.shape[-1]
    p0, p1 = (fw - 1) // 2, (fw - 2) // 2
    return upfirdn2d(x, f, down=2, pad=(p0, p1, p0, p1))


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1,
                    down: int = 1, padding: int = 0, groups: int = 1) -> torch.Tensor:
    """Convolution fused with 2× FIR up- or downsampling, with NVIDIA's padding arithmetic.

    Upsampling uses a stride-2 transposed convolution followed by the FIR filter; downsampling
    filters first and then uses a stride-2 convolution. Weights are used as stored (cross-correlation
    for plain and down convs, un-flipped kernels for the transposed conv), as in the reference.
    """
    out_ch, in_per_group, kh, kw = w.shape
    if up == 1 and down == 1:
        return F.conv2d(x, w, padding=padding, groups=groups)
    fw = f.shape[-1]
    if down > 1:
        p0 = padding + (fw - down + 1) // 2
        p1 = padding + (fw - down) // 2
        if kw == 1 and kh == 1:
            x = upfirdn2d(x, f, down=down, pad=(p0, p1, p0, p1))
            return F.conv2d(x, w, groups=groups)
        x = upfirdn2d(x, f, pad=(p0, p1, p0, p1))
        return F.conv2d(x, w, stride=down, groups=groups)
    # up > 1
    if kw == 1 and kh == 1:
        p0 = padding + (fw + up - 1) // 2
        p1 = padding + (fw - up) // 2
        x = F.conv2d(x, w, groups=groups)
        return upfirdn2d(x, f, up=up, pad=(p0, p1, p0, p1), gain=up * up)
    if groups == 1:
        wt = derived_from_weight(w, "transposed", lambda v: v.transpose(0, 1).contiguous())
    else:
        wt = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
        wt = wt.reshape(groups * in_per_group, out_ch // groups, kh, kw)
    pt, fir_pad = transposed_conv_padding(kw, fw, padding, up)
    x = F.conv_transpose2d(x, wt, stride=up, padding=pt, groups=groups)
    return upfirdn2d(x, f, pad=fir_pad, gain=up * up)


def transposed_conv_padding(kernel: int, filter_taps: int, padding: int, up: int
                            ) -> tuple[int, tuple[int, int, int, int]]:
    """NVIDIA's padding arithmetic for an upsampling conv run as a stride-`up` transposed conv and then
    the FIR filter: (the transposed conv's padding, the filter's pad x0, x1, y0, y1)."""
    p0 = padding + (filter_taps + up - 1) // 2 - (kernel - 1)
    p1 = padding + (filter_taps - up) // 2 - (kernel - up)
    pt = max(min(-p0, -p1), 0)
    return pt, (p0 + pt, p1 + pt, p0 + pt, p1 + pt)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     noise: torch.Tensor | None = None, up: int = 1, padding: int = 0,
                     resample_filter: torch.Tensor | None = None, demodulate: bool = True,
                     fused: bool = True) -> torch.Tensor:
    """StyleGAN2 modulated (and demodulated) convolution.

    fused=True builds one weight per sample and runs a grouped convolution (cheapest for batch 1,
    the drag case); fused=False scales activations instead and shares one convolution across the
    batch (much faster for training batches). Both compute the same function.
    """
    n = x.shape[0]
    if not fused:
        # Σ_ikl (w_oikl·s_ni)² = s_n² · Σ_kl w_oikl²: a small matmul instead of an [N, out, in, k, k]
        # per-sample weight tensor, which dominated training-step time on CPU.
        dcoefs = None
        if demodulate:
            weight_norms = derived_from_weight(weight, "square sums", lambda v: v.square().sum(dim=[2, 3]).t())
            with torch.autocast(styles.device.type, enabled=False):
                dcoefs = (styles.square() @ weight_norms + 1e-8).rsqrt()
        x = x * styles.reshape(n, -1, 1, 1).to(x.dtype)
        x = x.to(conv_dtype(x))
        x = conv2d_resample(x, weight_as(weight, x.dtype), f=resample_filter, up=up, padding=padding)
        if dcoefs is not None:
            x = x * dcoefs.reshape(n, -1, 1, 1).to(x.dtype)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return x
    return premodulated_conv2d(x, modulated_weight(weight, styles, demodulate), noise=noise, up=up,
                               padding=padding, resample_filter=resample_filter)


def premodulated_conv2d(x: torch.Tensor, weights: torch.Tensor, noise: torch.Tensor | None = None, up: int = 1,
                        padding: int = 0, resample_filter: torch.Tensor | None = None) -> torch.Tensor:
    """The modulated convolution with per-sample weights [N·out, in, k, k] from `modulated_weight`."""
    n = x.shape[0]
    x = x.to(conv_dtype(x))
    x = conv2d_resample(x.reshape(1, -1, *x.shape[2:]), weight_as(weights, x.dtype), f=resample_filter, up=up,
                        padding=padding, groups=n)
    x = x.reshape(n, -1, *x.shape[2:])
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


def modulated_weight(weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True) -> torch.Tensor:
    """Per-sample modulated (and demodulated) weights [N·out, in, k, k] for a grouped convolution:
    the fused form's weight, which a layer with fixed styles can build once and reuse."""
    n = styles.shape[0]
    _, in_ch, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
    return w.reshape(-1, in_ch, kh, kw)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()
