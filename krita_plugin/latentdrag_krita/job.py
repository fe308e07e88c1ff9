"""The network side of a drag or a sample: runs in a worker thread, talks only to the engine client.

Inputs are collected on Krita's GUI thread into plain values (DragJob); this module never touches Krita,
so it is tested with plain pytest against a real engine.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Callable, Optional

from .geometry import DragPair, check_inside
from .latent_store import Box, LatentRecord
from .pixels import Mask, restrict_to_selection

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_ENGINE_COMMAND = "latentdrag serve --listen {address}"
METHODS = {"DragGAN": "draggan", "FreeDrag": "freedrag"}
INVERSION_PRESETS = {"Fast": "fast", "Faithful": "faithful"}
# Engine answers that mean "this stored latent cannot be re-attached": invert the pixels instead.
_STALE_LATENT_CODES = {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION"}


def connect(client_module, settings: "DragSettings", timeout: float = 30.0):
    """An EngineClient for the configured address (and token, when one is set)."""
    return client_module.EngineClient(settings.address, token=settings.token or None, timeout=timeout)


def engine_command_line(template: str, address: str) -> list[str]:
    """The argv of the "Start engine" command: shell-style words, `{address}` replaced (no shell runs it)."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ValueError(f"the engine command cannot be read ({exc}): {template!r}") from None
    if not words:
        raise ValueError("the engine command is empty; e.g. " + DEFAULT_ENGINE_COMMAND)
    return [word.replace("{address}", address) for word in words]


def serve_hint(address: str) -> str:
    """The exact command that starts an engine the plugin can reach at `address`."""
    return f"latentdrag serve --listen {address}"


@dataclass(frozen=True)
class DragSettings:
    address: str = DEFAULT_ADDRESS
    token: str = ""  # bearer token for an engine on a non-loopback address (`serve --token-file`)
    model: str = ""  # models/{id}; empty = the engine's default model
    engine_command: str = DEFAULT_ENGINE_COMMAND  # what "Start engine" runs; {address} = the address above
    method: str = "draggan"
    inversion_preset: str = "fast"
    max_steps: int = 500  # the engine's default too (docs/benchmarks.md, "Drag: step budget")
    preview_every: int = 10

    def __post_init__(self) -> None:
        if self.method not in METHODS.values():
            raise ValueError(f"method must be one of {', '.join(METHODS.values())}, got {self.method!r}")
        if self.inversion_preset not in INVERSION_PRESETS.values():
            raise ValueError(f"inversion preset must be one of {', '.join(INVERSION_PRESETS.values())}, "
                             f"got {self.inversion_preset!r}")
        if self.max_steps < 1:
            raise ValueError(f"the step limit must be at least 1, got {self.max_steps}")
        if self.preview_every < 0:
            raise ValueError(f"preview_every must be 0 (off) or positive, got {self.preview_every}")


def check_layer_image(width: int, height: int, rgba: bytes, mask: Optional[Mask]) -> None:
    if len(rgba) != 4 * width * height:
        raise ValueError(f"layer image: expected {4 * width * height} bytes, got {len(rgba)}")
    if mask is not None and (mask.width, mask.height) != (width, height):
        raise ValueError(f"the mask is {mask.width} x {mask.height}, the layer image {width} x {height}")


def edit_box(width: int, height: int, mask: Optional[Mask]) -> Box:
    """Where an edit may change pixels: the selection's box, else the whole image."""
    return mask.box if mask is not None else (0, 0, width, height)


@dataclass(frozen=True)
class DragJob:
    """One drag on one layer image (`rgba`, straight RGBA U8) with pairs in that image's pixels."""

    settings: DragSettings
    width: int
    height: int
    rgba: bytes
    pairs: list[DragPair]
    mask: Optional[Mask] = None
    stored: Optional[LatentRecord] = None

    def __post_init__(self) -> None:
        check_layer_image(self.width, self.height, self.rgba, self.mask)
        if not self.pairs:
            raise ValueError("draw at least one line from a handle to its target")
        check_inside(self.pairs, self.width, self.height)

    @property
    def edit_box(self) -> Box:
        return edit_box(self.width, self.height, self.mask)


@dataclass(frozen=True)
class JobProgress:
    """What the docker shows: the stage, step counts, distance left and an optional preview frame.

    `preview` is an encoded image at model resolution covering `region_box` of the layer image.
    """

    stage: str  # "connecting", "inverting", "dragging"
    step: int = 0
    total: int = 0
    distance: Optional[float] = None
    preview: Optional[object] = None
    region_box: Optional[Box] = None


@dataclass(frozen=True)
class DragJobResult:
    rgba: bytes  # the layer image with the edit composited back, same size as the job's image
    record: LatentRecord  # fingerprint left empty: the GUI side fills it in from the layer it creates
    steps: int
    converged: bool
    seconds: float
    reused_latent: bool
    finished_early: bool = False  # stopped by `finish` (the engine's FinishDrag) and kept


@dataclass(frozen=True)
class SampleResult:
    rgba: bytes
    width: int
    height: int
    record: LatentRecord


ProgressCallback = Callable[[JobProgress], None]


def _raw(client_module, width: int, height: int, data: bytes, pixel_format: str = "RGBA8"):
    return client_module.RawImage(width=width, height=height, data=data, pixel_format=pixel_format)


def open_session(client, client_module, job, on_progress: ProgressCallback, cancel):
    """(session, reused) for a layer image: re-attached from its stored latent when possible, else by
    inversion. `job` is a DragJob or anything with its settings, width, height, rgba, mask, stored and
    edit_box (the explore source)."""
    layer = _raw(client_module, job.width, job.height, job.rgba)
    stored = job.stored
    usable = (stored is not None and stored.covers(job.edit_box)
              and (not job.settings.model or job.settings.model == stored.model))
    if usable:
        try:
            return client.create_session_from_latent(stored.blob, layer=layer, result_format="raw").session, True
        except ValueError:
            pass  # the client cannot parse the stored blob: invert instead
        except client_module.EngineError as error:
            if error.code not in _STALE_LATENT_CODES:
                raise
    mask = job.mask
    on_progress(JobProgress("inverting"))

    def inversion_progress(progress) -> None:
        on_progress(JobProgress("inverting", progress.step, progress.total_steps))

    outcome = client.create_session_from_image(
        layer, selection=mask.box if mask is not None else None,
        mask=_raw(client_module, mask.width, mask.height, mask.data, "GRAY8") if mask is not None else None,
        preset=job.settings.inversion_preset, model=job.settings.model or None,
        on_progress=inversion_progress, cancel_event=cancel, result_format="raw")
    return outcome.session, False


def run_drag(client, client_module, job: DragJob, on_progress: ProgressCallback, cancel,
             finish=None) -> DragJobResult:
    """Invert (or re-attach), drag, export the new latent; the engine session is deleted afterwards.

    `client_module` is the imported `engine.client` (passed in because the plugin imports it lazily).
    Raises `client_module.EngineError` (code "CANCELLED" after `cancel.set()`); `finish.set()` stops the
    drag where it is and keeps that result.
    """
    settings = job.settings
    on_progress(JobProgress("connecting"))
    session, reused = open_session(client, client_module, job, on_progress, cancel)
    try:
        region = session.region_box
        on_progress(JobProgress("dragging", 0, settings.max_steps, region_box=region))

        def drag_progress(progress) -> None:
            on_progress(JobProgress("dragging", progress.step, progress.max_steps, progress.max_distance,
                                    progress.preview, region))

        mask = job.mask
        outcome = client.drag(
            session.name, [pair.handle for pair in job.pairs], [pair.target for pair in job.pairs],
            mask=_raw(client_module, mask.width, mask.height, mask.data, "GRAY8") if mask is not None else None,
            method=settings.method, max_steps=settings.max_steps, preview_every=settings.preview_every,
            on_progress=drag_progress, cancel_event=cancel, coordinates="layer", result_format="raw",
            finish_event=finish)
        composite = outcome.composite
        if composite is None or (composite.width, composite.height) != (job.width, job.height):
            raise client_module.EngineError("INTERNAL", "the engine returned no result at the layer's size")
        rgba = bytes(composite.data)
        if mask is not None:
            rgba = restrict_to_selection(job.rgba, rgba, mask)
        blob = client.export_latent(session.name)
        record = LatentRecord(session.model, blob, outcome.session.region_box, fingerprint="")
        return DragJobResult(rgba, record, outcome.steps, outcome.converged, outcome.seconds,
                             reused, outcome.finished_early)
    finally:
        try:
            client.delete_session(session.name)
        except client_module.EngineError:
            pass  # the engine expires sessions by itself; a failed clean-up must not hide the result


def run_sample(client, seed: int, psi: float, model: str = "") -> SampleResult:
    """A new image from a seed, with its latent so a later drag on it needs no inversion."""
    outcome = client.create_session_from_seed(seed, psi=psi, model=model or None, result_format="raw")
    try:
        blob = client.export_latent(outcome.session.name)
    finally:
        client.delete_session(outcome.session.name)
    image = outcome.image
    return SampleResult(bytes(image.data), image.width, image.height,
                        LatentRecord(outcome.session.model, blob, None, fingerprint=""))
