"""Inversion benchmark: held-out generator samples (truth known) and real photo crops, then a drag on
an inverted photo composited back at full size.

    .venv/bin/python bench/inversion_bench.py [--model PATH] [--samples 4] [--threads 2] [--json OUT]

Prints Markdown tables (for docs/benchmarks.md, section "Inversion"). Photos are scikit-image's
bundled `astronaut`, `chelsea` and `coffee` (test-only data), cropped to the face / the cup.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.edit.composite import change_mask, composite  # noqa: E402
from engine.edit.drag import DragOptions, drag  # noqa: E402
from engine.edit.image_losses import psnr, ssim  # noqa: E402
from engine.edit.inversion import invert, preset_settings  # noqa: E402
from engine.models.precision import PRECISIONS, resolve_precision  # noqa: E402
from engine.edit.region import crop_region  # noqa: E402
from engine.models.loading import load_model_file  # noqa: E402

# (name, box) — the face for the face photos, the cup for coffee.
PHOTOS = (("astronaut", (145, 15, 305, 175)), ("chelsea", (80, 20, 300, 240)), ("coffee", (110, 0, 510, 400)))
HELD_OUT_SEEDS = range(90_000, 90_100)
# Stage configurations measured on generator samples: W alone, the "fast" preset, the "faithful" preset.
SAMPLE_RUNS = (("W", "fast", dict(w_plus_steps=0)), ("W+ (fast)", "fast", {}), ("PTI (faithful)", "faithful", {}))


def load_photo(name: str) -> np.ndarray:
    from skimage import data
    return getattr(data, name)()


def score(image: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    return psnr(image, target), float(ssim(image.clamp(-1, 1), target))


def held_out_targets(G, count: int) -> list[torch.Tensor]:
    targets = []
    for seed in list(HELD_OUT_SEEDS)[:count]:
        z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            targets.append(G.synthesize(G.mapping(z, None), noise_mode="const").image.clamp(-1, 1))
    return targets


def timed_invert(*args, **kwargs):
    """`invert` plus the process CPU seconds it took: on a shared machine, wall time is inflated by other
    work, while one-thread CPU time estimates the wall time on an idle machine."""
    started = time.process_time()
    result = invert(*args, **kwargs)
    return result, time.process_time() - started


def summarise(rows: list[dict]) -> dict:
    return {key: statistics.mean(r[key] for r in rows) for key in ("psnr", "ssim", "seconds", "cpu_seconds")} | {
        "min_psnr": min(r["psnr"] for r in rows), "n": len(rows)}


def bench_samples(model, count: int, precision: str) -> dict:
    results = {}
    for label, preset, overrides in SAMPLE_RUNS:
        rows = []
        for target in held_out_targets(model.G, count):
            r, cpu = timed_invert(model.G, target, settings=preset_settings(preset, precision=precision, **overrides),
                                  discriminator=model.D)
            p, s = score(r.image, target)
            rows.append({"psnr": p, "ssim": s, "seconds": r.seconds, "cpu_seconds": cpu})
        results[label] = summarise(rows)
        print(f"samples {label}: {results[label]}", flush=True)
    return results


def bench_photos(model, precision: str) -> tuple[dict, dict]:
    results, kept = {}, {}
    for name, box in PHOTOS:
        region = crop_region(load_photo(name), model.G.img_resolution, box=box)
        for preset in ("fast", "faithful"):
            r, cpu = timed_invert(model.G, region.crop, settings=preset_settings(preset, precision=precision),
                                  discriminator=model.D)
            p, s = score(r.image, region.crop)
            results[f"{name}/{preset}"] = {"psnr": p, "ssim": s, "seconds": r.seconds, "cpu_seconds": cpu,
                                           "stages": [vars(st) for st in r.stages]}
            kept[(name, preset)] = (region, r)
            print(f"photo {name} {preset}: {results[f'{name}/{preset}']}", flush=True)
    return results, kept


def save_drag_figure(path: str, photo: np.ndarray, region, before: torch.Tensor, after: torch.Tensor,
                     out: np.ndarray) -> None:
    """One strip over the edited window: photo | inversion | dragged generator output | composite."""
    from PIL import Image

    rows, cols, _, _ = region.layer_slices()
    size = (cols.stop - cols.start, rows.stop - rows.start)

    def generator_panel(image: torch.Tensor) -> Image.Image:
        pixels = ((image[0].clamp(-1, 1).permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
        return Image.fromarray(pixels).resize(size, Image.BICUBIC)

    panels = [Image.fromarray(photo[rows, cols, :3]), generator_panel(before), generator_panel(after),
              Image.fromarray(out[rows, cols, :3])]
    strip = Image.new("RGB", (size[0] * len(panels), size[1]))
    for i, panel in enumerate(panels):
        strip.paste(panel, (i * size[0], 0))
    strip.save(path)


def bench_drag(model, kept: dict, figure: str | None = None) -> dict:
    """Drag the astronaut's cheek on the faithful inversion; check arrival and bit-identity outside."""
    name, box = PHOTOS[0]
    photo = load_photo(name)
    region, inverted = kept[(name, "faithful")]
    handle, target = region.layer_to_model([(200.0, 120.0), (214.0, 112.0)])
    result = drag(inverted.generator, inverted.ws, [handle], [target], mask=region.mask,
                  options=DragOptions(max_steps=200))
    out = composite(photo, region, inverted.image, result.image)
    if figure:
        save_drag_figure(figure, photo, region, inverted.image, result.image, out)
    reach = change_mask(inverted.image, result.image, grow=1 + 3 + 1, feather=0) > 0
    up = torch.nn.functional.interpolate(reach[None, None].float(), size=(region.size, region.size),
                                         mode="nearest")[0, 0].bool().numpy()
    allowed = np.zeros(photo.shape[:2], dtype=bool)
    rows, cols, win_rows, win_cols = region.layer_slices()
    allowed[rows, cols] = up[win_rows, win_cols]
    changed = np.any(out[..., :3] != photo, axis=2)
    final = result.handles[0]
    report = {
        "steps": result.steps, "converged": result.converged, "seconds": result.seconds,
        "handle_distance_px_model": float(np.hypot(final[0] - target[0], final[1] - target[1])),
        "changed_pixels": int(changed.sum()), "layer_pixels": int(changed.size),
        "changed_outside_change_region": int((changed & ~allowed).sum()),
        "unchanged_fraction": float(1 - changed.mean()),
    }
    print(f"drag: {report}", flush=True)
    return report


def markdown(report: dict) -> str:
    lines = [f"Machine: {report['machine']}; torch {report['torch']}, {report['threads']} threads; "
             f"model {report['model']}; optimisation passes in {report['precision']}.", "",
             f"Held-out generator samples (seeds {HELD_OUT_SEEDS.start}+, psi 1, n = {report['n_samples']}):", "",
             "| stages | PSNR dB (mean / min) | SSIM | wall s | CPU s |", "|---|---|---|---|---|"]
    for label, r in report["samples"].items():
        lines.append(f"| {label} | {r['psnr']:.2f} / {r['min_psnr']:.2f} | {r['ssim']:.3f} | {r['seconds']:.1f} "
                     f"| {r['cpu_seconds']:.1f} |")
    lines += ["", "Real photo crops (scikit-image test data) at 64 px:", "",
              "| photo | preset | PSNR dB | SSIM | wall s | CPU s |", "|---|---|---|---|---|---|"]
    for key, r in report["photos"].items():
        photo, preset = key.split("/")
        lines.append(f"| {photo} | {preset} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['seconds']:.1f} "
                     f"| {r['cpu_seconds']:.1f} |")
    d = report["drag"]
    lines += ["", f"Drag on the faithful astronaut inversion (one handle moved by (14, −8) layer px): {d['steps']} steps, "
              f"converged {d['converged']}, final handle distance {d['handle_distance_px_model']:.2f} model px; "
              f"{d['changed_pixels']} of {d['layer_pixels']} layer pixels changed, "
              f"{d['changed_outside_change_region']} of them outside the generator's change region; "
              f"{100 * d['unchanged_fraction']:.2f} % of the 512×512 layer bit-identical."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", default=None, help="also write the raw results here")
    parser.add_argument("--figure", default=None, help="also save the drag example strip (PNG) here")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="of the optimisation passes (auto: bf16 where the hardware has it)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model_file(args.model, device="cpu")
    # Warm-up: the first optimiser construction imports torch's compiler stack (~5 s, once per process).
    invert(model.G, held_out_targets(model.G, 1)[0], settings=preset_settings("fast", w_steps=1, w_plus_steps=1))
    started = time.perf_counter()
    report = {"machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} threads".strip(),
              "torch": torch.__version__, "threads": args.threads, "model": str(model.path),
              "precision": str(resolve_precision(args.precision, model.G.device)).replace("torch.", ""),
              "n_samples": args.samples, "samples": bench_samples(model, args.samples, args.precision)}
    report["photos"], kept = bench_photos(model, args.precision)
    report["drag"] = bench_drag(model, kept, args.figure)
    report["total_seconds"] = time.perf_counter() - started
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    print(markdown(report))


if __name__ == "__main__":
    main()
