"""`latentdrag edit`: one drag edit of a PNG, through a running engine or a temporary in-process one."""
from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from engine.cli import CliError
from engine.client import DEFAULT_ADDRESS, EngineClient, EngineError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edit", help="drag points of an image (inverts it first) and write the result",
                       description="Invert IN.png, drag handles to targets and write the edited layer. Uses the "
                                   "engine at --engine, or starts one in-process when none answers.")
    p.add_argument("image", type=Path, metavar="IN.png")
    p.add_argument("--drag", action="append", required=True, metavar="X,Y:X2,Y2",
                   help="move the content at X,Y to X2,Y2 (image pixels); repeat for more points")
    p.add_argument("--mask", type=Path, metavar="M.png", help="where the image may change (white), same size")
    p.add_argument("--invert", default="fast", choices=("fast", "faithful"), help="inversion preset")
    p.add_argument("--method", default="draggan", choices=("draggan", "freedrag"))
    p.add_argument("--steps", type=int, default=0, help="maximum drag steps (default: the engine's, 500); Ctrl-C during the drag keeps what it reached")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.png")
    p.add_argument("--gif", type=Path, metavar="steps.gif", help="also write the drag's steps as an animated GIF")
    p.add_argument("--engine", default=DEFAULT_ADDRESS, metavar="ADDR", help=f"engine address (default {DEFAULT_ADDRESS})")
    p.add_argument("--token-file", type=Path, help="bearer token for a remote engine")
    p.add_argument("--model", type=Path, help="model file for an in-process engine (default: the bundled one)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.set_defaults(func=run_edit)


def parse_drag(spec: str) -> tuple[tuple[float, float], tuple[float, float]]:
    try:
        start, end = spec.split(":")
        (x, y), (x2, y2) = (tuple(float(v) for v in part.split(",")) for part in (start, end))
    except ValueError:
        raise CliError(f"--drag {spec!r}: expected X,Y:X2,Y2 such as 120,80:140,80") from None
    return (x, y), (x2, y2)


class ProgressBar:
    """A one-line progress bar on stderr (only when stderr is a terminal, else one line per 10%)."""

    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def update(self, done: int, total: int, detail: str = "") -> None:
        fraction = min(done / max(total, 1), 1.0)
        if self.tty:
            bar = "#" * int(fraction * 30)
            print(f"\r{self.label} [{bar:<30}] {done}/{total} {detail}   ", end="", file=sys.stderr, flush=True)
        elif int(fraction * 10) > self.last_decile:
            self.last_decile = int(fraction * 10)
            print(f"{self.label}: {done}/{total} {detail}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


@contextlib.contextmanager
def connect(args: argparse.Namespace) -> Iterator[EngineClient]:
    """The engine at --engine if one answers, else a temporary in-process engine on a private socket."""
    token = args.token_file.read_text().strip() if args.token_file else None
    client = EngineClient(args.engine, token=token, timeout=10)
    try:
        client.health()
        yield client
        return
    except EngineError as exc:
        client.close()
        if exc.code != "UNAVAILABLE":
            raise CliError(exc.message) from None
    from engine.service.config import ServiceConfig
    from engine.service.server import EngineServer

    print(f"no engine at {args.engine}; starting one in-process", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="latentdrag-") as folder:
        address = f"unix:{folder}/engine.sock"
        try:
            server = EngineServer(ServiceConfig(listen=address, device=args.device, model_path=args.model)).start()
        except ValueError as exc:
            raise CliError(str(exc)) from None
        try:
            with EngineClient(address, timeout=600) as local:
                yield local
        finally:
            server.stop(0)


def write_gif(frames: list[bytes], path: Path) -> None:
    from PIL import Image

    pictures = [Image.open(io.BytesIO(data)).convert("RGB") for data in frames]
    side = max(256, pictures[0].width)
    pictures = [p.resize((side, side), Image.NEAREST) for p in pictures]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=80, loop=0)


def check_points_inside(pairs: list[tuple[tuple[float, float], tuple[float, float]]], image: bytes) -> None:
    """Refuse points off the picture before the (long) inversion rather than after it."""
    from PIL import Image, UnidentifiedImageError

    try:
        width, height = Image.open(io.BytesIO(image)).size
    except (UnidentifiedImageError, OSError):
        return  # the engine names what is wrong with the file
    for number, pair in enumerate(pairs, 1):
        for role, (x, y) in zip(("handle", "target"), pair):
            if not (0 <= x <= width and 0 <= y <= height):
                raise CliError(f"--drag #{number}: {role} ({x:g}, {y:g}) is outside the {width}x{height} image")


@contextlib.contextmanager
def first_interrupt_finishes(finish: threading.Event) -> Iterator[None]:
    """While the drag runs, the first Ctrl-C keeps what it has reached (the engine's FinishDrag) and a
    second one aborts. Only the main thread can own the signal, and a Ctrl-C the shell ignores for this
    process (a background job) stays ignored; otherwise Ctrl-C keeps its meaning."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        yield
        return

    def on_interrupt(_signum, _frame) -> None:
        if finish.is_set():
            raise KeyboardInterrupt
        finish.set()
        print("\nfinishing the drag where it is (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_edit(args: argparse.Namespace) -> int:
    pairs = [parse_drag(spec) for spec in args.drag]
    try:
        image = args.image.read_bytes()
        mask = args.mask.read_bytes() if args.mask else None
    except OSError as exc:
        raise CliError(f"cannot read {exc.filename}: {exc.strerror}") from None
    check_points_inside(pairs, image)
    frames: list[bytes] = []
    try:
        with connect(args) as engine:
            bar = ProgressBar(f"inverting ({args.invert})")
            made = engine.create_session_from_image(
                image, mask=mask, preset=args.invert,
                on_progress=lambda p: bar.update(p.step, p.total_steps, f"{p.stage} loss {p.loss:.3f}"))
            bar.close()
            print(f"inverted: PSNR {made.psnr:.1f} dB in {made.seconds:.1f} s", file=sys.stderr)
            frames.append(made.image.data)
            bar = ProgressBar(f"dragging ({args.method})")

            def on_step(p) -> None:
                bar.update(p.step, p.max_steps, f"distance {p.max_distance:.1f} px")
                if p.preview is not None:
                    frames.append(p.preview.data)

            finish = threading.Event()
            with first_interrupt_finishes(finish):
                out = engine.drag(made.session.name, [h for h, _ in pairs], [t for _, t in pairs], mask=mask,
                                  method=args.method, max_steps=args.steps, coordinates="layer",
                                  preview_every=2 if args.gif else 0, on_progress=on_step, finish_event=finish)
            bar.close()
    except EngineError as exc:
        raise CliError(exc.message) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    args.output.write_bytes(out.composite.data)
    state = ("reached the targets" if out.converged else "finished early" if out.finished_early
             else "stopped at the step limit")
    print(f"{out.steps} steps, {state}, {out.seconds:.1f} s → {args.output}", file=sys.stderr)
    if args.gif:
        write_gif(frames + [out.image.data], args.gif)
        print(f"steps → {args.gif}", file=sys.stderr)
    return 0
