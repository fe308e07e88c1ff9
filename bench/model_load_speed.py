#!/usr/bin/env python3
"""Model-loading speed against the time of just reading the file's bytes (issue 2: ≲ 2×).

Usage: bench/model_load_speed.py [PICKLE]   (default: make a synthetic FFHQ-size 512 px pickle in /tmp
with the NVIDIA-layout test writer: G ~30M params, D ~29M, G training copy, ~360 MB)

Reports, for warm page cache, the best of several runs (and the first load in the process): reading the bytes, loading the pickle with the
restricted loader, and loading the converted .safetensors file.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "models")]

from engine.models import Discriminator, Generator, StyleGAN2Config  # noqa: E402
from engine.models.native import load_native, save_native  # noqa: E402
from engine.models.nvidia_pickle import load_nvidia_pickle  # noqa: E402

REPEATS = 7


def synthetic_ffhq512(path: Path) -> Path:
    from nvidia_layout import PickleStyle, write_snapshot
    channels = {r: min(32768 // r, 512) for r in (4, 8, 16, 32, 64, 128, 256, 512)}
    cfg = StyleGAN2Config(img_resolution=512, channels=channels, d_channels=channels, conv_clamp=256)
    G, D = Generator(cfg).eval(), Discriminator(cfg).eval()
    return write_snapshot(path, G, D, G, PickleStyle(protocol=4, layout="stylegan3-repo", omit_conv_clamp_kwarg=True))


def best_of(fn) -> tuple[float, float]:
    """Best wall time and best CPU time (this process, all threads) over REPEATS runs; CPU time is the
    steadier figure on a shared machine."""
    wall, cpu = [], []
    for _ in range(REPEATS):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def read_bytes(path: Path) -> None:
    with open(path, "rb") as f:
        f.read()


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="latentdrag-bench-"))
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else synthetic_ffhq512(tmp / "ffhq512-synthetic.pkl")
    read_bytes(path)  # warm the page cache
    t_read = best_of(lambda: read_bytes(path))
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    load_nvidia_pickle(path)  # the first load in a process also pays for fresh memory pages
    t_first = (time.perf_counter() - start_wall, time.process_time() - start_cpu)
    t_pickle = best_of(lambda: load_nvidia_pickle(path))
    model = load_nvidia_pickle(path)
    native = tmp / "model.safetensors"
    save_native(native, model.G, model.D, name="bench")
    read_bytes(native)
    t_native_read = best_of(lambda: read_bytes(native))
    t_native = best_of(lambda: load_native(native))
    g_params = sum(p.numel() for p in model.G.parameters())
    d_params = sum(p.numel() for p in model.D.parameters()) if model.D is not None else 0
    print(f"file {path.name}: {path.stat().st_size / 1e6:.0f} MB, G {g_params / 1e6:.1f}M params, "
          f"D {d_params / 1e6:.1f}M params, torch threads {torch.get_num_threads()}; .safetensors "
          f"{native.stat().st_size / 1e6:.0f} MB")
    def line(label: str, measured: tuple[float, float], base: tuple[float, float] | None = None) -> None:
        ratio = f"  ({measured[0] / base[0]:.2f}x / {measured[1] / base[1]:.2f}x read)" if base else ""
        print(f"{label:<20}wall {measured[0]:.3f} s, cpu {measured[1]:.3f} s{ratio}")

    line("read bytes", t_read)
    line("load pickle, first", t_first, t_read)
    line("load pickle", t_pickle, t_read)
    line("read .safetensors", t_native_read)
    line("load .safetensors", t_native, t_native_read)
    return 0


if __name__ == "__main__":
    sys.exit(main())
