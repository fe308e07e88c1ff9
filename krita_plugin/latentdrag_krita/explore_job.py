"""The network side of Explore (worker threads only, no Krita): open an engine session for the layer,
render previews of slider states on its base latent, and render results with their latents.

Nothing here commits a revision: every render is the base latent plus the absolute slider settings
(`RenderLatentEdit`), so the session's base never drifts while the user plays with the sliders.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .explore import ExploreState, frame_times
from .job import (DragSettings, JobProgress, ProgressCallback, check_layer_image, edit_box, open_session)
from .latent_store import Box, LatentRecord
from .pixels import Mask, restrict_to_selection


@dataclass(frozen=True)
class ExploreSource:
    """The explored layer's pixels (straight RGBA U8), its selection and stored latent, read on the GUI
    thread; the same fields a DragJob carries, so the drag flow's session opening (and inversion) serves."""
    settings: DragSettings
    width: int
    height: int
    rgba: bytes
    mask: Optional[Mask] = None
    stored: Optional[LatentRecord] = None

    def __post_init__(self) -> None:
        check_layer_image(self.width, self.height, self.rgba, self.mask)

    @property
    def edit_box(self) -> Box:
        return edit_box(self.width, self.height, self.mask)


@dataclass(frozen=True)
class ExploreSession:
    """An engine session whose current revision is the base latent of the explored layer."""
    name: str
    model: str
    revision: int
    region_box: Optional[Box]
    base_psi: float
    reused_latent: bool


@dataclass(frozen=True)
class ExploreRender:
    rgba: bytes  # the layer image with the edited render composited back
    record: Optional[LatentRecord]  # with an empty fingerprint (the GUI fills it in), when asked for


def open_explore_session(client, client_module, source: ExploreSource, on_progress: ProgressCallback,
                         cancel) -> ExploreSession:
    """Re-attach the layer's stored latent, or invert the layer (as a drag would), and keep the session."""
    on_progress(JobProgress("connecting"))
    session, reused = open_session(client, client_module, source, on_progress, cancel)
    info = client_module.describe_latent(client.export_latent(session.name))
    return ExploreSession(session.name, session.model, session.revision, session.region_box, info.truncation_psi,
                          reused)


def render_state(client, client_module, session: ExploreSession, source: ExploreSource, state: ExploreState,
                 with_latent: bool = False, toward_t: Optional[float] = None) -> ExploreRender:
    """The layer image with `state` applied to the base latent; pixels outside the selection are the
    source's own."""
    outcome = client.render_latent_edit(session.name, state.edit_spec(client_module, toward_t),
                                        revision=session.revision, composite=True, include_latent=with_latent,
                                        result_format="raw")
    composite = outcome.composite
    if composite is None or (composite.width, composite.height) != (source.width, source.height):
        raise client_module.EngineError("INTERNAL", "the engine returned no render at the layer's size")
    rgba = bytes(composite.data)
    if source.mask is not None:
        rgba = restrict_to_selection(source.rgba, rgba, source.mask)
    record = (LatentRecord(session.model, outcome.latent, session.region_box, fingerprint="")
              if with_latent else None)
    return ExploreRender(rgba, record)


def render_frames(client, client_module, session: ExploreSession, source: ExploreSource, state: ExploreState,
                  count: int, cancel) -> list[tuple[float, ExploreRender]]:
    """`count` frames from the base (with the other sliders applied) to the interpolation target."""
    if state.toward is None:
        raise ValueError("choose a layer to interpolate towards first")
    frames = []
    for t in frame_times(count):
        if cancel.is_set():
            raise client_module.EngineError("CANCELLED", "cancelled; no frames were added")
        frames.append((t, render_state(client, client_module, session, source, state, with_latent=True,
                                       toward_t=t)))
    return frames


def close_session(client, client_module, session: ExploreSession) -> None:
    """Delete the engine session; a failure is harmless (the engine expires sessions by itself)."""
    try:
        client.delete_session(session.name)
    except client_module.EngineError:
        pass
