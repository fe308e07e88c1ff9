"""Distil the DCGAN teacher into our StyleGAN2, sharpen it against a patch discriminator with the
distillation loss kept as a strong anchor, then fit the StyleGAN2 discriminator that ships with it.

Why this order (measured on a 2-core CPU, see docs/model-card.md and the training notes): adversarial
training from scratch needs far more images than a CPU budget allows, while regressing the teacher's
image for the same z gives face layouts within minutes but soft ones. The sharpening phase only adds
local detail; the anchor (weighted far above the adversarial term) keeps every face the teacher's.
Noise strengths stay at 0 (noise inputs made speckle in short runs) but the noise buffers are kept,
so the file has NVIDIA's layout.

Everything needed to continue (G, D, G_ema, optimizer states, step, RNG states) is checkpointed every
few minutes; starting the same command again resumes bit-identically.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from engine.models.precision import autocast, resolve_precision
from engine.models.stylegan2 import Discriminator, Generator, StyleGAN2Config

from .patch_discriminator import PatchDiscriminator
from .pool import TeacherPool
from .warps import WarpEncoder, WarpSpec, random_bump_fields, warp_images

CHECKPOINT_NAME = "checkpoint.pt"
DISTILLED_NAME = "distilled.pt"
LOG_NAME = "train.log"


def default_model_config() -> StyleGAN2Config:
    """The bundled model's architecture: 64 px, z = the teacher's 100-d N(0, 1) so a student z and a
    teacher z are the same thing, ~3.2M-parameter G and ~1.2M-parameter D (17 MB as float32)."""
    return StyleGAN2Config(img_resolution=64, channels={4: 256, 8: 256, 16: 128, 32: 64, 64: 32},
                           z_dim=100, w_dim=256, mapping_layers=4,
                           d_channels={4: 128, 8: 128, 16: 128, 32: 64, 64: 32})


@dataclass
class TrainConfig:
    """Schedule and hyper-parameters. Steps are counted over the phases: distillation for
    `distill_steps`, `warp_steps` of distillation toward warped images (0: none), sharpening (G
    against the patch discriminator) for `sharpen_steps`, then `d_fit_steps` that train only the
    shipped StyleGAN2 discriminator on the finished G."""
    seed: int = 0
    batch: int = 32
    distill_steps: int = 16_000
    # Between distillation and sharpening (engine/training/warps.py; figures in docs/model-card.md, "Why a
    # warp phase"): distillation where `warp_share` of each batch regresses a locally warped teacher image
    # from w plus an encoder's offset on the first `warp_rows` rows of W+, so those rows learn to move local
    # content for a drag. Settings from a 600-step probe on the distilled faces64: at the sharpening lr
    # (2e-4) nothing was learnt in 600 steps; the region weight (extra L1 where the field moves content)
    # and 5 bumps helped.
    warp_steps: int = 3_000
    warp_share: float = 0.75
    warp_rows: int = 4
    warp_max_bumps: int = 5
    warp_encoder_lr: float = 5e-3
    warp_region_weight: float = 2.0
    sharpen_steps: int = 750
    d_fit_steps: int = 400
    distill_lr: float = 2e-3
    distill_betas: tuple[float, float] = (0.9, 0.99)  # plain regression: momentum helps
    # StyleGAN2's mapping network learns at 0.01× (equalised-lr multiplier), right for GAN training but it
    # starves regression: over 100 steps from step 2,386 of the faces64 run, giving the mapping the
    # synthesis' lr cut held-out distillation loss 0.517 → 0.477 (vs 0.520 at 0.01×).
    distill_mapping_lr_scale: float = 100.0
    precision: str = "auto"             # "auto": bf16 autocast where the CPU/GPU computes bf16 natively
    downsampled_weight: float = 1.0     # weight of the 4×-downsampled L1 term (layout, colour)
    # Sharpening (tuned on faces64 from its distilled weights, docs/model-card.md): anchor 10 gave every face
    # dark goggle-like eye rings within 750 steps; 30 sharpens more slowly and keeps the faces.
    sharpen_anchor: float = 30.0        # distillation weight next to the adversarial term's 1
    sharpen_g_lr: float = 2e-4
    patch_d_lr: float = 1e-3
    patch_d_width: int = 64
    sharpen_betas: tuple[float, float] = (0.5, 0.99)
    patch_r1_gamma: float = 0.1         # R1 on each image's mean patch logit
    d_lr: float = 1e-3
    # D alone has no game to destabilise, and momentum makes a fresh D learn: after 100 steps on the
    # distilled faces64, D loss 1.104 with (0.9, 0.99) vs 1.347 with (0, 0.99) (chance: 1.386); a higher lr
    # without momentum (3e-3, 1e-2) did not help.
    d_fit_betas: tuple[float, float] = (0.9, 0.99)
    r1_gamma: float = 0.05
    r1_interval: int = 16
    ema_kimg: float = 5.0
    ema_rampup: float = 0.05
    checkpoint_minutes: float = 5.0
    log_every: int = 20

    @property
    def total_steps(self) -> int:
        return self.distill_steps + self.warp_steps + self.sharpen_steps + self.d_fit_steps

    def phase_start(self, phase: str) -> int:
        """The step at which a phase begins (phases run distill → warp → sharpen → fit_d)."""
        starts = {"distill": 0, "warp": self.distill_steps}
        starts["sharpen"] = starts["warp"] + self.warp_steps
        starts["fit_d"] = starts["sharpen"] + self.sharpen_steps
        return starts[phase]

    def to_json_dict(self) -> dict:
        return dataclasses.asdict(self)


def distillation_loss(fake: torch.Tensor, target: torch.Tensor, downsampled_weight: float) -> torch.Tensor:
    """L1 on pixels plus L1 on 4×-average-pooled images (pushes the overall layout and colours)."""
    loss = (fake - target).abs().mean()
    if downsampled_weight:
        loss = loss + downsampled_weight * (F.avg_pool2d(fake, 4) - F.avg_pool2d(target, 4)).abs().mean()
    return loss


def generator_param_groups(G: Generator) -> list[dict]:
    """Adam groups "synthesis" and "mapping" (so distillation can give the mapping its own lr); the
    noise strengths are left out: they are held at 0."""
    groups: dict[str, list[torch.nn.Parameter]] = {"synthesis": [], "mapping": []}
    for name, p in G.named_parameters():
        if not name.endswith("noise_strength"):
            groups["mapping" if name.startswith("mapping.") else "synthesis"].append(p)
    return [{"params": params, "name": name} for name, params in groups.items()]


class Trainer:
    """One training run in `run_dir`; `run(until_step)` trains, checkpointing as it goes."""

    def __init__(self, run_dir: Path, pool: TeacherPool, cfg: TrainConfig,
                 model_cfg: StyleGAN2Config | None = None, log: Callable[[str], None] = print):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.pool, self.cfg = pool, cfg
        self.model_cfg = model_cfg or default_model_config()
        if self.model_cfg.z_dim != pool.z_dim:
            raise ValueError(f"model z_dim {self.model_cfg.z_dim} must equal the teacher pool's z_dim {pool.z_dim}")
        self._print = log
        torch.manual_seed(cfg.seed)
        self.G = Generator(self.model_cfg).train()
        if cfg.warp_steps and not 1 <= cfg.warp_rows <= self.G.num_ws:
            raise ValueError(f"warp_rows must be between 1 and the model's {self.G.num_ws} rows of W+, "
                             f"got {cfg.warp_rows}")
        self.D = Discriminator(self.model_cfg).train()
        self.patch_D = PatchDiscriminator(self.model_cfg.img_channels, cfg.patch_d_width).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_G = torch.optim.Adam(generator_param_groups(self.G), lr=cfg.distill_lr, betas=cfg.distill_betas)
        self.compute_dtype = resolve_precision(cfg.precision, torch.device("cpu"))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.d_lr, betas=cfg.d_fit_betas)
        self.opt_patch_D = torch.optim.Adam(self.patch_D.parameters(), lr=cfg.patch_d_lr, betas=cfg.sharpen_betas)
        # Only a schedule with a warp phase has the encoder (4 MB, 12 with its Adam state per checkpoint).
        self.warp_encoder = WarpEncoder(self.model_cfg.w_dim, cfg.warp_rows).train() if cfg.warp_steps else None
        self.opt_warp = (torch.optim.Adam(self.warp_encoder.parameters(), lr=cfg.warp_encoder_lr,
                                          betas=cfg.distill_betas) if self.warp_encoder is not None else None)
        self.warp_spec = WarpSpec(max_bumps=cfg.warp_max_bumps)
        self.data_rng = torch.Generator().manual_seed(cfg.seed + 1)
        self.step = 0
        self.warm_start_source = ""  # the model file a warm-started run began from
        self.seconds = 0.0          # training wall time over all sessions
        self.cpu_seconds = 0.0      # process CPU time: the fair budget measure on a shared machine
        self._stop_requested = False
        if (self.run_dir / CHECKPOINT_NAME).exists():
            self.load_checkpoint(self.run_dir / CHECKPOINT_NAME)

    # --- phases -------------------------------------------------------------------------------
    def phase(self, step: int | None = None) -> str:
        step = self.step if step is None else step
        # Latest first: of phases that start at the same step the earlier ones are empty.
        return next(phase for phase in ("fit_d", "sharpen", "warp", "distill")
                    if step >= self.cfg.phase_start(phase))

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        indices = torch.randint(len(self.pool), [self.cfg.batch], generator=self.data_rng)
        return self.pool.batch(indices)

    def _warp_fields(self, n: int) -> torch.Tensor:
        """Displacement fields for a batch, zero for the unwarped share."""
        fields = random_bump_fields(n, self.model_cfg.img_resolution, self.data_rng, self.warp_spec)
        warped = torch.rand(n, generator=self.data_rng) < self.cfg.warp_share
        return fields * warped.float()[:, None, None, None]

    def _generate(self, z: torch.Tensor, G: Generator | None = None,
                  fields: torch.Tensor | None = None) -> torch.Tensor:
        G = self.G if G is None else G
        ws = G.mapping(z, update_emas=G is self.G)  # tiny MLP; float32 keeps w_avg's statistics exact
        if fields is not None:
            rows = self.cfg.warp_rows
            ws = torch.cat([ws[:, :rows] + self.warp_encoder(fields, ws[:, 0]), ws[:, rows:]], dim=1)
        with autocast(torch.device("cpu"), self.compute_dtype):
            # Non-fused even for the eval-mode G_ema: for a batch it is the fast path on CPU.
            image = G.synthesis.run(ws, noise_mode="none", fused=False).image
        return image.float()

    def _discriminate(self, D: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
        with autocast(torch.device("cpu"), self.compute_dtype):
            logits = D(images)
        return logits.float()

    def _logistic_d_step(self, D: torch.nn.Module, optimizer: torch.optim.Optimizer, fake: torch.Tensor,
                         real: torch.Tensor, r1_gamma: float, phase_step: int) -> dict[str, float]:
        """Logistic loss + lazy R1 (on each image's mean logit, so a patch critic's penalty does not grow
        with its number of patches)."""
        cfg = self.cfg
        d_loss = F.softplus(self._discriminate(D, fake)).mean() + F.softplus(-self._discriminate(D, real)).mean()
        optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        stats = {"d": d_loss.item()}
        if phase_step % cfg.r1_interval == 0:
            real_r1 = real.detach().requires_grad_(True)
            # R1 stays float32: a second-order gradient of a small penalty is where bf16 rounding bites.
            logits = D(real_r1).flatten(1).mean(1)
            (grad,) = torch.autograd.grad(logits.sum(), real_r1, create_graph=True)
            r1 = grad.square().sum(dim=[1, 2, 3]).mean()
            (r1 * (r1_gamma / 2) * cfg.r1_interval).backward()
            stats["r1"] = r1.item()
        optimizer.step()
        return stats

    def distill_step(self) -> dict[str, float]:
        z, target = self._next_batch()
        fake = self._generate(z)
        loss = distillation_loss(fake, target, self.cfg.downsampled_weight)
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_G.step()
        return {"distill": loss.item()}

    def sharpen_step(self) -> dict[str, float]:
        """G: non-saturating loss from the patch critic + the anchored distillation loss; then the critic."""
        cfg = self.cfg
        z, real = self._next_batch()
        self.patch_D.requires_grad_(False)
        fake = self._generate(z)
        g_adv = F.softplus(-self._discriminate(self.patch_D, fake)).mean()
        anchor = distillation_loss(fake, real, cfg.downsampled_weight)
        self.opt_G.zero_grad(set_to_none=True)
        (g_adv + cfg.sharpen_anchor * anchor).backward()
        self.opt_G.step()
        self.patch_D.requires_grad_(True)
        stats = {"g_adv": g_adv.item(), "distill": anchor.item()}
        stats.update(self._logistic_d_step(self.patch_D, self.opt_patch_D, fake.detach(), real,
                                           cfg.patch_r1_gamma, self.step - cfg.phase_start("sharpen")))
        return stats

    def warp_step(self) -> dict[str, float]:
        """Distillation toward warped teacher images, the warp reaching G through the encoder's Δw.
        Logged: L1 where the content moves (> 1 px), with the offset and without it; their gap is what
        the first rows of W+ have learnt to show."""
        cfg = self.cfg
        z, real = self._next_batch()
        fields = self._warp_fields(len(z))
        target = warp_images(real, fields)
        fake = self._generate(z, fields=fields)
        moved = fields.norm(dim=1, keepdim=True)
        region = moved / moved.flatten(1).amax(1).clamp_min(1e-6)[:, None, None, None]
        region_l1 = ((fake - target).abs() * region).sum() / (region.sum() * fake.shape[1]).clamp_min(1e-6)
        loss = distillation_loss(fake, target, cfg.downsampled_weight) + cfg.warp_region_weight * region_l1
        self.opt_G.zero_grad(set_to_none=True)
        self.opt_warp.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_G.step()
        self.opt_warp.step()
        stats = {"distill": loss.item()}
        inside = (moved > 1).float()
        if inside.sum() > 0:
            with torch.no_grad():
                unwarped = self._generate(z)
            count = inside.sum() * fake.shape[1]
            stats["l1_moved"] = (((fake.detach() - target).abs() * inside).sum() / count).item()
            stats["l1_moved_no_offset"] = (((unwarped - target).abs() * inside).sum() / count).item()
        return stats

    def fit_d_step(self) -> dict[str, float]:
        """The shipped StyleGAN2 D learns teacher vs the finished student, G_ema (the generator that ships);
        no generator changes."""
        cfg = self.cfg
        z, real = self._next_batch()
        with torch.no_grad():
            fake = self._generate(z, self.G_ema)
        return self._logistic_d_step(self.D, self.opt_D, fake, real, cfg.r1_gamma,
                                     self.step - cfg.phase_start("fit_d"))

    @torch.no_grad()
    def update_ema(self) -> None:
        cfg = self.cfg
        nimg = (self.step + 1) * cfg.batch
        ema_nimg = min(cfg.ema_kimg * 1000, nimg * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    def _set_hyperparameters(self) -> None:
        phase = self.phase()
        regressing = phase in ("distill", "warp")
        for group in self.opt_G.param_groups:
            group["lr"] = self.cfg.distill_lr if regressing else self.cfg.sharpen_g_lr
            # The warp phase's settings were found with the mapping at the plain distillation lr.
            if phase == "distill" and group["name"] == "mapping":
                group["lr"] *= self.cfg.distill_mapping_lr_scale
            group["betas"] = self.cfg.distill_betas if regressing else self.cfg.sharpen_betas

    # --- loop ---------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Make `run` checkpoint and return after the current step (safe from a signal handler)."""
        self._stop_requested = True

    def run(self, until_step: int | None = None) -> None:
        cfg = self.cfg
        until = cfg.total_steps if until_step is None else min(until_step, cfg.total_steps)
        last_save = time.monotonic()
        window_start, window_steps, sums = time.monotonic(), 0, {}
        while self.step < until and not self._stop_requested:
            t0, cpu0 = time.monotonic(), time.process_time()
            phase = self.phase()
            self._set_hyperparameters()
            stats = {"distill": self.distill_step, "warp": self.warp_step, "sharpen": self.sharpen_step,
                     "fit_d": self.fit_d_step}[phase]()
            if phase != "fit_d":
                self.update_ema()
            self.step += 1
            self.seconds += time.monotonic() - t0
            self.cpu_seconds += time.process_time() - cpu0
            window_steps += 1
            for key, value in stats.items():
                sums[key] = sums.get(key, 0.0) + value
            if self.step == cfg.distill_steps:
                self.save_snapshot(self.run_dir / DISTILLED_NAME)
            # A phase's last step closes the window, so no logged average mixes two phases' losses.
            if self.step % cfg.log_every == 0 or self.step == until or self.phase() != phase:
                elapsed = time.monotonic() - window_start
                self.log_json({"step": self.step, "phase": phase,
                               **{k: round(v / window_steps, 5) for k, v in sums.items()},
                               "s_per_step": round(elapsed / window_steps, 4),
                               "train_hours": round(self.seconds / 3600, 3),
                               "cpu_hours": round(self.cpu_seconds / 3600, 3)})
                window_start, window_steps, sums = time.monotonic(), 0, {}
            if time.monotonic() - last_save > cfg.checkpoint_minutes * 60:
                self.save_checkpoint()
                last_save = time.monotonic()
        self.save_checkpoint()

    def warm_start(self, G: Generator, D: Discriminator | None, source: str) -> None:
        """Begin a new run after distillation (at the warp phase when the schedule has one, else at
        the sharpening) from an exported model taken as the end of distillation: G and G_ema from its
        generator, D from its discriminator when it has one (it is trained on in the last phase).

        Why: a run's checkpoint lives outside git; the committed model is enough to go on with the
        fine-tuning on a fresh machine. Adam starts fresh (the later phases use other betas anyway).
        """
        if self.step:
            raise ValueError(f"warm start needs a new run; {self.run_dir} is already at step {self.step}")
        if G.config.to_json_dict() != self.model_cfg.to_json_dict():
            raise ValueError(f"{source} has another architecture than this run: {G.config.to_json_dict()}")
        self.G.load_state_dict(G.state_dict())
        self.G_ema.load_state_dict(G.state_dict())
        if D is not None:
            self.D.load_state_dict(D.state_dict())
        self.step = self.cfg.distill_steps
        self.warm_start_source = source
        self.log_json({"event": "warm_start", "source": source, "step": self.step, "with_D": D is not None})

    # --- persistence --------------------------------------------------------------------------
    def log_json(self, record: dict) -> None:
        line = json.dumps(record)
        with open(self.run_dir / LOG_NAME, "a") as f:
            f.write(line + "\n")
        self._print(line)

    def state_dict(self) -> dict:
        warp = ({"warp_encoder": self.warp_encoder.state_dict(), "opt_warp": self.opt_warp.state_dict()}
                if self.warp_encoder is not None else {})
        return {**warp, "step": self.step, "phase": self.phase(max(self.step - 1, 0)), "seconds": self.seconds,
                "cpu_seconds": self.cpu_seconds, "warm_start": self.warm_start_source,
                "train_config": json.dumps(self.cfg.to_json_dict()),
                "model_config": json.dumps(self.model_cfg.to_json_dict()),
                "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
                "patch_D": self.patch_D.state_dict(), "opt_patch_D": self.opt_patch_D.state_dict(),
                "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                "torch_rng": torch.get_rng_state(), "data_rng": self.data_rng.get_state()}

    def save_checkpoint(self) -> Path:
        """Write atomically (temp file + rename) so an interrupted save never loses the previous one."""
        path = self.run_dir / CHECKPOINT_NAME
        tmp = path.with_suffix(".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)
        return path

    def save_snapshot(self, path: Path) -> None:
        """G_ema and D only, e.g. the end of distillation, kept in case fine-tuning goes wrong."""
        torch.save({"step": self.step, "seconds": self.seconds, "phase": self.phase(max(self.step - 1, 0)),
                    "model_config": json.dumps(self.model_cfg.to_json_dict()),
                    "G_ema": self.G_ema.state_dict(), "D": self.D.state_dict()}, path)

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved_model_cfg = json.loads(state["model_config"])
        if saved_model_cfg != self.model_cfg.to_json_dict():
            raise ValueError(f"checkpoint {path} was made for a different architecture: {saved_model_cfg}")
        saved_cfg = json.loads(state["train_config"])
        if "sharpen_steps" not in saved_cfg:
            raise ValueError(f"checkpoint {path} was made by an earlier trainer (adversarial phase with the "
                             "StyleGAN2 D); start a new run name, e.g. with --init-from an exported model")
        # What a resume cannot change: the data order and batch, and the shape of the warp encoder.
        fixed = ("seed", "batch") + (("warp_rows",) if self.warp_encoder is not None else ())
        changed = [f"{name} {saved_cfg[name]}, not {getattr(self.cfg, name)}" for name in fixed
                   if name in saved_cfg and saved_cfg[name] != getattr(self.cfg, name)]
        if changed:
            raise ValueError(f"checkpoint {path} was made with {' and '.join(changed)}; "
                             "start a new run name to change them")
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.patch_D.load_state_dict(state["patch_D"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.opt_patch_D.load_state_dict(state["opt_patch_D"])
        if self.warp_encoder is not None and "warp_encoder" in state:   # none in checkpoints of runs without the phase
            self.warp_encoder.load_state_dict(state["warp_encoder"])
            self.opt_warp.load_state_dict(state["opt_warp"])
        torch.set_rng_state(state["torch_rng"])
        self.data_rng.set_state(state["data_rng"])
        self.step = int(state["step"])
        self.warm_start_source = state.get("warm_start", "")
        self.seconds = float(state["seconds"])
        # Checkpoints from before CPU accounting (the first minutes of the faces64 run) count it as 0.
        self.cpu_seconds = float(state.get("cpu_seconds", 0.0))
        self._print(f"resumed {path} at step {self.step} ({state['phase']}, {self.seconds / 3600:.2f} h trained)")


@dataclass
class SnapshotInfo:
    step: int
    seconds: float
    phase: str          # the phase of the last step trained
    distill_steps: int | None = None    # the schedule, where the file records it (checkpoints do)
    sharpen_steps: int | None = None
    warm_start: str = ""                # the model file a warm-started run began from
    warp_steps: int = 0

    def stage(self) -> str:
        """Where training stood, in words: how many steps of each kind the weights have seen."""
        if self.distill_steps is None or self.sharpen_steps is None:
            return f"{self.phase} phase after {self.step} steps of batch 32"
        distill = min(self.step, self.distill_steps)
        warp = min(max(self.step - self.distill_steps, 0), self.warp_steps)
        sharpen_start = self.distill_steps + self.warp_steps
        sharpen = min(max(self.step - sharpen_start, 0), self.sharpen_steps)
        d_only = max(self.step - sharpen_start - self.sharpen_steps, 0)
        parts = [f"{distill} distillation steps of batch 32"]
        if self.warm_start:
            parts[0] += f" (an earlier run, exported as {Path(self.warm_start).name})"
        if warp:
            parts.append(f"{warp} steps of distillation toward locally warped teacher images")
        if sharpen:
            parts.append(f"{sharpen} sharpening steps against a patch discriminator")
        if d_only:
            parts.append(f"{d_only} discriminator-only steps")
        return ", then ".join(parts)


def load_snapshot_models(path: Path) -> tuple[Generator, Discriminator, SnapshotInfo]:
    """G_ema, D and where training stood, from a checkpoint or snapshot file written by the trainer."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model_cfg = StyleGAN2Config.from_json_dict(json.loads(state["model_config"]))
    G, D = Generator(model_cfg), Discriminator(model_cfg)
    G.load_state_dict(state["G_ema"])
    D.load_state_dict(state["D"])
    schedule = json.loads(state["train_config"]) if "train_config" in state else {}
    info = SnapshotInfo(int(state["step"]), float(state["seconds"]), state["phase"],
                        schedule.get("distill_steps"), schedule.get("sharpen_steps"), state.get("warm_start", ""),
                        schedule.get("warp_steps", 0))
    return G.eval().requires_grad_(False), D.eval().requires_grad_(False), info
