"""GAN inversion: find a latent (and, for pivotal tuning, a tuned generator) that reproduces an image.

Three stages, each usable alone and chained by the presets:
1. **W projection** — one w broadcast to every row, from the mean w, Adam with warm-up and cosine
   decay, Gaussian noise on w that fades out (escapes poor early minima), and, when the model's noise
   inputs are active, the per-layer noise maps optimised too under an autocorrelation penalty.
2. **W+ refinement** — every row free, started from the W result, with a pull towards the rows' mean
   so the latent stays editable.
3. **Pivotal tuning (PTI)** — a deep copy of the generator fine-tuned so the pivot latent renders the
   image, while latents sampled near the pivot keep rendering what the original generator renders
   (the locality term): edits around the pivot still behave like edits of the model.

Presets: "fast" = W → W+ (the shared generator is used as is); "faithful" = W → W+ → PTI (returns a
per-session generator copy; the service caps the memory those copies take, see docs/inversion.md).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

import torch
import torch.nn.functional as F

from engine.models.precision import PRECISIONS, autocast, resolve_precision

from .image_losses import DiscriminatorFeatureDistance, ms_ssim, psnr


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class InversionSettings:
    """Steps, learning rates and loss weights of the three stages (0 steps skips a stage)."""
    w_steps: int = 80
    w_lr: float = 0.1               # W and W+ lrs are in units of w's per-coordinate spread
    w_plus_steps: int = 120
    w_plus_lr: float = 0.05
    pti_steps: int = 0
    pti_lr: float = 1e-2
    warmup: float = 0.05            # fraction of a stage's steps with a linear lr ramp-up
    rampdown: float = 0.25          # final fraction with a cosine lr decay to 0
    latent_noise: float = 0.05      # initial std of the noise added to w, relative to the w spread
    latent_noise_length: float = 0.75  # fraction of the W stage after which that noise is gone
    noise_regularize: float = 1e5   # weight of the noise-map autocorrelation penalty
    w_plus_pull: float = 0.01       # weight of the W+ rows' squared distance to their mean (per w_std²)
    mse_weight: float = 1.0
    ms_ssim_weight: float = 0.1
    discriminator_weight: float = 0.05
    pti_discriminator_weight: float = 0.0   # PTI fits pixels; D's features cost ~40 % more per step
    lpips_weight: float = 1.0
    locality_every: int = 4         # PTI: a locality step every this many steps
    locality_radius: float = 0.5    # PTI: how far from the pivot (× w spread) the locality samples lie
    locality_weight: float = 1.0
    w_avg_samples: int = 2000
    precision: str = "auto"         # generator passes of the optimisation steps; losses stay float32

    def __post_init__(self) -> None:
        for name in ("w_steps", "w_plus_steps", "pti_steps", "w_avg_samples", "locality_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative int, got {getattr(self, name)!r}")
        if self.w_steps + self.w_plus_steps + self.pti_steps == 0:
            raise ValueError("at least one of w_steps, w_plus_steps, pti_steps must be > 0")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.w_avg_samples < 2:
            raise ValueError(f"w_avg_samples must be >= 2, got {self.w_avg_samples}")


# Tuned on a partly trained bundled 64 px model (astronaut face crop, generator samples), see
# docs/benchmarks.md "Inversion": PTI's published lr 3e-4 reached only 23 dB in 200 steps there; 1e-2
# with a locality step every 4th step reached 28 dB in 300, and 30.4 dB in 450 steps without the D term
# after a shorter W/W+ pivot search, in the same CPU time (~64 s on one core).
PRESETS: dict[str, InversionSettings] = {
    "fast": InversionSettings(),
    "faithful": InversionSettings(w_steps=60, w_plus_steps=60, pti_steps=450),
}


@dataclass
class InversionProgress:
    """Reported after every optimisation step. `image` is filled every `preview_every` steps."""
    stage: str          # "w" | "w+" | "pti"
    step: int           # 1-based, over all stages
    total_steps: int
    loss: float
    psnr: float
    image: torch.Tensor | None = None   # [1, 3, R, R] in [-1, 1]


@dataclass
class StageReport:
    stage: str
    steps: int
    psnr: float
    seconds: float


@dataclass
class InversionResult:
    """`generator` is the PTI-tuned copy, the noise-optimised copy, or the generator passed in."""
    ws: torch.Tensor                 # [1, num_ws, w_dim]
    generator: torch.nn.Module
    psnr: float
    seconds: float
    cancelled: bool
    image: torch.Tensor              # [1, 3, R, R] the result's rendering
    stages: list[StageReport] = field(default_factory=list)


class ReconstructionLoss:
    """Weighted pixel MSE + (1 − MS-SSIM) + discriminator-feature distance + optional LPIPS.

    `visibility` (`[R, R]` in [0, 1], the layer's alpha) makes every term ignore what nobody sees: the
    image is shown to the terms only where the layer is opaque and the target stands in elsewhere, so
    a pixel's gradient is scaled by its alpha and transparent areas (or padding) are left to the model.
    """

    def __init__(self, target: torch.Tensor, settings: InversionSettings,
                 discriminator: torch.nn.Module | None = None,
                 lpips: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 visibility: torch.Tensor | None = None):
        self.target, self.settings, self.lpips = target, settings, lpips
        self.visibility = visibility
        self.d_distance = (DiscriminatorFeatureDistance(discriminator, target)
                           if discriminator is not None and settings.discriminator_weight > 0 else None)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        s = self.settings
        if self.visibility is not None:
            image = self.visibility * image + (1 - self.visibility) * self.target
        loss = s.mse_weight * F.mse_loss(image, self.target)
        if s.ms_ssim_weight > 0:
            loss = loss + s.ms_ssim_weight * (1 - ms_ssim(image, self.target).mean())
        if self.d_distance is not None:
            loss = loss + s.discriminator_weight * self.d_distance(image)
        if self.lpips is not None and s.lpips_weight > 0:
            loss = loss + s.lpips_weight * self.lpips(image, self.target).mean()
        return loss


def learning_rate(base: float, step: int, steps: int, warmup: float, rampdown: float) -> float:
    """Linear warm-up over the first `warmup` fraction, cosine decay to 0 over the last `rampdown`."""
    t = step / max(steps, 1)
    up = min(1.0, t / warmup) if warmup > 0 else 1.0
    down = min(1.0, (1 - t) / rampdown) if rampdown > 0 else 1.0
    return base * up * (0.5 - 0.5 * math.cos(math.pi * down))


@dataclass
class _Run:
    """Step counting, progress reports and cancellation shared by the stages of one inversion."""
    target: torch.Tensor
    total_steps: int
    callback: Callable[[InversionProgress], None] | None
    cancel: CancelFlag | None
    preview_every: int
    dtype: torch.dtype = torch.float32  # of the differentiated generator passes
    visibility: torch.Tensor | None = None  # PSNR over what is visible (see ReconstructionLoss)
    step: int = 0
    cancelled: bool = False

    def report(self, stage: str, loss: torch.Tensor, image: torch.Tensor) -> bool:
        """Count a step and report it; True when the caller must stop (cancelled)."""
        self.step += 1
        if self.callback is not None:
            preview = self.preview_every and self.step % self.preview_every == 0
            self.callback(InversionProgress(stage, self.step, self.total_steps, float(loss.detach()),
                                            psnr(image, self.target, self.visibility),
                                            image.detach().clamp(-1, 1).clone() if preview else None))
        if self.cancel is not None and self.cancel.is_set():
            self.cancelled = True
        return self.cancelled


def latent_statistics(generator, samples: int, seed: int = 0) -> tuple[torch.Tensor, float]:
    """Mean w `[w_dim]` and spread (RMS distance of a sample from the mean) of the mapping's output."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, generator.z_dim, generator=gen).to(generator.device)
    with torch.no_grad():
        w = generator.mapping(z, None)[:, 0].float()
    mean = w.mean(dim=0)
    spread = (w - mean).square().sum(dim=1).mean().sqrt().item()
    return mean, spread


def _noise_layers(generator) -> list[torch.nn.Module]:
    """Synthesis layers whose constant noise input actually reaches the output."""
    layers = []
    for module in generator.modules():
        strength = getattr(module, "noise_strength", None)
        if getattr(module, "noise_const", None) is not None and strength is not None and bool(strength != 0):
            layers.append(module)
    return layers


def _with_own_noise(generator) -> tuple[torch.nn.Module, list[torch.Tensor]]:
    """A copy sharing every weight with `generator` but owning trainable noise maps.

    Optimising noise must not touch the shared generator other sessions use, and a full copy would
    cost the weights' memory again; sharing the parameters makes the copy cost only its buffers.
    """
    shared = {id(p): p for p in generator.parameters()}
    twin = copy.deepcopy(generator, memo=shared)
    noise = []
    for layer in _noise_layers(twin):
        tensor = layer.noise_const.detach().clone().requires_grad_(True)
        layer.noise_const = tensor
        noise.append(tensor)
    return twin, noise


def _noise_penalty(noise: list[torch.Tensor]) -> torch.Tensor:
    """Squared autocorrelation at 1-pixel shifts over a pyramid: keeps noise maps from encoding image."""
    total = noise[0].new_zeros(())
    for plane in noise:
        x = plane[None, None]
        while True:
            total = total + (x * torch.roll(x, 1, dims=3)).mean() ** 2 + (x * torch.roll(x, 1, dims=2)).mean() ** 2
            if x.shape[-1] <= 8:
                break
            x = F.avg_pool2d(x, 2)
    return total


def _renormalize(noise: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for plane in noise:
            plane.sub_(plane.mean()).div_(plane.square().mean().sqrt().clamp_min(1e-8))


def _render(generator, ws: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The float32 image for `ws`, through the generator's non-fused path when it has one, its
    convolutions in `dtype`.

    At batch 1 on CPU the non-fused modulated convolution (scale activations instead of building
    per-sample weights) made forward + backward about 2× faster (128 vs 245 ms on the 64 px model).
    """
    synthesis = getattr(generator, "synthesis", None)
    with autocast(ws.device, dtype):
        if hasattr(synthesis, "run"):
            image = synthesis.run(ws, noise_mode="const", fused=False).image
        else:
            image = generator.synthesize(ws, noise_mode="const").image
    return image.float()


def _optimise(stage: str, run: _Run, variables: list[torch.Tensor], base_lr: float, steps: int,
              settings: InversionSettings, step_loss: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
              noise: list[torch.Tensor]) -> None:
    """Adam over `variables` (+ noise maps) with the warm-up/cosine schedule; `step_loss(step)` returns
    (loss, image). Noise maps get their penalty added and are renormalised after every step."""
    trained = variables + noise
    optimizer = torch.optim.Adam(trained, lr=base_lr, betas=(0.9, 0.999))
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(base_lr, step, steps, settings.warmup, settings.rampdown)
        loss, image = step_loss(step)
        if noise:
            loss = loss + settings.noise_regularize * _noise_penalty(noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=trained)
        optimizer.step()
        _renormalize(noise)
        if run.report(stage, loss, image):
            break


def project_w(generator, loss_fn: Callable[[torch.Tensor], torch.Tensor], settings: InversionSettings,
              run: _Run, noise: list[torch.Tensor], w_mean: torch.Tensor, w_spread: float,
              seed: int = 0) -> torch.Tensor:
    """W projection; returns ws `[1, num_ws, w_dim]` (one w repeated)."""
    w = w_mean.detach().clone()[None, None].requires_grad_(True)
    steps = settings.w_steps
    jitter_source = torch.Generator().manual_seed(seed)

    def step_loss(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        fade = max(0.0, 1 - step / (steps * settings.latent_noise_length)) ** 2
        jitter = torch.randn(w.shape, generator=jitter_source).to(w.device) \
            * (w_spread * settings.latent_noise * fade)
        image = _render(generator, (w + jitter).repeat(1, generator.num_ws, 1), run.dtype)
        return loss_fn(image), image

    lr = settings.w_lr * w_spread / math.sqrt(w.shape[-1])
    _optimise("w", run, [w], lr, steps, settings, step_loss, noise)
    return w.detach().repeat(1, generator.num_ws, 1)


def refine_w_plus(generator, loss_fn: Callable[[torch.Tensor], torch.Tensor], settings: InversionSettings,
                  run: _Run, noise: list[torch.Tensor], ws: torch.Tensor, w_spread: float) -> torch.Tensor:
    """W+ refinement from `ws`; returns the refined ws."""
    ws = ws.detach().clone().requires_grad_(True)
    pull = settings.w_plus_pull / max(w_spread, 1e-8) ** 2

    def step_loss(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = _render(generator, ws, run.dtype)
        spread = (ws - ws.mean(dim=1, keepdim=True)).square().sum(dim=2).mean()
        return loss_fn(image) + pull * spread, image

    lr = settings.w_plus_lr * w_spread / math.sqrt(ws.shape[-1])
    _optimise("w+", run, [ws], lr, settings.w_plus_steps, settings, step_loss, noise)
    return ws.detach()


def pivotal_tuning(generator, loss_fn: Callable[[torch.Tensor], torch.Tensor], settings: InversionSettings,
                   run: _Run, pivot: torch.Tensor, w_spread: float, seed: int = 0) -> torch.nn.Module:
    """Fine-tune a deep copy of `generator`'s synthesis network around `pivot`; returns the copy.

    `generator` itself is never modified (its weights serve as the locality reference).
    """
    tuned = copy.deepcopy(generator).eval()
    tuned.requires_grad_(False)
    weights = [p for p in tuned.synthesis.parameters() if p.is_floating_point()]
    for p in weights:
        p.requires_grad_(True)
    sampler = torch.Generator().manual_seed(seed)

    def step_loss(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = _render(tuned, pivot, run.dtype)
        loss = loss_fn(image)
        if settings.locality_every and step % settings.locality_every == 0 and settings.locality_weight > 0:
            nearby = _nearby_latent(generator, pivot, w_spread * settings.locality_radius, sampler)
            with torch.no_grad():
                reference = _render(generator, nearby, run.dtype)
            loss = loss + settings.locality_weight * F.mse_loss(_render(tuned, nearby, run.dtype), reference)
        return loss, image

    _optimise("pti", run, weights, settings.pti_lr, settings.pti_steps, settings, step_loss, [])
    tuned.requires_grad_(False)
    return tuned


def _nearby_latent(generator, pivot: torch.Tensor, radius: float, sampler: torch.Generator) -> torch.Tensor:
    """A latent `radius` away from the pivot, towards a random sample of the mapping network."""
    z = torch.randn(1, generator.z_dim, generator=sampler).to(pivot.device)
    with torch.no_grad():
        w = generator.mapping(z, None)
    direction = w - pivot
    return pivot + radius * direction / direction.flatten(1).norm(dim=1).clamp_min(1e-8).view(-1, 1, 1) \
        * math.sqrt(pivot.shape[1])


def _check_target(generator, target: torch.Tensor) -> torch.Tensor:
    res = generator.img_resolution
    if not isinstance(target, torch.Tensor) or tuple(target.shape) != (1, 3, res, res):
        shape = list(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
        raise ValueError(f"target must be a tensor of shape [1, 3, {res}, {res}] in [-1, 1], got {shape}")
    if not torch.isfinite(target).all() or target.min() < -1.001 or target.max() > 1.001:
        raise ValueError("target values must be finite and in [-1, 1]")
    if getattr(generator, "c_dim", 0):
        raise ValueError("inversion of class-conditional models is not supported (generator.c_dim > 0)")
    return target.detach().to(generator.device, torch.float32)


def _check_alpha(alpha: torch.Tensor | None, res: int, device: torch.device) -> torch.Tensor | None:
    """The visibility weight `[1, 1, R, R]`, or None when everything is opaque (no weighting needed)."""
    if alpha is None:
        return None
    if not isinstance(alpha, torch.Tensor) or tuple(alpha.shape) != (res, res):
        shape = list(alpha.shape) if isinstance(alpha, torch.Tensor) else type(alpha).__name__
        raise ValueError(f"target_alpha must be a tensor of shape [{res}, {res}] in [0, 1], got {shape}")
    if not torch.isfinite(alpha).all() or alpha.min() < 0 or alpha.max() > 1:
        raise ValueError("target_alpha values must be finite and in [0, 1]")
    if alpha.max() == 0:
        raise ValueError("target_alpha is 0 everywhere: the region is fully transparent, nothing to invert")
    if alpha.min() == 1:
        return None
    return alpha.detach().to(device, torch.float32)[None, None]


def invert(generator, target: torch.Tensor, preset: str = "fast",
           discriminator: torch.nn.Module | None = None,
           callback: Callable[[InversionProgress], None] | None = None, cancel: CancelFlag | None = None,
           *, settings: InversionSettings | None = None,
           lpips: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
           preview_every: int = 0, seed: int = 0, target_alpha: torch.Tensor | None = None) -> InversionResult:
    """Invert `target` (`[1, 3, R, R]` in [-1, 1]) with a preset ("fast" | "faithful") or explicit settings.

    `target_alpha` (`[R, R]` in [0, 1], e.g. `Region.alpha`) weights every loss term and the reported
    PSNR by visibility, so transparent parts of a layer (and reflected padding) are not fitted.

    `discriminator` (the model's D, when its file carries one) adds a perceptual term; `lpips` is an
    optional distance callable, e.g. VGG16-LPIPS from weights the user has on disk. `callback` gets an
    `InversionProgress` every step; `cancel.is_set()` is checked every step and a cancelled inversion
    returns its current state with `cancelled=True`. Deterministic for a given `seed`.
    """
    if settings is None:
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
        settings = PRESETS[preset]
    if preview_every < 0:
        raise ValueError(f"preview_every must be >= 0, got {preview_every}")
    target = _check_target(generator, target)
    visibility = _check_alpha(target_alpha, generator.img_resolution, target.device)
    started = time.perf_counter()
    run = _Run(target, settings.w_steps + settings.w_plus_steps + settings.pti_steps, callback, cancel,
               preview_every, resolve_precision(settings.precision, target.device), visibility)
    loss_fn = ReconstructionLoss(target, settings, discriminator, lpips, visibility)
    w_mean, w_spread = latent_statistics(generator, settings.w_avg_samples, seed)

    working, noise = (_with_own_noise(generator) if _noise_layers(generator) and
                      settings.w_steps + settings.w_plus_steps > 0 else (generator, []))
    ws = w_mean[None, None].repeat(1, generator.num_ws, 1)
    stages: list[StageReport] = []

    def finish_stage(stage: str, steps: int, stage_start: float, net, latent: torch.Tensor) -> None:
        with torch.no_grad():
            stages.append(StageReport(stage, steps, psnr(_render(net, latent), target, visibility),
                                      time.perf_counter() - stage_start))

    if settings.w_steps and not run.cancelled:
        t0, s0 = time.perf_counter(), run.step
        ws = project_w(working, loss_fn, settings, run, noise, w_mean, w_spread, seed)
        finish_stage("w", run.step - s0, t0, working, ws)
    if settings.w_plus_steps and not run.cancelled:
        t0, s0 = time.perf_counter(), run.step
        ws = refine_w_plus(working, loss_fn, settings, run, noise, ws, w_spread)
        finish_stage("w+", run.step - s0, t0, working, ws)
    for plane in noise:
        plane.requires_grad_(False)
    if settings.pti_steps and not run.cancelled:
        t0, s0 = time.perf_counter(), run.step
        pti_loss = ReconstructionLoss(target, replace(settings, discriminator_weight=settings.pti_discriminator_weight),
                                      discriminator, lpips, visibility)
        working = pivotal_tuning(working, pti_loss, settings, run, ws, w_spread, seed)
        finish_stage("pti", run.step - s0, t0, working, ws)

    with torch.no_grad():
        image = _render(working, ws).clamp(-1, 1)
    return InversionResult(ws=ws, generator=working, psnr=psnr(image, target, visibility),
                           seconds=time.perf_counter() - started, cancelled=run.cancelled, image=image,
                           stages=stages)


def preset_settings(preset: str, **overrides) -> InversionSettings:
    """A preset's settings with some fields replaced (e.g. fewer steps in tests or benchmarks)."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return replace(PRESETS[preset], **overrides)
