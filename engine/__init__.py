"""latentdrag engine: StyleGAN generators, drag editing, inversion and the gRPC service.

This package root stays free of heavy imports so that `engine.client` works with only grpcio and
protobuf installed (inside Krita or GIMP); torch is imported on first use of `load_model`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .models.loading import load_model  # noqa: F401

__all__ = ["load_model", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "load_model":
        from .models.loading import load_model
        return load_model
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
