"""Limits and settings of a running engine (all configurable from `latentdrag serve`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


@dataclass
class ServiceConfig:
    listen: str = "127.0.0.1:50051"
    device: str = "auto"
    model_path: Path | None = None          # None = the bundled default model
    models_dir: Path | None = None          # extra models offered by ListModels
    token: str | None = None                # bearer token; required for non-loopback addresses
    max_image_side: int = 8192
    max_message_bytes: int = 256 * MIB      # both directions; at least 64 MiB
    max_points: int = 64
    max_sessions: int = 32
    max_session_bytes: int = 4096 * MIB     # layers + per-session generator copies, all sessions together
    session_ttl_s: float = 2 * 3600.0
    max_queued_jobs: int = 4
    max_drag_steps: int = 2000
    max_interpolation_frames: int = 64
    default_drag_steps: int = 500
    direction_samples: int = 20_000
    directions_cache_dir: Path | None = None  # None = ~/.cache/latentdrag/directions
    inversion_overrides: dict = field(default_factory=dict)  # InversionSettings fields (tests: few steps)
    precision: str = "auto"                 # drags and inversions: auto | float32 | bfloat16
    torch_threads: int | None = None        # None = PyTorch's default (one per core)
    thread_pool_size: int = 8
    shutdown_grace_s: float = 5.0
    lock_path: Path | None = None           # single-instance lock; None = derived from the address

    def __post_init__(self) -> None:
        if self.max_message_bytes < 64 * MIB:
            raise ValueError(f"max_message_bytes must be at least 64 MiB, got {self.max_message_bytes}")
        if self.precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision must be auto, float32 or bfloat16, got {self.precision!r}")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch_threads must be at least 1, got {self.torch_threads}")
        for name in ("max_image_side", "max_points", "max_sessions", "max_queued_jobs", "max_drag_steps",
                     "default_drag_steps", "thread_pool_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
