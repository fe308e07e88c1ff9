"""`latentdrag demo`: show a running engine at work — a sample, a drag on it, and the drag's steps.

This is what `scripts/run.sh` runs after starting the engine, so a new user sees the product work
before opening Krita or GIMP. It talks to the engine only through the client, like the plugins do.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from engine.cli import CliError
from engine.client import DEFAULT_ADDRESS, EngineClient, EngineError

# Drags in fractions of the image side, chosen for a centred face: the tip of the nose and the chin
# to the same side, so the head turns. On the bundled faces64 (seed 4) both end within 0.5 px by
# optical flow; a mouth-opening drag (lower lip down) did not move on that model (docs/drag.md).
DEMO_DRAGS = (((0.50, 0.63), (0.58, 0.63)), ((0.50, 0.88), (0.56, 0.88)))
DISPLAY_SCALE_TARGET = 384


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="drag a sample on a running engine and write pictures of it",
                       description="Create a sample session on the engine, drag two points, and write the "
                                   "before/after pictures and a GIF of the steps.")
    p.add_argument("--engine", default=DEFAULT_ADDRESS, metavar="ADDR", help=f"engine address (default {DEFAULT_ADDRESS})")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--psi", type=float, default=0.7)
    p.add_argument("--method", default="draggan", choices=("draggan", "freedrag"))
    p.add_argument("--steps", type=int, default=200, help="maximum drag steps")
    p.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                   help="how long to wait for the engine to come up")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("out"))
    p.set_defaults(func=run_demo)


def _wait_for_engine(client: EngineClient, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return client.health()
        except EngineError as exc:
            if exc.code != "UNAVAILABLE" or time.monotonic() > deadline:
                raise CliError(exc.message) from None
            time.sleep(0.5)


def _decode(image_data):
    from PIL import Image
    return Image.open(io.BytesIO(image_data.data)).convert("RGB")


def _annotate(image, handles, targets, scale: int):
    """Upscale for viewing and draw handle (red) → target (blue) arrows."""
    from PIL import Image, ImageDraw
    big = image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(big)
    r = max(3, scale)
    for (hx, hy), (tx, ty) in zip(handles, targets):
        h = (hx * scale + scale / 2, hy * scale + scale / 2)
        t = (tx * scale + scale / 2, ty * scale + scale / 2)
        draw.line([h, t], fill=(255, 255, 255), width=2)
        draw.ellipse([h[0] - r, h[1] - r, h[0] + r, h[1] + r], fill=(230, 40, 40))
        draw.ellipse([t[0] - r, t[1] - r, t[0] + r, t[1] + r], fill=(40, 90, 230))
    return big


def run_demo(args: argparse.Namespace) -> int:
    from PIL import Image

    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    with EngineClient(args.engine, timeout=60.0) as client:
        info = _wait_for_engine(client, args.wait)
        model = next((m for m in client.list_models() if m.is_default), None)
        if model is None:
            raise CliError("the engine offers no default model")
        res = model.resolution
        print(f"engine {info.version} on {info.device}; model {model.name} ({res} px)", file=sys.stderr)
        made = client.create_session_from_seed(args.seed, psi=args.psi)
        before = _decode(made.image)
        handles = [(hx * res, hy * res) for (hx, hy), _ in DEMO_DRAGS]
        targets = [(tx * res, ty * res) for _, (tx, ty) in DEMO_DRAGS]
        scale = max(1, DISPLAY_SCALE_TARGET // res)
        frames = [_annotate(before, handles, targets, scale)]

        tty = sys.stderr.isatty()

        def on_progress(p):
            if p.preview is not None:
                frames.append(_annotate(_decode(p.preview), p.handles, targets, scale))
            line = f"drag step {p.step}/{p.max_steps}  distance left {p.max_distance:5.2f} px"
            if tty:
                print("\r" + line, end="", file=sys.stderr, flush=True)
            elif p.step % 20 == 0:
                print(line, file=sys.stderr, flush=True)

        result = client.drag(made.session.name, handles, targets, method=args.method, max_steps=args.steps,
                             preview_every=2, on_progress=on_progress)
        if tty:
            print(file=sys.stderr)
        after = _decode(result.image)
        frames.append(_annotate(after, result.handles, targets, scale))

    before.resize((res * scale,) * 2, Image.Resampling.BICUBIC).save(out / "demo-before.png")
    after.resize((res * scale,) * 2, Image.Resampling.BICUBIC).save(out / "demo-after.png")
    side = Image.new("RGB", (2 * res * scale + 8, res * scale), (255, 255, 255))
    side.paste(frames[0], (0, 0))
    side.paste(frames[-1], (res * scale + 8, 0))
    side.save(out / "demo.png")
    frames[0].save(out / "demo-drag.gif", save_all=True, append_images=frames[1:] + [frames[-1]] * 8,
                   duration=80, loop=0)
    state = "reached its targets" if result.converged else "stopped at the step limit"
    print(f"drag {state} after {result.steps} steps in {result.seconds:.1f} s "
          f"(session {result.session.name}, revision {result.session.revision})", file=sys.stderr)
    print(f"wrote {out / 'demo.png'} (before | after), {out / 'demo-drag.gif'}, "
          f"{out / 'demo-before.png'}, {out / 'demo-after.png'}")
    return 0
