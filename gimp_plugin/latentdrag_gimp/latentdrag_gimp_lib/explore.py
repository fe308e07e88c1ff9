"""Latent Drag: Explore… without GIMP: the procedure's arguments as checked settings, the engine edit they
ask for, result layer names, and the conversation with the engine (resume the layer's latent or invert
it, render the edit on it, return pixels plus the edited latent for each new layer).

Every result is the layer's own latent plus the chosen edit (`RenderLatentEdit`): nothing is committed
to a session, so running the procedure twice with the same arguments gives the same layer.
"""
from __future__ import annotations

import dataclasses
import math
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from engine.client import DirectionSetting, EngineError, LatentEditSpec

from .jobs import (DragJob, DragSettings, JobResult, LayerPixels, Reporter, checked_pixels, invert_layer,
                   resume_session)
from .latent_parasite import StoredLatent, pixels_digest
from .selection import LayerRegion

OPERATIONS = {"direction": "Direction", "style-mix": "Style mix", "truncation": "Truncation",
              "interpolate": "Interpolate"}
ROWS = {"all": "All rows", "coarse": "Coarse (pose, shape)", "middle": "Middle (features)",
        "fine": "Fine (colour, texture)"}
# The procedure's arguments each operation reads (the others are greyed out in the dialog).
OPERATION_ARGUMENTS = {"direction": ("direction", "strength", "rows"), "style-mix": ("rows", "mix-seed", "other-layer"),
                       "truncation": ("truncation-psi",), "interpolate": ("other-layer", "t", "frames")}
MAX_DIRECTION = 64
STRENGTH_LIMIT = 10.0  # σ; beyond ±3σ images already leave what the model saw in training
PSI_LIMITS = (0.0, 1.5)
MAX_FRAMES = 32
LAYER_PREFIX = "Latent Explore"


class ExploreArgumentError(ValueError):
    """An argument the caller must fix (CALLING_ERROR); the message names the argument."""


@dataclass(frozen=True)
class ExploreSettings:
    """The procedure's arguments. `direction` counts from 1 (Direction 1 = the engine's principal direction
    0, largest variance); `frames` 0 = one layer at `t`, N ≥ 2 = N interpolation frames as layers."""
    operation: str
    direction: int = 1
    strength: float = 1.0
    rows: str = "all"
    truncation_psi: float = 0.7
    mix_seed: int = 0
    t: float = 0.5
    frames: int = 0
    model: str = ""
    inversion_preset: str = "fast"

    def __post_init__(self) -> None:
        def refuse(argument: str, reason: str) -> None:
            raise ExploreArgumentError(f"{argument}: {reason}")

        if self.operation not in OPERATIONS:
            refuse("operation", f"must be one of {', '.join(OPERATIONS)}, got {self.operation!r}")
        if not 1 <= self.direction <= MAX_DIRECTION:
            refuse("direction", f"must be in 1..{MAX_DIRECTION}, got {self.direction}")
        if not (math.isfinite(self.strength) and abs(self.strength) <= STRENGTH_LIMIT):
            refuse("strength", f"must be within ±{STRENGTH_LIMIT:g}σ, got {self.strength}")
        if self.rows not in ROWS:
            refuse("rows", f"must be one of {', '.join(ROWS)}, got {self.rows!r}")
        if not (math.isfinite(self.truncation_psi) and PSI_LIMITS[0] <= self.truncation_psi <= PSI_LIMITS[1]):
            refuse("truncation-psi", f"must be in {PSI_LIMITS[0]:g}..{PSI_LIMITS[1]:g}, got {self.truncation_psi}")
        if not 0 <= self.mix_seed < 2 ** 32:
            refuse("mix-seed", f"must be in 0..{2 ** 32 - 1}, got {self.mix_seed}")
        if not (math.isfinite(self.t) and 0 <= self.t <= 1):
            refuse("t", f"must be in [0, 1], got {self.t}")
        if self.frames == 1 or not 0 <= self.frames <= MAX_FRAMES:
            refuse("frames", f"must be 0 (one layer at t) or 2..{MAX_FRAMES}, got {self.frames}")
        if self.frames and self.operation != "interpolate":
            refuse("frames", f"frames are for the interpolate operation, not {self.operation}")

    @property
    def needs_other_layer(self) -> bool:
        return self.operation == "interpolate"

    def frame_times(self) -> list[float]:
        """The t of every layer to make: just `t`, or `frames` evenly spaced from 0 to 1 inclusive."""
        if not self.frames:
            return [self.t]
        return [index / (self.frames - 1) for index in range(self.frames)]

    def edit_spec(self, other_latent: Optional[bytes], t: float) -> LatentEditSpec:
        """The engine edit for this operation; `other_latent` is the other layer's latent (mix donor or
        interpolation target), None to mix from `mix_seed`."""
        if self.operation == "direction":
            return LatentEditSpec(directions=(DirectionSetting(self.direction - 1, self.strength, self.rows),))
        if self.operation == "truncation":
            return LatentEditSpec(truncation_psi=self.truncation_psi)
        if self.operation == "style-mix":
            if other_latent is not None:
                return LatentEditSpec(mix_rows=self.rows, mix_latent=other_latent)
            return LatentEditSpec(mix_rows=self.rows, mix_seed=self.mix_seed)
        if other_latent is None:
            raise ExploreArgumentError("other-layer: interpolate needs another layer that carries a latent "
                                       "(a Latent Drag result or sample)")
        return LatentEditSpec(toward_latent=other_latent, toward_t=t)

    def layer_name(self, other_name: str, t: float) -> str:
        """"Latent Explore · direction 2 +1.5σ" and the like: the arguments are readable in the stack."""
        if self.operation == "direction":
            what = f"direction {self.direction} {self.strength:+.1f}σ".replace("-", "−")
            if self.rows != "all":
                what += f" ({self.rows})"
        elif self.operation == "truncation":
            what = f"ψ {self.truncation_psi:g}"
        elif self.operation == "style-mix":
            donor = f"'{other_name}'" if other_name else f"seed {self.mix_seed}"
            what = f"mix {self.rows} from {donor}"
        else:
            what = f"t {t:.2f} to '{other_name}'"
        return f"{LAYER_PREFIX} · {what}"


@dataclass(frozen=True)
class ExploreJob:
    layer: LayerPixels
    region: Optional[LayerRegion]  # the selection; None = the whole layer
    settings: ExploreSettings
    stored: Optional[StoredLatent]  # the layer's own latent parasite
    other: Optional[StoredLatent] = None  # the other layer's latent parasite
    other_name: str = ""


@dataclass(frozen=True)
class ExploreResult:
    layers: list  # [(name, JobResult)], bottom first
    inverted: bool


@dataclass(frozen=True)
class OpenSession:
    """The engine session an explore renders on: the layer's stored one, resumed, or one made for it."""
    session: object  # engine.client.SessionInfo
    inverted: bool
    owned: bool  # made for this explore: delete it when done


def open_session(client, job: ExploreJob, report: Reporter, cancel_event=None) -> OpenSession:
    """Resume the layer's latent, or invert the layer when it has none usable."""
    settings = job.settings
    as_drag = DragJob(layer=job.layer, pairs=[], region=job.region, stored=job.stored,
                      settings=DragSettings(inversion_preset=settings.inversion_preset, model=settings.model))
    session = resume_session(client, as_drag, report)
    inverted = session is None
    if inverted:
        session = invert_layer(client, as_drag, report, cancel_event)
    return OpenSession(session, inverted, owned=job.stored is None or session.name != job.stored.session)


def close_session(client, opened: OpenSession) -> None:
    if opened.owned:
        client.delete_session(opened.session.name)


def run_explore_job(client, job: ExploreJob, report: Reporter, cancel_event=None,
                    opened: Optional[OpenSession] = None) -> ExploreResult:
    """Resume the layer's latent (or invert the layer), render the edit for every requested t and return
    the new layers' pixels with their latents. `opened`: a session already open for this layer (the
    dialog's preview), used instead of opening one. Sessions made only for this run are deleted."""
    settings = job.settings
    if settings.needs_other_layer and job.other is None:
        raise ExploreArgumentError("other-layer: interpolate needs another layer that carries a latent "
                                   "(a Latent Drag result or sample)")
    opened = opened or open_session(client, job, report, cancel_event)
    try:
        other_latent = job.other.exported_latent if job.other is not None else None
        layers = []
        times = settings.frame_times()
        for number, t in enumerate(times, start=1):
            report(f"Rendering {OPERATIONS[settings.operation].lower()} ({number}/{len(times)})…",
                   (number - 1) / len(times))
            layers.append((settings.layer_name(job.other_name, t),
                           _render(client, opened.session, job, settings.edit_spec(other_latent, t))))
    finally:
        close_session(client, opened)
    return ExploreResult(layers, opened.inverted)


def render_preview(client, opened: OpenSession, settings: ExploreSettings,
                   other: Optional[StoredLatent]) -> bytes:
    """PNG of the edit at model resolution (the selection's box for a photo layer), nothing committed:
    what the dialog shows while the arguments change. Interpolation frames preview at `t`."""
    spec = settings.edit_spec(other.exported_latent if other is not None else None, settings.t)
    outcome = client.render_latent_edit(opened.session.name, spec, revision=opened.session.revision,
                                        result_format="png")
    return outcome.image.data


def _render(client, session, job: ExploreJob, spec: LatentEditSpec) -> JobResult:
    image_session = session.kind == "image"
    outcome = client.render_latent_edit(session.name, spec, revision=session.revision, composite=image_session,
                                        include_latent=True, result_format="raw")
    pixels = checked_pixels(outcome.composite if image_session else outcome.image, job.layer.width,
                             job.layer.height, "explore result")
    stored = StoredLatent(exported_latent=outcome.latent, pixels_sha256=pixels_digest(pixels.rgba),
                          model=session.model, kind=session.kind)
    return JobResult(layer=pixels, stored=stored, summary="")


class ExplorePreviewer:
    """The Explore dialog's live preview, off the GIMP thread: `request` the current arguments as often
    as they change (never blocks); one worker renders the newest once they have rested `quiet_seconds`
    (a spin button held down is one render, not twenty) and hands each picture or message to
    `on_update(png or None, text)`, from the worker thread.

    The layer's session is opened on the first request (resumed, or the layer inverted, with progress
    text) and again only when the engine, model or inversion preset changes. `finish(run)` stops the
    worker (cancelling an inversion in flight) and returns the open session for the run to reuse when
    it suits the accepted arguments; otherwise a session made for the preview is deleted.
    """

    def __init__(self, connect: Callable[[str], object], job: ExploreJob,
                 on_update: Callable[[Optional[bytes], str], None], quiet_seconds: float = 0.15):
        self._connect, self._job, self._on_update = connect, job, on_update
        self._quiet = quiet_seconds
        self._requests = queue.SimpleQueue()  # (address, settings, other), or _STOP
        self._cancel = threading.Event()
        self._client = None
        self._key = None  # (address, model, inversion preset) of the open session
        self._opened: Optional[OpenSession] = None
        self.renders = 0  # pictures rendered so far (a held spin button must not render each value)
        self._worker = threading.Thread(target=self._run, name="latentdrag-explore-preview", daemon=True)
        self._worker.start()

    def request(self, address: str, settings: ExploreSettings, other: Optional[StoredLatent]) -> None:
        self._requests.put((address, settings, other))

    def finish(self, run: Optional[tuple[str, ExploreSettings]]) -> Optional[OpenSession]:
        """Stop previewing. `run`: the (address, settings) the user accepted, None when cancelled. The
        open session comes back when it suits that run (same engine, model and inversion preset);
        otherwise a session made for the preview is deleted."""
        self._requests.put(_STOP)
        self._cancel.set()
        self._worker.join()
        opened, self._opened = self._opened, None
        try:
            if opened is not None and run is not None and self._key == _session_key(*run):
                return opened
            self._close_quietly(opened)
        finally:
            if self._client is not None:
                self._client.close()
        return None

    def _close_quietly(self, opened: Optional[OpenSession]) -> None:
        """Delete a session the preview made; one on an engine that no longer answers expires there
        (the engine's session TTL) instead of failing the dialog."""
        try:
            if opened is not None:
                close_session(self._client, opened)
        except EngineError:
            pass

    def _next(self):
        """The newest request once none newer has come for `quiet_seconds`; None when stopped."""
        taken = self._requests.get()
        while taken is not _STOP:
            try:
                taken = self._requests.get(timeout=self._quiet)
            except queue.Empty:
                return taken
        return None

    def _run(self) -> None:
        while (taken := self._next()) is not None:
            address, settings, other = taken
            try:
                self._open(address, settings)
                png = render_preview(self._client, self._opened, settings, other)
                self.renders += 1
                self._on_update(png, "")
            except ExploreArgumentError as exc:
                self._on_update(None, str(exc))
            except EngineError as exc:
                if not self._cancel.is_set():
                    self._on_update(None, f"No preview: {exc.message}")
            except Exception as exc:  # keep the dialog usable whatever the preview hits
                self._on_update(None, f"No preview: {type(exc).__name__}: {exc}")

    def _open(self, address: str, settings: ExploreSettings) -> None:
        key = _session_key(address, settings)
        if key == self._key and self._opened is not None:
            return
        self._close_quietly(self._opened)
        self._opened = None
        if self._client is None or self._key[0] != address:  # a client always comes with its key
            if self._client is not None:
                self._client.close()
            self._client = self._connect(address)
        self._key = key
        job = dataclasses.replace(self._job, settings=settings)
        self._opened = open_session(self._client, job, self._progress, self._cancel)

    def _progress(self, text: str, fraction: Optional[float], finishable: bool = False,
                  preview: Optional[bytes] = None) -> None:
        self._on_update(None, f"Preparing the preview: {text}")


_STOP = object()


def _session_key(address: str, settings: ExploreSettings) -> tuple:
    """What the session depends on: a change of any of these needs another session."""
    return address, settings.model, settings.inversion_preset
