"""The latent being optimised during a drag, and the forward passes a drag step needs."""
from __future__ import annotations

import inspect

import torch

from engine.models.interface import EditableGenerator
from engine.models.precision import autocast

from .features import upsample_to_image


class LatentOptimizer:
    """Adam over the first `rows` rows of ws (W+: each row free; W: one shared row), the remaining
    rows held at their starting values.

    `full_forward=False` runs the synthesis only up to the feature block and returns the block's own
    low-resolution map; `True` reproduces DragGAN's reference step (whole image every step, features
    bilinearly upsampled to image size). `compute_dtype` bfloat16 runs those passes in bf16 as autocast
    would; previews and the final image are always rendered in float32.
    """

    def __init__(self, generator: EditableGenerator, ws: torch.Tensor, rows: int, latent_space: str,
                 lr: float, feature_block: str, full_forward: bool, compute_dtype: torch.dtype = torch.float32):
        self.generator = generator
        self.feature_block = feature_block
        self.full_forward = full_forward
        self.compute_dtype = compute_dtype
        self.rows = rows
        self.latent_space = latent_space
        self.held = ws[:, rows:].detach()
        start = ws[:, :rows] if latent_space == "w+" else ws[:, :1]
        self.free = start.detach().clone().requires_grad_(True)
        self.optimizer = _adam(self.free, lr)
        # Generators that offer the unfused modulated conv get it for the differentiated passes:
        # its backward to ws measured 2-3x faster at batch 1 on CPU (81-124 vs 243-263 ms, 64 px model).
        parameters = inspect.signature(generator.synthesize).parameters
        self.gradient_pass_options = {"fused": False} if "fused" in parameters else {}
        # Both presets run a pass prepared once per drag where the generator offers one: every value
        # derived from the weights alone built once (docs/drag.md, "Where a step's time goes"). The fast
        # one also builds the held rows' modulated weights once and stops at the feature block;
        # "published" keeps the reference's per-step work: the whole image, every row's styles.
        self.prepared_pass = None
        prepare = getattr(generator, "prepare_pass", None)
        if prepare is not None and ws.shape[0] == 1:
            self.prepared_pass = prepare(ws.detach(), rows, feature_block, compute_dtype, image=full_forward,
                                         prepare_held=not full_forward)

    def free_rows(self) -> torch.Tensor:
        return self.free if self.latent_space == "w+" else self.free.expand(-1, self.rows, -1)

    def ws(self) -> torch.Tensor:
        return torch.cat([self.free_rows(), self.held], dim=1)

    def features(self) -> torch.Tensor:
        """Feature map [1, C, h, w] for the current ws, differentiable w.r.t. the free rows."""
        if self.prepared_pass is not None:
            out = self.prepared_pass(self.free_rows())
        else:
            with autocast(self.generator.device, self.compute_dtype):
                out = self.generator.synthesize(self.ws(), noise_mode="const", feature_block=self.feature_block,
                                                stop_at_features=not self.full_forward, **self.gradient_pass_options)
        # Losses, tracking and the latent stay float32 whatever the passes ran in.
        features = out.features[self.feature_block].float()
        if self.full_forward:
            features = upsample_to_image(features, self.generator.img_resolution)
        return features

    def step(self, loss: torch.Tensor) -> None:
        """One Adam step. Gradients go to the free rows only (`autograd.grad`), so no weight
        gradients of the generator are computed or left behind on the shared model."""
        (grad,) = torch.autograd.grad(loss, [self.free])
        self.free.grad = grad
        self.optimizer.step()

    @torch.no_grad()
    def render(self) -> torch.Tensor:
        """Full image [1, 3, H, W] for the current ws."""
        return self.generator.synthesize(self.ws().detach(), noise_mode="const").image


def _adam(parameter: torch.Tensor, lr: float) -> torch.optim.Adam:
    """Adam, as one fused kernel where this torch has it for the device (CPU: torch >= 2.4): the
    default's dozen small ops per step were ~2 % of a 64 px drag step. Same update rule."""
    try:
        return torch.optim.Adam([parameter], lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam([parameter], lr=lr)
