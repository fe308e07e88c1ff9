"""Public model loading: `load_model` (NVIDIA-style, returns G) and `load_model_file` (G, D, metadata).

The file kind is sniffed from its first bytes, never from the extension, so a renamed file cannot
steer which reader runs: safetensors → our native reader, pickle → the restricted NVIDIA-pickle reader.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import torch

from .errors import DefaultModelMissingError, ModelFileError
from .model_info import LoadedModel, ModelInfo
from .stylegan2 import Generator

__all__ = ["DEFAULT_MODEL_PATH", "LoadedModel", "ModelInfo", "detect_format", "load_model", "load_model_file",
           "read_model_info", "resolve_device"]

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "default" / "faces64.safetensors"
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' → cuda if available, else mps, else cpu; explicit names are checked for availability."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be one of {DEVICE_CHOICES} (or e.g. 'cuda:1'), got {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but CUDA is not available")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was requested but MPS is not available")
    return resolved


def _resolve_path(path: str | os.PathLike | None) -> Path:
    if path is None:
        if not DEFAULT_MODEL_PATH.is_file():
            raise DefaultModelMissingError(
                f"the bundled default model is not trained yet (expected {DEFAULT_MODEL_PATH}); "
                "pass a model file instead")
        return DEFAULT_MODEL_PATH
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    return path


def detect_format(path: str | os.PathLike) -> str:
    """'safetensors' or 'pickle' from the file's first bytes; anything else is refused."""
    with open(path, "rb") as f:
        head = f.read(10)
    if len(head) >= 10:
        (header_len,) = struct.unpack("<Q", head[:8])
        if 2 <= header_len <= os.path.getsize(path) - 8 and head[8:9] == b"{":
            return "safetensors"
    if head[:1] == b"\x80" and len(head) >= 2 and 2 <= head[1] <= 5:
        return "pickle"
    if head[:4] == b"PK\x03\x04":
        raise ModelFileError(f"{path}: this is a zip archive (a torch.save checkpoint?), not a network pickle "
                             "or a latentdrag .safetensors file")
    raise ModelFileError(f"{path}: not a recognised model file (expected a latentdrag .safetensors file or an "
                         "NVIDIA StyleGAN2 network pickle, protocol 2 or newer)")


def load_model_file(path: str | os.PathLike | None = None, device: str | torch.device = "auto") -> LoadedModel:
    """Load G (eval mode, gradients off), D when present, and metadata. None = the bundled default."""
    path = _resolve_path(path)
    target = resolve_device(device)
    if detect_format(path) == "safetensors":
        from .native import load_native
        return load_native(path, device=target)
    from .nvidia_pickle import load_nvidia_pickle
    return load_nvidia_pickle(path, device=target)


def load_model(path: str | os.PathLike | None = None, device: str | torch.device = "auto") -> Generator:
    """NVIDIA-style entry point: just the generator (`G.mapping`, `G.synthesis`, `G(z, c)`)."""
    return load_model_file(path, device).G


def read_model_info(path: str | os.PathLike | None = None) -> ModelInfo:
    """Metadata for listings: header-only for native files; pickles are parsed in full but nothing is built."""
    path = _resolve_path(path)
    if detect_format(path) == "safetensors":
        from .native import read_native_info
        return read_native_info(path)
    from .nvidia_pickle import read_nvidia_pickle_info
    return read_nvidia_pickle_info(path)
