"""The teacher: the DCGAN face generator published in the PyPI package `gan-face-generate==1.1.1`.

The architecture is the classic PyTorch-tutorial DCGAN (nz=100, ngf=64, 64×64 RGB, tanh output),
written here from its well-known layer list. The weights come from the package's wheel, which is
fetched with `pip download --no-deps` and opened as a zip: only `gan_face_generate/weights.tar` is read,
with `torch.load(weights_only=True)`, so none of the package's code is ever imported or executed.
"""
from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import torch
from torch import nn

TEACHER_PACKAGE = "gan-face-generate"
TEACHER_VERSION = "1.1.1"
TEACHER_WHEEL_GLOB = "gan_face_generate-1.1.1-*.whl"
TEACHER_WEIGHTS_MEMBER = "gan_face_generate/weights.tar"
TEACHER_STATE_KEY = "netG_state_dict"
TEACHER_Z_DIM = 100
TEACHER_RESOLUTION = 64


class DCGANGenerator(nn.Module):
    """z [N, nz] (or [N, nz, 1, 1]) → image [N, 3, 64, 64] in [-1, 1].

    Layer indices inside `main` match the tutorial's `nn.Sequential`, so its state dict loads as is.
    """

    def __init__(self, nz: int = TEACHER_Z_DIM, ngf: int = 64, channels: int = 3):
        super().__init__()
        self.nz = nz
        widths = [ngf * 8, ngf * 4, ngf * 2, ngf]
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim == 2:
            z = z[:, :, None, None]
        return self.main(z)


def fetch_teacher_wheel(cache_dir: Path) -> Path:
    """Return the cached teacher wheel, downloading it (without dependencies) on first use."""
    cache_dir = Path(cache_dir).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    found = sorted(cache_dir.glob(TEACHER_WHEEL_GLOB))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               f"{TEACHER_PACKAGE}=={TEACHER_VERSION}", "-d", str(cache_dir)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        found = sorted(cache_dir.glob(TEACHER_WHEEL_GLOB))
        if result.returncode != 0 or not found:
            raise RuntimeError(f"could not download the teacher wheel with {' '.join(cmd)}:\n{result.stderr}")
    return found[0]


def read_teacher_state(wheel_path: Path) -> dict[str, torch.Tensor]:
    """The DCGAN state dict from the wheel's weights file (tensor-only unpickling)."""
    with zipfile.ZipFile(wheel_path) as wheel:
        try:
            raw = wheel.read(TEACHER_WEIGHTS_MEMBER)
        except KeyError:
            raise ValueError(f"{wheel_path} has no {TEACHER_WEIGHTS_MEMBER}") from None
    checkpoint = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or TEACHER_STATE_KEY not in checkpoint:
        raise ValueError(f"{TEACHER_WEIGHTS_MEMBER} in {wheel_path} has no {TEACHER_STATE_KEY!r} entry")
    return checkpoint[TEACHER_STATE_KEY]


def load_teacher(cache_dir: Path) -> DCGANGenerator:
    """The pretrained teacher in eval mode (BatchNorm uses its running statistics), gradients off."""
    teacher = DCGANGenerator()
    teacher.load_state_dict(read_teacher_state(fetch_teacher_wheel(cache_dir)), strict=True)
    teacher.eval().requires_grad_(False)
    return teacher
