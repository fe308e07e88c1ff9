"""Plain values the client returns and accepts, so callers never handle protobuf messages.

Only the standard library is used here: the client runs inside Krita and GIMP.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

PointXY = Tuple[float, float]
BoxXYWH = Tuple[int, int, int, int]


@dataclass(frozen=True)
class RawImage:
    """Raw pixels to send: row-major, top row first, no row padding, straight alpha.

    `pixel_format` is "RGBA8", "RGB8" or "GRAY8".
    """
    width: int
    height: int
    data: bytes
    pixel_format: str = "RGBA8"


@dataclass(frozen=True)
class ImageData:
    """An image from the engine: encoded (`mime_type` "image/png" / "image/jpeg") or raw
    (`mime_type` "" and `pixel_format` "RGBA8")."""
    data: bytes
    mime_type: str
    width: int
    height: int
    pixel_format: str = ""

    @property
    def is_raw(self) -> bool:
        return not self.mime_type


@dataclass(frozen=True)
class ServerInfo:
    version: str
    device: str
    serving: bool
    queued_jobs: int
    busy: bool
    session_count: int
    default_model: str
    limits: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    display_name: str
    architecture: str
    resolution: int
    num_ws: int
    w_dim: int
    has_discriminator: bool
    license: str
    description: str
    provenance: str
    is_default: bool
    loaded: bool


@dataclass(frozen=True)
class RevisionInfo:
    id: int
    description: str
    create_time_unix_ms: int


@dataclass(frozen=True)
class SessionInfo:
    """A session on the engine. `kind` is "seed", "latent" or "image"; `region_box` is (x, y, w, h) in
    layer pixels for image sessions, else None."""
    name: str
    model: str
    kind: str
    revision: int
    revisions: Tuple[RevisionInfo, ...]
    resolution: int
    layer_width: int
    layer_height: int
    region_box: Optional[BoxXYWH]
    expire_time_unix_ms: int
    busy: bool


@dataclass(frozen=True)
class SessionOutcome:
    """A new or changed session and its image (`composite`: the layer with the render composited back,
    image sessions only). `psnr` and `seconds` are set after an inversion."""
    session: SessionInfo
    image: ImageData
    composite: Optional[ImageData] = None
    psnr: Optional[float] = None
    seconds: Optional[float] = None


@dataclass(frozen=True)
class InversionProgress:
    step: int
    total_steps: int
    stage: str
    loss: float
    preview: Optional[ImageData]


@dataclass(frozen=True)
class DragProgress:
    """One drag step: handle positions in the request's coordinate space, distances in model pixels."""
    step: int
    max_steps: int
    handles: Tuple[PointXY, ...]
    max_distance: float
    mean_distance: float
    preview: Optional[ImageData]


@dataclass(frozen=True)
class DragOutcome:
    """The committed drag result: `session.revision` is the new revision."""
    session: SessionInfo
    image: ImageData
    composite: Optional[ImageData]
    handles: Tuple[PointXY, ...]
    steps: int
    converged: bool
    seconds: float
    finished_early: bool = False  # stopped by `finish_drag` / `finish_event`


@dataclass(frozen=True)
class LatentInfo:
    """What a latent blob from `export_latent` says about itself."""
    model: str
    num_ws: int
    w_dim: int
    truncation_psi: float  # what it was sampled with; 1 when unknown (inverted images)
    region_box: Optional[BoxXYWH]


@dataclass(frozen=True)
class DirectionSetting:
    """One direction slider: principal direction `index` (0 = largest variance), `alpha` standard
    deviations, on `rows` ("all", "coarse", "middle", "fine")."""
    index: int
    alpha: float
    rows: str = "all"


@dataclass(frozen=True)
class LatentEditSpec:
    """Absolute edit settings relative to a base latent, for `EngineClient.render_latent_edit`.

    Applied in the order truncation, style mix, interpolation, directions. `truncation_psi` None keeps ψ.
    Style mix is on when `mix_rows` is set, taking those rows from exactly one of `mix_seed`,
    `mix_session` or `mix_latent` (a blob from `export_latent`). Interpolation is on when one of
    `toward_session` / `toward_latent` is set, moving `toward_t` (0..1) of the way there.
    """
    directions: Tuple[DirectionSetting, ...] = ()
    truncation_psi: Optional[float] = None
    mix_rows: str = ""
    mix_seed: Optional[int] = None
    mix_session: Optional[str] = None
    mix_latent: Optional[bytes] = None
    toward_session: Optional[str] = None
    toward_latent: Optional[bytes] = None
    toward_t: float = 0.0


@dataclass(frozen=True)
class LatentEditOutcome:
    """The render of an edit (nothing committed): `latent` is the edited latent blob when it was asked
    for, `revision` the base revision the edit was applied to."""
    image: ImageData
    composite: Optional[ImageData]
    latent: Optional[bytes]
    revision: int
