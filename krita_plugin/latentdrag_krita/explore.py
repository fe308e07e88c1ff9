"""The Explore part of the docker without Krita: slider state → engine edit, result layer names, and the
latest-wins, debounced hand-over of preview requests to the preview worker.

Slider values are absolute settings relative to the explored layer's latent (the *base*): moving every
slider back to 0 shows the base again, however many previews were rendered in between.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass
from typing import Optional

DEFAULT_DIRECTION_COUNT = 5
MAX_DIRECTION_COUNT = 10
SIGMA_LIMIT = 3.0  # sliders run from -3σ to +3σ
SLIDER_STEPS_PER_SIGMA = 10  # QSlider positions are integers: 0.1σ per step
PSI_LIMITS = (0.0, 1.5)
MAX_FRAMES = 32
ROW_CHOICES = {"All rows": "all", "Coarse (pose, shape)": "coarse", "Middle (features)": "middle",
               "Fine (colour, texture)": "fine"}
MIX_ROW_CHOICES = {"Coarse (pose, shape)": "coarse", "Middle (features)": "middle",
                   "Fine (colour, texture)": "fine"}
EXPLORE_LAYER_PREFIX = "Latent Explore"
PREVIEW_QUIET_SECONDS = 0.12  # a preview is requested once the sliders rested this long


def alpha_from_slider(position: int) -> float:
    """Slider position → strength in standard deviations."""
    return position / SLIDER_STEPS_PER_SIGMA


def slider_from_alpha(alpha: float) -> int:
    return round(alpha * SLIDER_STEPS_PER_SIGMA)


def _signed(value: float) -> str:
    """"+1.5" / "−0.5" with a real minus sign, as the slider labels show it."""
    return f"{value:+.1f}".replace("-", "−")


def format_alpha(alpha: float) -> str:
    return f"{_signed(alpha)}σ"


@dataclass(frozen=True)
class MixSource:
    """Style mix donor: a seed, or the latent stored with another layer (`layer_name` for the layer name)."""
    rows: str
    seed: Optional[int] = None
    layer_name: str = ""
    latent: Optional[bytes] = None

    def __post_init__(self) -> None:
        if self.rows not in MIX_ROW_CHOICES.values():
            raise ValueError(f"mix rows must be one of {', '.join(MIX_ROW_CHOICES.values())}, got {self.rows!r}")
        if (self.seed is None) == (self.latent is None):
            raise ValueError("a style mix takes its rows from exactly one of a seed or another layer's latent")
        if self.seed is not None and not 0 <= self.seed < 2 ** 32:
            raise ValueError(f"mix seed must be in 0..{2 ** 32 - 1}, got {self.seed}")

    def describe(self) -> str:
        donor = f"seed {self.seed}" if self.seed is not None else f"'{self.layer_name}'"
        return f"{self.rows} from {donor}"


@dataclass(frozen=True)
class TowardLayer:
    """Interpolation a fraction `t` of the way to the latent stored with another layer."""
    layer_name: str
    latent: bytes
    t: float

    def __post_init__(self) -> None:
        if not self.latent:
            raise ValueError(f"the layer '{self.layer_name}' carries no latent to interpolate towards")
        if not (math.isfinite(self.t) and 0.0 <= self.t <= 1.0):
            raise ValueError(f"interpolation t must be in [0, 1], got {self.t}")


@dataclass(frozen=True)
class ExploreState:
    """Every explore control at once. `alphas[i]` is the strength of direction i + 1 ("Direction 1" is the
    engine's principal direction 0, the one of largest variance); `psi` None keeps the base latent's ψ."""
    alphas: tuple = (0.0,) * DEFAULT_DIRECTION_COUNT
    rows: str = "all"
    psi: Optional[float] = None
    mix: Optional[MixSource] = None
    toward: Optional[TowardLayer] = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.alphas) <= MAX_DIRECTION_COUNT:
            raise ValueError(f"direction count must be in 1..{MAX_DIRECTION_COUNT}, got {len(self.alphas)}")
        for number, alpha in enumerate(self.alphas, start=1):
            if not (math.isfinite(alpha) and -SIGMA_LIMIT <= alpha <= SIGMA_LIMIT):
                raise ValueError(f"direction {number} strength must be in ±{SIGMA_LIMIT:g}σ, got {alpha}")
        if self.rows not in ROW_CHOICES.values():
            raise ValueError(f"rows must be one of {', '.join(ROW_CHOICES.values())}, got {self.rows!r}")
        if self.psi is not None and not (math.isfinite(self.psi) and PSI_LIMITS[0] <= self.psi <= PSI_LIMITS[1]):
            raise ValueError(f"ψ must be in {PSI_LIMITS[0]:g}..{PSI_LIMITS[1]:g}, got {self.psi}")

    def with_alpha(self, index: int, alpha: float) -> "ExploreState":
        alphas = list(self.alphas)
        alphas[index] = alpha
        return dataclasses.replace(self, alphas=tuple(alphas))

    def with_direction_count(self, count: int) -> "ExploreState":
        """Fewer or more sliders; the kept ones keep their values, new ones start at 0."""
        return dataclasses.replace(self, alphas=tuple(self.alphas[:count]) + (0.0,) * max(0, count - len(self.alphas)))

    def edit_spec(self, client_module, toward_t: Optional[float] = None):
        """The `LatentEditSpec` for the engine; `toward_t` overrides the interpolation's t (frames)."""
        directions = tuple(client_module.DirectionSetting(index, alpha, self.rows)
                           for index, alpha in enumerate(self.alphas) if alpha != 0)
        mix = self.mix
        toward = self.toward
        return client_module.LatentEditSpec(
            directions=directions, truncation_psi=self.psi,
            mix_rows=mix.rows if mix else "", mix_seed=mix.seed if mix else None,
            mix_latent=mix.latent if mix else None,
            toward_latent=toward.latent if toward else None,
            toward_t=(toward_t if toward_t is not None else toward.t) if toward else 0.0)

    def describe(self) -> str:
        """What the settings do, in the words the layer name uses."""
        parts = [f"direction {number} {format_alpha(alpha)}"
                 for number, alpha in enumerate(self.alphas, start=1) if alpha != 0]
        if parts and self.rows != "all":
            parts[-1] += f" ({self.rows})"
        if self.psi is not None:
            parts.append(f"ψ {self.psi:g}")
        if self.mix is not None:
            parts.append(f"mix {self.mix.describe()}")
        if self.toward is not None and self.toward.t != 0:
            parts.append(f"{self.toward.t:.0%} to '{self.toward.layer_name}'")
        return ", ".join(parts) or "unchanged"


def explore_layer_name(state: ExploreState) -> str:
    """"Latent Explore · direction 2 +1.5σ": the settings in the name let users redo or compare them."""
    return f"{EXPLORE_LAYER_PREFIX} · {state.describe()}"


def frame_times(count: int) -> list[float]:
    """t of `count` evenly spaced frames from the base (t = 0) to the other latent (t = 1) inclusive."""
    if not 2 <= count <= MAX_FRAMES:
        raise ValueError(f"frame count must be in 2..{MAX_FRAMES}, got {count}")
    return [index / (count - 1) for index in range(count)]


def frames_group_name(state: ExploreState, count: int) -> str:
    target = state.toward.layer_name if state.toward else "?"
    return f"{EXPLORE_LAYER_PREFIX} · {count} frames to '{target}'"


def frame_layer_name(number: int, t: float) -> str:
    return f"Frame {number} · t {t:.2f}"


class LatestRequest:
    """Hands slider states from the GUI thread to one preview worker: the latest request wins.

    `submit` never blocks and replaces any request the worker has not taken yet. `take` (worker) waits
    until a request has been pending for `quiet_seconds` without a newer one (debouncing a slider drag),
    then returns it with its ticket. Replies whose ticket is no longer `is_current` are stale: drop them.
    """

    def __init__(self, quiet_seconds: float = PREVIEW_QUIET_SECONDS) -> None:
        self.quiet_seconds = quiet_seconds
        self._condition = threading.Condition()
        self._pending = None  # (ticket, request)
        self._submitted_at = 0.0
        self._ticket = 0
        self._closed = False

    def submit(self, request) -> int:
        with self._condition:
            self._ticket += 1
            self._pending = (self._ticket, request)
            self._submitted_at = time.monotonic()
            self._condition.notify_all()
            return self._ticket

    def take(self):
        """(ticket, request) once the newest request has rested `quiet_seconds`; None after `close`."""
        with self._condition:
            while not self._closed:
                if self._pending is None:
                    self._condition.wait()
                    continue
                rest = self._submitted_at + self.quiet_seconds - time.monotonic()
                if rest > 0:
                    self._condition.wait(rest)
                    continue
                taken, self._pending = self._pending, None
                return taken
            return None

    def invalidate(self) -> None:
        """Drop the pending request and make every reply still in flight stale (e.g. after "Apply")."""
        with self._condition:
            self._ticket += 1
            self._pending = None

    def is_current(self, ticket: int) -> bool:
        with self._condition:
            return ticket == self._ticket

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._pending = None
            self._condition.notify_all()
