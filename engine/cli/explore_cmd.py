"""`latentdrag directions` and `latentdrag explore …`: latent-space pictures and edits, run in-process.

Latents are given as a seed (`seed:42` or just `42`, mapped with `--psi`) or a latent file (`.npy`,
`.npz`, safetensors; see `engine.edit.latent_files`). Every command writes a PNG and can save the
resulting latent with `--save-latent`, so edits chain.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from engine.cli import CliError
from engine.edit import latent_ops
from engine.models.render import z_for_seed
from engine.edit.latent_files import (LatentFileError, load_direction, load_latent, model_directions,
                                      save_direction, save_latent)

ROW_CHOICES = ("all",) + latent_ops.ROW_RANGE_NAMES
_LABEL_WIDTH = 110
_HEADER_HEIGHT = 18


def register(sub: argparse._SubParsersAction) -> None:
    directions = sub.add_parser(
        "directions", help="render the model's principal latent directions as a grid",
        description="For each of the top k principal directions of W (GANSpace), render a row of images "
                    "from -σ_max to +σ_max. Directions are computed once per model file and cached.")
    _add_model_args(directions)
    directions.add_argument("-o", "--output", required=True, type=Path, help="PNG grid to write")
    directions.add_argument("--k", type=int, default=6, help="number of directions (rows), default 6")
    directions.add_argument("--rows", choices=ROW_CHOICES, default="all",
                            help="W+ rows the direction is applied to (default all)")
    directions.add_argument("--start", default="0",
                            help="seed or latent file of the image in the middle column (default seed 0)")
    directions.add_argument("--steps", type=int, default=7, help="images per row (default 7)")
    directions.add_argument("--max-sigma", type=float, default=3.0, help="largest |α| in std units (default 3)")
    directions.add_argument("--cell", type=int, default=None, help="cell size in px (default: model resolution)")
    _add_direction_sampling_args(directions)
    directions.set_defaults(func=run_directions)

    explore = sub.add_parser("explore", help="style mixing, interpolation, directions, truncation",
                             description=__doc__.splitlines()[0])
    ops = explore.add_subparsers(dest="operation", metavar="OPERATION", required=True)

    mix = _operation(ops, "mix", "take a row range (coarse/middle/fine) of latent B into latent A", run_mix,
                     ("a", "b"))
    mix.add_argument("--rows", choices=ROW_CHOICES, required=True)
    _add_output_args(mix)

    interp = _operation(ops, "interpolate", "frames from latent A to latent B", run_interpolate, ("a", "b"))
    interp.add_argument("--frames", type=int, default=8, help="number of frames including both ends")
    interp.add_argument("--space", choices=latent_ops.INTERPOLATION_SPACES, default="w+")
    interp.add_argument("-o", "--output", type=Path, help="PNG strip of all frames")
    interp.add_argument("--gif", type=Path, help="animated GIF of the frames")
    interp.add_argument("--fps", type=float, default=12.0, help="GIF frame rate (default 12)")
    interp.add_argument("--cell", type=int, default=None, help="frame size in px (default: model resolution)")

    direction = _operation(ops, "direction", "move a latent along a principal or saved direction",
                           run_direction, ("a",))
    which = direction.add_mutually_exclusive_group(required=True)
    which.add_argument("--pc", type=int, help="principal direction number (1 = largest variance, as the "
                                              "editors' sliders and the directions grid count)")
    which.add_argument("--direction", type=Path, help="direction file saved by `explore save-direction`")
    direction.add_argument("--alpha", type=float, required=True,
                           help="strength in standard deviations (saved directions: 1 = the full difference)")
    direction.add_argument("--rows", choices=ROW_CHOICES, default="all")
    _add_direction_sampling_args(direction)
    _add_output_args(direction)

    save_dir = _operation(ops, "save-direction", "save the direction from latent A to latent B",
                          run_save_direction, ("a", "b"))
    save_dir.add_argument("-o", "--output", required=True, type=Path, help="direction file (.safetensors)")
    save_dir.add_argument("--name", default="", help="name stored in the file")

    truncate = _operation(ops, "truncate", "change the truncation ψ of an existing latent", run_truncate, ("a",))
    truncate.add_argument("--to-psi", type=float, required=True, help="new truncation ψ")
    truncate.add_argument("--from-psi", type=float, default=None,
                          help="ψ the latent was made with (default: --psi for seeds, 1 for files)")
    truncate.add_argument("--rows", choices=ROW_CHOICES, default="all")
    _add_output_args(truncate)


def _operation(ops: argparse._SubParsersAction, name: str, help_text: str, func, latents: tuple[str, ...]
               ) -> argparse.ArgumentParser:
    parser = ops.add_parser(name, help=help_text, description=help_text)
    _add_model_args(parser)
    for latent in latents:
        parser.add_argument(latent, help="seed (N or seed:N) or latent file (.npy, .npz, .safetensors)")
    parser.set_defaults(func=func)
    return parser


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    parser.add_argument("--psi", type=float, default=0.7, help="truncation ψ for seeds (default 0.7)")


def _add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, type=Path, help="PNG to write")
    parser.add_argument("--save-latent", type=Path, help="also save the resulting latent (.npy or .safetensors)")


def _add_direction_sampling_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-samples", type=int, default=20_000, help="W samples for the PCA (default 20000)")
    parser.add_argument("--pca-seed", type=int, default=0, help="seed of the PCA samples (default 0)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="directions cache (default ~/.cache/latentdrag/directions)")


def _load(args: argparse.Namespace):
    from engine.models.loading import load_model_file
    try:
        loaded = load_model_file(args.model, device=args.device)
    except (ValueError, OSError) as exc:  # ModelFileError is a ValueError, as are bad device names
        raise CliError(str(exc)) from exc
    loaded.G.eval().requires_grad_(False)
    return loaded


def _seed_of(spec: str) -> int | None:
    seed_text = spec[len("seed:"):] if spec.startswith("seed:") else spec
    return int(seed_text) if seed_text.isdigit() else None


def latent_from_spec(generator, spec: str, psi: float) -> torch.Tensor:
    """`seed:N` / `N` → mapped latent (NVIDIA's seed → z convention); anything else → a latent file."""
    seed = _seed_of(spec)
    if seed is not None:
        if seed >= 2 ** 32:
            raise CliError(f"seed {seed} is too large (seeds are 0..{2 ** 32 - 1})")
        z = z_for_seed(seed, generator.z_dim)
        with torch.no_grad():
            return generator.mapping(z.to(generator.device), None, truncation_psi=psi)
    path = Path(spec)
    if not path.is_file():
        raise CliError(f"latent {spec!r} is neither a seed nor an existing file")
    try:
        return load_latent(path, generator.num_ws, generator.w_dim).to(generator.device)
    except LatentFileError as exc:
        raise CliError(str(exc)) from exc


def _render(generator, ws: torch.Tensor, cell: int | None = None) -> list[Image.Image]:
    """Images for a batch of latents, one synthesis call per 16 to bound memory."""
    pictures = []
    with torch.no_grad():
        for chunk in ws.split(16):
            image = generator.synthesize(chunk.to(generator.device), noise_mode="const").image
            pixels = ((image.float().cpu() + 1) * 127.5).clamp(0, 255).round().to(torch.uint8)
            pictures += [Image.fromarray(p.permute(1, 2, 0).numpy()) for p in pixels]
    if cell and cell != pictures[0].width:
        pictures = [p.resize((cell, cell), Image.LANCZOS) for p in pictures]
    return pictures


def _save_png(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    print(f"wrote {path}")


def _write_result(generator, ws: torch.Tensor, args: argparse.Namespace) -> int:
    _save_png(_render(generator, ws)[0], args.output)
    if args.save_latent:
        save_latent(args.save_latent, ws)
        print(f"wrote {args.save_latent}")
    return 0


def _rows(generator, name: str) -> list[int]:
    try:
        return latent_ops.resolve_rows(generator.num_ws, name)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def _directions(loaded, args: argparse.Namespace) -> latent_ops.Directions:
    if args.n_samples < 2:
        raise CliError("--n-samples must be at least 2")
    return model_directions(loaded.G, loaded.path, args.n_samples, args.pca_seed, args.cache_dir)


def direction_grid(generator, directions: latent_ops.Directions, start_ws: torch.Tensor, k: int,
                   rows: str, steps: int, max_sigma: float, cell: int | None = None) -> Image.Image:
    """A labelled grid: one row per direction, columns from -max_sigma to +max_sigma standard
    deviations (labels in ASCII: PIL's built-in bitmap font has no Greek letters)."""
    alphas = np.linspace(-max_sigma, max_sigma, steps)
    latents = [latent_ops.apply_direction(start_ws, directions.direction(index), float(alpha), rows)
               for index in range(k) for alpha in alphas]
    pictures = _render(generator, torch.cat(latents), cell)
    size = pictures[0].width
    grid = Image.new("RGB", (_LABEL_WIDTH + steps * size, _HEADER_HEIGHT + k * size), "white")
    draw = ImageDraw.Draw(grid)
    for column, alpha in enumerate(alphas):
        text = f"{alpha:+.1f} sd"
        draw.text((_LABEL_WIDTH + column * size + (size - draw.textlength(text)) / 2, 3), text, fill="black")
    for index in range(k):
        top = _HEADER_HEIGHT + index * size
        draw.text((6, top + size // 2 - 12), f"direction {index + 1}", fill="black")
        draw.text((6, top + size // 2 + 2), f"sd = {directions.stds[index]:.3f}", fill="black")
        for column in range(steps):
            grid.paste(pictures[index * steps + column], (_LABEL_WIDTH + column * size, top))
    return grid


def run_directions(args: argparse.Namespace) -> int:
    if args.k < 1 or args.steps < 2:
        raise CliError("--k must be at least 1 and --steps at least 2")
    loaded = _load(args)
    rows = _rows(loaded.G, args.rows)
    directions = _directions(loaded, args)
    if args.k > len(directions):
        raise CliError(f"--k {args.k}: the model has only {len(directions)} directions")
    start = latent_from_spec(loaded.G, args.start, args.psi)
    _save_png(direction_grid(loaded.G, directions, start, args.k, rows, args.steps, args.max_sigma, args.cell),
              args.output)
    return 0


def run_mix(args: argparse.Namespace) -> int:
    G = _load(args).G
    ws_a, ws_b = latent_from_spec(G, args.a, args.psi), latent_from_spec(G, args.b, args.psi)
    return _write_result(G, latent_ops.style_mix(ws_a, ws_b, _rows(G, args.rows)), args)


def run_interpolate(args: argparse.Namespace) -> int:
    if not args.output and not args.gif:
        raise CliError("give -o/--output (PNG strip) and/or --gif")
    if args.fps <= 0:
        raise CliError("--fps must be positive")
    G = _load(args).G
    ws_a, ws_b = latent_from_spec(G, args.a, args.psi), latent_from_spec(G, args.b, args.psi)
    try:
        frames = latent_ops.interpolate(ws_a, ws_b, args.frames, args.space)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    pictures = _render(G, frames, args.cell)
    if args.output:
        strip = Image.new("RGB", (pictures[0].width * len(pictures), pictures[0].height))
        for index, picture in enumerate(pictures):
            strip.paste(picture, (index * picture.width, 0))
        _save_png(strip, args.output)
    if args.gif:
        args.gif.parent.mkdir(parents=True, exist_ok=True)
        # Forth and back, so the loop has no jump.
        loop = pictures + pictures[-2:0:-1]
        loop[0].save(args.gif, save_all=True, append_images=loop[1:], duration=round(1000 / args.fps), loop=0)
        print(f"wrote {args.gif}")
    return 0


def run_direction(args: argparse.Namespace) -> int:
    loaded = _load(args)
    G = loaded.G
    ws = latent_from_spec(G, args.a, args.psi)
    if args.direction is not None:
        try:
            direction = load_direction(args.direction)
        except LatentFileError as exc:
            raise CliError(str(exc)) from exc
    else:
        directions = _directions(loaded, args)
        if not 1 <= args.pc <= len(directions):
            raise CliError(f"--pc must be in 1..{len(directions)}, got {args.pc}")
        direction = directions.direction(args.pc - 1)
    try:
        moved = latent_ops.apply_direction(ws, direction, args.alpha, _rows(G, args.rows))
    except ValueError as exc:
        raise CliError(f"{args.direction or 'direction'}: {exc}") from exc
    return _write_result(G, moved, args)


def run_save_direction(args: argparse.Namespace) -> int:
    G = _load(args).G
    ws_a, ws_b = latent_from_spec(G, args.a, args.psi), latent_from_spec(G, args.b, args.psi)
    save_direction(args.output, latent_ops.direction_from_latents(ws_a, ws_b, name=args.name))
    print(f"wrote {args.output}")
    return 0


def run_truncate(args: argparse.Namespace) -> int:
    G = _load(args).G
    ws = latent_from_spec(G, args.a, args.psi)
    from_psi = args.from_psi
    if from_psi is None:
        from_psi = args.psi if _seed_of(args.a) is not None else 1.0
    try:
        moved = latent_ops.retruncate(ws, G.w_avg, from_psi, args.to_psi, _rows(G, args.rows))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return _write_result(G, moved, args)
