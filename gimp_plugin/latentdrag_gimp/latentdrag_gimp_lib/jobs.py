"""What the plug-in asks the engine, written against the engine client only (no GIMP), so the whole
conversation — resume from the stored latent or invert, drag, export the new latent — is tested with a
real engine outside GIMP. Runs in the plug-in's worker thread; `report(text, fraction)` carries progress
to the GIMP thread.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

from engine.client import EngineError, RawImage

from .latent_parasite import StoredLatent, pixels_digest
from .points import DragPair
from .selection import LayerRegion


class Reporter(Protocol):
    """Progress to show: a line of text, the bar's fraction (None: unknown, pulse), whether the drag
    itself runs now (the only time Finish has a drag to keep) and, now and then during a drag, a
    preview frame (encoded image bytes, the generator's render of the edited area)."""

    def __call__(self, text: str, fraction: Optional[float], finishable: bool = False,
                 preview: Optional[bytes] = None) -> None: ...


INVERSION_SHARE = 0.4  # of the progress bar, when the layer has to be inverted before dragging
# Engine answers that mean "this stored latent cannot be resumed here": invert instead.
UNRESUMABLE_CODES = frozenset({"NOT_FOUND", "INVALID_ARGUMENT", "FAILED_PRECONDITION", "ABORTED"})


class JobError(Exception):
    """The engine answered, but with something the plug-in cannot use; the message says what."""


@dataclass(frozen=True)
class LayerPixels:
    """A layer's pixels as R'G'B'A u8 (straight alpha, row-major, no padding)."""
    width: int
    height: int
    rgba: bytes

    def __post_init__(self) -> None:
        if len(self.rgba) != self.width * self.height * 4:
            raise ValueError(f"layer pixels: {len(self.rgba)} bytes for {self.width}×{self.height} RGBA, "
                             f"expected {self.width * self.height * 4}")


@dataclass(frozen=True)
class DragSettings:
    method: str = "draggan"           # "draggan" | "freedrag"
    inversion_preset: str = "fast"    # "fast" | "faithful"
    max_steps: int = 500  # the engine's default too (docs/benchmarks.md, "Drag: step budget")
    model: str = ""                   # models/{id}; "" = the engine's default


@dataclass(frozen=True)
class DragJob:
    layer: LayerPixels
    pairs: list[DragPair]
    region: Optional[LayerRegion]     # None = the whole layer may change
    settings: DragSettings
    stored: Optional[StoredLatent]    # the latent parasite on the layer, if any


@dataclass(frozen=True)
class JobResult:
    """New layer pixels (layer size for drags, model resolution for samples) and the latent to store."""
    layer: LayerPixels
    stored: StoredLatent
    summary: str
    inverted: bool = False
    finished_early: bool = False  # a drag stopped by Finish and kept where it was


def _box_inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


def session_fits(session, job: DragJob) -> bool:
    """Whether an engine session edits exactly this layer, with the chosen model, over the whole area
    that may change now (the selection, or the whole layer without one)."""
    layer = job.layer
    if job.settings.model not in ("", session.model):
        return False
    if session.kind == "image":
        if (session.layer_width, session.layer_height) != (layer.width, layer.height):
            return False
        editable = job.region.box if job.region else (0, 0, layer.width, layer.height)
        return session.region_box is None or _box_inside(editable, session.region_box)
    # Seed and latent sessions render at model resolution: usable when the layer is exactly that image.
    return session.resolution == layer.width == layer.height


def _stored_from(client, session_name: str, revision: int, image_rgba: bytes, session) -> StoredLatent:
    return StoredLatent(exported_latent=client.export_latent(session_name, revision),
                        pixels_sha256=pixels_digest(image_rgba), session=session_name, revision=revision,
                        model=session.model, kind=session.kind)


def resume_session(client, job: DragJob, report: Reporter):
    """The session for a layer that carries a latent from an earlier drag, or None when it must be
    inverted: no latent, the layer was painted on since, the selection grew beyond the stored region, or
    the engine cannot use the latent (unknown model, ...)."""
    stored = job.stored
    if stored is None or not stored.matches_pixels(job.layer.rgba):
        return None
    report("Resuming from the latent stored on the layer…", None)
    try:
        session = client.get_session(stored.session) if stored.session else None
    except EngineError as exc:
        if exc.code != "NOT_FOUND":
            raise
        session = None
    if session is not None and not session_fits(session, job):
        return None  # a new selection, size or model: the stored latent cannot serve it either
    try:
        if session is not None:
            if session.revision == stored.revision:
                return session
            return client.import_latent(session.name, stored.exported_latent, expected_revision=session.revision,
                                        result_format="raw").session
        layer = (RawImage(job.layer.width, job.layer.height, job.layer.rgba, "RGBA8")
                 if stored.kind == "image" else None)
        session = client.create_session_from_latent(stored.exported_latent, layer=layer, model=stored.model or None,
                                                    result_format="raw").session
    except EngineError as exc:
        if exc.code in UNRESUMABLE_CODES:
            report(f"Stored latent not usable ({exc.message}); inverting instead", None)
            return None
        raise
    return session if session_fits(session, job) else None


def invert_layer(client, job: DragJob, report: Reporter, cancel_event):
    layer, region = job.layer, job.region
    report(f"Inverting the layer ({job.settings.inversion_preset})…", 0.0)

    def on_progress(progress) -> None:
        fraction = progress.step / progress.total_steps if progress.total_steps else 0.0
        report(f"Inverting ({progress.stage}): step {progress.step}/{progress.total_steps}",
               INVERSION_SHARE * min(fraction, 1.0))

    outcome = client.create_session_from_image(
        RawImage(layer.width, layer.height, layer.rgba, "RGBA8"),
        selection=region.box if region else None,
        mask=RawImage(layer.width, layer.height, region.mask, "GRAY8") if region else None,
        preset=job.settings.inversion_preset, model=job.settings.model or None, on_progress=on_progress,
        cancel_event=cancel_event, result_format="raw")
    return outcome.session


def checked_pixels(image, width: int, height: int, what: str) -> LayerPixels:
    if image is None or not image.is_raw or image.pixel_format != "RGBA8":
        kind = "nothing" if image is None else (image.mime_type or image.pixel_format or "an unknown format")
        raise JobError(f"the engine returned {kind} for the {what}, expected raw RGBA8 pixels")
    if (image.width, image.height) != (width, height):
        raise JobError(f"the engine returned a {image.width}×{image.height} {what}, expected {width}×{height}")
    return LayerPixels(width, height, image.data)


def run_drag_job(client, job: DragJob, report: Reporter, cancel_event=None, finish_event=None,
                 preview_every: int = 0) -> JobResult:
    """Resume or invert, drag every pair, and return the new layer pixels with the latent to store.

    Setting `cancel_event` discards the job (EngineError "CANCELLED"); setting `finish_event` while the
    drag runs stops it where it is and keeps that as the result (the engine's FinishDrag). With
    `preview_every` > 0 every that many steps' report carries a preview frame."""
    session = resume_session(client, job, report)
    inverted = session is None
    if inverted:
        session = invert_layer(client, job, report, cancel_event)
        if not session_fits(session, job):
            raise JobError(
                f"the engine's session {session.name} ({session.model}, {session.layer_width}×"
                f"{session.layer_height} layer, region {session.region_box}) does not match the layer "
                f"({job.layer.width}×{job.layer.height}, model {job.settings.model or 'default'}, "
                f"editable {job.region.box if job.region else 'everywhere'})")
    start = INVERSION_SHARE if inverted else 0.0
    noun = "point" if len(job.pairs) == 1 else "points"
    report(f"Dragging {len(job.pairs)} {noun} ({job.settings.method})…", start)

    def on_progress(progress) -> None:
        fraction = progress.step / progress.max_steps if progress.max_steps else 0.0
        report(f"Dragging: step {progress.step}/{progress.max_steps}, {progress.max_distance:.1f} px to go",
               start + (1.0 - start) * min(fraction, 1.0), finishable=True,
               preview=progress.preview.data if progress.preview is not None else None)

    layer, region = job.layer, job.region
    outcome = client.drag(
        session.name, [pair.handle for pair in job.pairs], [pair.target for pair in job.pairs],
        mask=RawImage(layer.width, layer.height, region.mask, "GRAY8") if region else None,
        method=job.settings.method, max_steps=job.settings.max_steps, preview_every=preview_every,
        on_progress=on_progress, cancel_event=cancel_event, finish_event=finish_event,
        coordinates="layer" if session.kind == "image" else "model", expected_revision=session.revision,
        result_format="raw")
    image = outcome.composite if session.kind == "image" else outcome.image
    pixels = checked_pixels(image, layer.width, layer.height, "drag result")
    stored = _stored_from(client, session.name, outcome.session.revision, pixels.rgba, outcome.session)
    if outcome.finished_early:
        state = "finished early"
    else:
        state = "converged" if outcome.converged else "step limit reached"
    summary = f"{outcome.steps} steps, {state}, {outcome.seconds:.1f} s"
    return JobResult(layer=pixels, stored=stored, summary=summary, inverted=inverted,
                     finished_early=outcome.finished_early)


def run_sample_job(client, seed: int, psi: float, model: str = "") -> JobResult:
    """A new image from a seed at model resolution, with its latent so it can be dragged directly."""
    outcome = client.create_session_from_seed(seed, psi=psi, model=model or None, result_format="raw")
    session = outcome.session
    pixels = checked_pixels(outcome.image, session.resolution, session.resolution, "sample")
    stored = _stored_from(client, session.name, session.revision, pixels.rgba, session)
    return JobResult(layer=pixels, stored=stored, summary=f"seed {seed}, psi {psi:g}")
