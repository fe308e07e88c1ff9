"""`latentdrag models`, `latentdrag convert`, `latentdrag sample`: inspect, convert and try model files."""
from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from . import CliError

MODEL_SUFFIXES = (".safetensors", ".pkl", ".pickle")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list model files with their metadata",
                       description="List the bundled default model and the model files in DIR.")
    p.add_argument("dir", nargs="?", type=Path, help="folder to scan for .safetensors / .pkl model files")
    p.add_argument("--json", action="store_true", help="print one JSON object per model instead of a table")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("convert", help="convert an NVIDIA StyleGAN2 pickle to latentdrag's .safetensors",
                       description="Read IN with the restricted loader (no code in it runs) and write OUT.")
    p.add_argument("input", type=Path, metavar="IN.pkl")
    p.add_argument("output", type=Path, metavar="OUT.safetensors")
    p.add_argument("--name", help="model name (default: the input file's stem)")
    p.add_argument("--license", default="", help="licence of the weights, e.g. 'NVIDIA Source Code License-NC'")
    p.add_argument("--description", default="")
    p.add_argument("--provenance", help="where the weights come from (default: a latentdrag file's own, "
                                        "else the input file name)")
    p.add_argument("--no-discriminator", action="store_true", help="leave D out (smaller file; inversion "
                   "then cannot use D features)")
    p.add_argument("--drag-defaults", metavar="JSON",
                   help="drag settings tuned for this model, e.g. '{\"optimize_rows\": 2, \"lr\": 0.01, \"r1\": 8}' "
                        "(default: those of IN, if it is a latentdrag file)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("sample", help="render a grid of samples from a model file (in-process)")
    p.add_argument("--model", type=Path, help="model file (default: the bundled model)")
    p.add_argument("--seeds", default="0-7", help="seeds, e.g. '0-7' or '1,5,9-12' (default 0-7)")
    p.add_argument("--psi", type=float, default=0.7, help="truncation psi (default 0.7; 1 = none)")
    p.add_argument("--cutoff", type=int, help="truncate only the first N ws rows")
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default="const")
    p.add_argument("--class-index", type=int, help="class for conditional models")
    p.add_argument("--columns", type=int, help="grid columns (default: near-square)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps (default auto)")
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    p.set_defaults(func=cmd_sample)


def parse_seeds(spec: str, limit: int = 4096) -> list[int]:
    """'0-3,7' → [0, 1, 2, 3, 7]."""
    seeds: list[int] = []
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise CliError(f"--seeds: {part!r} is not a seed or a range like 0-7")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first:
            raise CliError(f"--seeds: range {part.strip()!r} runs backwards")
        seeds.extend(range(first, last + 1))
        if len(seeds) > limit:
            raise CliError(f"--seeds: more than {limit} seeds")
    return seeds


def _model_rows(folder: Path | None) -> list[dict]:
    from engine.models.errors import ModelFileError
    from engine.models.loading import DEFAULT_MODEL_PATH, read_model_info

    paths = [DEFAULT_MODEL_PATH] if DEFAULT_MODEL_PATH.is_file() else []
    if folder is not None:
        if not folder.is_dir():
            raise CliError(f"DIR: {folder} is not a folder")
        paths += sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES)
    rows = []
    for path in paths:
        try:
            row = read_model_info(path).summary_dict()
        except ModelFileError as exc:
            row = {"name": path.stem, "error": str(exc).removeprefix(f"{path}: ")}
        row["path"] = str(path)
        row["bundled"] = path == DEFAULT_MODEL_PATH
        rows.append(row)
    return rows


def cmd_models(args: argparse.Namespace) -> int:
    from engine.models.loading import DEFAULT_MODEL_PATH

    rows = _model_rows(args.dir)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not DEFAULT_MODEL_PATH.is_file():
        print(f"(bundled default model not trained yet: {DEFAULT_MODEL_PATH})")
    if not rows:
        print("no model files found")
        return 0
    headers = ("NAME", "ARCH", "RES", "NUM_WS", "D", "LICENSE", "PATH")
    table = []
    for row in rows:
        if "error" in row:
            table.append((row["name"], "error", "", "", "", row["error"], row["path"]))
        else:
            table.append((row["name"] + (" (bundled)" if row["bundled"] else ""), row["architecture"],
                          str(row["resolution"]), str(row["num_ws"]), "yes" if row["has_discriminator"] else "no",
                          row["license"] or "-", row["path"]))
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers[:-1])]
    for line in [headers, *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1])
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from engine.models.errors import ModelFileError
    from engine.models.loading import load_model_file
    from engine.models.model_info import validate_drag_defaults
    from engine.models.native import read_native_info, save_native

    if args.output.exists() and not args.force:
        raise CliError(f"OUT: {args.output} exists (use --force to overwrite)")
    if args.output.resolve() == args.input.resolve():
        raise CliError("OUT must differ from IN")
    started = time.perf_counter()
    try:
        model = load_model_file(args.input, device="cpu")
    except ModelFileError as exc:
        raise CliError(str(exc)) from None
    source = "NVIDIA network pickle" if model.meta.source_format == "nvidia-pickle" else "latentdrag file"
    drag_defaults = model.meta.drag_defaults
    if args.drag_defaults is not None:
        try:
            drag_defaults = validate_drag_defaults(json.loads(args.drag_defaults))
        except (json.JSONDecodeError, ValueError) as exc:
            raise CliError(f"--drag-defaults: {exc}") from None
    save_native(args.output, model.G, None if args.no_discriminator else model.D,
                name=args.name or args.input.stem, description=args.description or model.meta.description,
                provenance=args.provenance or (model.meta.source_format == "safetensors" and model.meta.provenance)
                or f"converted by latentdrag from {args.input.name} ({source})",
                license=args.license or model.meta.license, drag_defaults=drag_defaults)
    info = read_native_info(args.output)
    print(f"wrote {args.output}: {info.name}, {info.architecture} {info.resolution}px, num_ws {info.num_ws}, "
          f"discriminator {'yes' if info.has_discriminator else 'no'}, "
          f"{args.output.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from engine.models.loading import load_model_file
    from engine.models.render import image_grid, render_seeds, to_pil

    seeds = parse_seeds(args.seeds)
    if args.columns is not None and args.columns < 1:
        raise CliError(f"--columns must be at least 1, got {args.columns}")
    if args.output.suffix.lower() != ".png":
        raise CliError(f"-o: {args.output} must be a .png file")
    try:
        model = load_model_file(args.model, device=args.device)
        images = render_seeds(model.G, seeds, psi=args.psi, truncation_cutoff=args.cutoff,
                              noise_mode=args.noise_mode, class_index=args.class_index)
    except ValueError as exc:  # includes ModelFileError; also bad --device / --class-index
        raise CliError(str(exc)) from None
    to_pil(image_grid(images, args.columns)).save(args.output)
    print(f"wrote {args.output}: {len(seeds)} samples of {model.meta.name} (psi {args.psi})")
    return 0
