"""Quality figures for a trained model: sample grids, held-out distillation L1, sharpness (edge
energy), diversity and projection PSNR, each next to a reference (the teacher, an untrained control,
the mean image).

Why these: W+ projection alone flatters any network (an untrained one reaches ~25 dB), so the card
reports the gain over an untrained control, the held-out L1 to the teacher for the same z (the
student shares the teacher's z space), and W projection, which only a trained mapping does well.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from engine.models.loading import load_model_file
from engine.models.render import z_for_seed
from engine.models.stylegan2 import Generator

from .pool import images_to_uint8

GRID_SIDE = 8
HELD_OUT_SEED_BASE = 1_000_000      # far from the pool's generator seeds and the grid seeds 0..63
HELD_OUT_L1_SAMPLES = 256
PROJECTION_SAMPLES = 64
PROJECTION_LR = 0.05


def seed_latents(seeds: range | list[int], z_dim: int) -> torch.Tensor:
    """One z per seed, NVIDIA's convention (`engine.models.render.z_for_seed`)."""
    return torch.cat([z_for_seed(s, z_dim) for s in seeds])


def save_grid(images: torch.Tensor, path: Path) -> None:
    pixels = images_to_uint8(images)
    n, h, w, c = pixels.shape
    side = int(round(n ** 0.5))
    grid = pixels.reshape(side, side, h, w, c).transpose(0, 2, 1, 3, 4).reshape(side * h, side * w, c)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for images in [-1, 1] (peak-to-peak 2)."""
    mse = (a.clamp(-1, 1) - b).square().mean(dim=[1, 2, 3])
    return 10 * torch.log10(4 / mse.clamp_min(1e-10))


def edge_energy(images: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels: how much fine detail the images carry
    (a blurred copy scores lower; the sharpening phase is judged by it next to the teacher's)."""
    return ((images[..., 1:, :] - images[..., :-1, :]).abs().mean()
            + (images[..., :, 1:] - images[..., :, :-1]).abs().mean()).item()


def project(G: Generator, targets: torch.Tensor, steps: int, space: str) -> float:
    """Mean PSNR after fitting W (one w per image) or W+ (one w per layer) by Adam on MSE,
    starting from the mean w, with the same steps and learning rate for every model."""
    with torch.no_grad():
        w_mean = G.mapping(torch.randn(2048, G.z_dim, generator=torch.Generator().manual_seed(0)))[:, 0].mean(0)
    rows = 1 if space == "w" else G.num_ws
    w = w_mean.reshape(1, 1, -1).repeat(len(targets), rows, 1).requires_grad_(True)
    optimizer = torch.optim.Adam([w], lr=PROJECTION_LR)
    for _ in range(steps):
        ws = w.expand(-1, G.num_ws, -1)
        image = G.synthesis.run(ws, noise_mode="const", fused=False).image
        loss = (image - targets).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        image = G.synthesis.run(w.expand(-1, G.num_ws, -1), noise_mode="const", fused=False).image
        return psnr(image, targets).mean().item()


def invert_teacher(teacher: nn.Module, targets: torch.Tensor, steps: int) -> float:
    """The teacher's own z-inversion of its samples (a reference point for projection PSNR)."""
    z = torch.zeros(len(targets), teacher.nz, requires_grad=True)
    optimizer = torch.optim.Adam([z], lr=PROJECTION_LR)
    for _ in range(steps):
        loss = (teacher(z) - targets).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return psnr(teacher(z), targets).mean().item()


def untrained_control(G: Generator) -> Generator:
    """Same architecture, fresh weights (seed 0), with w_avg set so truncation is meaningful."""
    torch.manual_seed(0)
    control = Generator(G.config).eval().requires_grad_(False)
    with torch.no_grad():
        control.mapping.w_avg.copy_(control.mapping(torch.randn(2048, G.z_dim))[:, 0].mean(0))
    return control


@torch.no_grad()
def _render(G: Generator, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
    return torch.cat([G(chunk, truncation_psi=psi, noise_mode="const") for chunk in z.split(64)]).clamp(-1, 1)


def evaluate_model(model_path: Path, teacher: nn.Module, out_dir: Path, projection_steps: int = 100,
                   skip_projection: bool = False) -> dict:
    """Write the grids into `out_dir` and return (and write) the figures as JSON."""
    loaded = load_model_file(model_path, device="cpu")
    G = loaded.G.eval().requires_grad_(False)
    teacher = teacher.eval().requires_grad_(False)
    out_dir = Path(out_dir)
    grid_z = seed_latents(range(GRID_SIDE ** 2), G.z_dim)
    grids = {psi: _render(G, grid_z, psi) for psi in (1.0, 0.7)}
    for psi, images in grids.items():
        save_grid(images, out_dir / f"default-model-samples-psi{psi:g}.png")
    with torch.no_grad():
        teacher_grid = teacher(grid_z)
    save_grid(teacher_grid, out_dir / "default-model-teacher-samples.png")

    held_out_z = seed_latents(range(HELD_OUT_SEED_BASE, HELD_OUT_SEED_BASE + HELD_OUT_L1_SAMPLES), G.z_dim)
    with torch.no_grad():
        held_out = teacher(held_out_z)
    student_held_out = _render(G, held_out_z)
    control = untrained_control(G)
    mean_image = held_out.mean(dim=0, keepdim=True)
    report: dict = {
        "model": loaded.meta.name, "file": model_path.name, "description": loaded.meta.description,
        "held_out_l1": {
            "student": (student_held_out - held_out).abs().mean().item(),
            "untrained_control": (_render(control, held_out_z) - held_out).abs().mean().item(),
            "mean_teacher_image": (mean_image - held_out).abs().mean().item(),
            "samples": HELD_OUT_L1_SAMPLES, "units": "mean |difference| with pixels in [-1, 1]",
        },
        "edge_energy": {"student": edge_energy(student_held_out), "teacher": edge_energy(held_out),
                        "samples": HELD_OUT_L1_SAMPLES,
                        "units": "mean |difference| of neighbouring pixels, pixels in [-1, 1]"},
        "diversity_pixel_std": {"student": grids[1.0].std(dim=0).mean().item(),
                                "teacher": teacher_grid.std(dim=0).mean().item(),
                                "samples": GRID_SIDE ** 2},
    }
    if not skip_projection:
        targets = held_out[:PROJECTION_SAMPLES]
        with torch.enable_grad():
            report["projection_psnr_db"] = {
                "steps": projection_steps, "lr": PROJECTION_LR, "samples": PROJECTION_SAMPLES,
                "student_w": project(G, targets, projection_steps, "w"),
                "student_w_plus": project(G, targets, projection_steps, "w+"),
                "untrained_w": project(control, targets, projection_steps, "w"),
                "untrained_w_plus": project(control, targets, projection_steps, "w+"),
                "teacher_z_inversion": invert_teacher(teacher, targets, projection_steps),
            }
    (out_dir / "default-model-figures.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
