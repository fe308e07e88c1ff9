"""Files for latent-space work: the per-model principal-direction cache, saved user directions and
latent files. Everything is stored as safetensors (or read from `.npy`/`.npz` with pickling off), so a
file received from someone else can never run code.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.models.interface import EditableGenerator

from .latent_ops import Direction, Directions, principal_directions

FORMAT_VERSION = 1
_DIRECTIONS_KEY = "latentdrag_directions"
_DIRECTION_KEY = "latentdrag_direction"
_LATENT_KEY = "ws"
_MAX_LATENT_FILE_BYTES = 64 * 1024 * 1024
CACHE_DIR_ENV = "LATENTDRAG_DIRECTIONS_CACHE"


class LatentFileError(ValueError):
    """A direction or latent file that cannot be used, with the reason."""


def file_sha256(path: str | os.PathLike) -> str:
    """Content hash of a model file: the cache key, so a renamed or moved model still hits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """`$LATENTDRAG_DIRECTIONS_CACHE`, else `$XDG_CACHE_HOME/latentdrag/directions` (~/.cache by default)."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "latentdrag" / "directions"


def _save_atomically(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    """Write next to the target and rename, so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().float().cpu().contiguous() for k, v in tensors.items()}, tmp, metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_safetensors(path: Path, meta_key: str, what: str) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        tensors = load_file(path)
        with open(path, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(header_len))
        meta = json.loads(header.get("__metadata__", {})[meta_key])
    except (OSError, SafetensorError, ValueError, KeyError, TypeError) as exc:
        raise LatentFileError(f"{path}: not a latentdrag {what} file ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise LatentFileError(f"{path}: unsupported format_version {meta.get('format_version')!r}")
    return tensors, meta


class DirectionCache:
    """Principal directions computed once per model, keyed by the model file's SHA-256 and the
    sampling settings (n_samples, seed), all of which are recorded in the file and checked on load."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def path_for(self, model_sha256: str, n_samples: int, seed: int) -> Path:
        return self.root / f"{model_sha256}-n{n_samples}-s{seed}.safetensors"

    def load(self, model_sha256: str, n_samples: int, seed: int) -> Directions | None:
        """The cached directions, or None when absent, unreadable or recorded for other settings."""
        path = self.path_for(model_sha256, n_samples, seed)
        if not path.is_file():
            return None
        try:
            tensors, meta = _read_safetensors(path, _DIRECTIONS_KEY, "directions cache")
        except LatentFileError:
            return None
        expected = {"model_sha256": model_sha256, "n_samples": n_samples, "seed": seed}
        if any(meta.get(k) != v for k, v in expected.items()) or set(tensors) != {"vectors", "stds", "mean"}:
            return None
        return Directions(vectors=tensors["vectors"], stds=tensors["stds"], mean=tensors["mean"],
                          n_samples=n_samples, seed=seed)

    def save(self, directions: Directions, model_sha256: str) -> Path:
        path = self.path_for(model_sha256, directions.n_samples, directions.seed)
        meta = {"format_version": FORMAT_VERSION, "model_sha256": model_sha256,
                "n_samples": directions.n_samples, "seed": directions.seed}
        _save_atomically({"vectors": directions.vectors, "stds": directions.stds, "mean": directions.mean},
                         {_DIRECTIONS_KEY: json.dumps(meta)}, path)
        return path

    def get_or_compute(self, generator: EditableGenerator, model_sha256: str, n_samples: int = 20_000,
                       seed: int = 0) -> Directions:
        cached = self.load(model_sha256, n_samples, seed)
        if cached is not None:
            return cached
        directions = principal_directions(generator, n_samples=n_samples, seed=seed)
        self.save(directions, model_sha256)
        return directions


def model_directions(generator: EditableGenerator, model_path: str | os.PathLike, n_samples: int = 20_000,
                     seed: int = 0, cache_dir: str | os.PathLike | None = None) -> Directions:
    """Principal directions of the model loaded from `model_path`, from the cache when present."""
    return DirectionCache(cache_dir).get_or_compute(generator, file_sha256(model_path), n_samples, seed)


def save_direction(path: str | os.PathLike, direction: Direction) -> None:
    """Save a direction (e.g. from `direction_from_latents`) for reuse on the same model."""
    meta = {"format_version": FORMAT_VERSION, "name": direction.name}
    _save_atomically({"offset": direction.offset}, {_DIRECTION_KEY: json.dumps(meta)}, Path(path))


def load_direction(path: str | os.PathLike) -> Direction:
    tensors, meta = _read_safetensors(Path(path), _DIRECTION_KEY, "direction")
    offset = tensors.get("offset")
    if offset is None or offset.ndim not in (1, 2) or not torch.isfinite(offset).all():
        raise LatentFileError(f"{path}: 'offset' must be a finite [w_dim] or [num_ws, w_dim] tensor")
    return Direction(offset=offset, name=str(meta.get("name", "")))


def save_latent(path: str | os.PathLike, ws: torch.Tensor) -> None:
    """Save ws `[1, num_ws, w_dim]` as `.npy` (readable by any numpy tool) or, for any other suffix,
    as safetensors with the tensor named "ws"."""
    path = Path(path)
    array = ws.detach().float().cpu()
    if path.suffix.lower() == ".npy":
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, array.numpy(), allow_pickle=False)
    else:
        _save_atomically({_LATENT_KEY: array}, {}, path)


def load_latent(path: str | os.PathLike, num_ws: int, w_dim: int) -> torch.Tensor:
    """Read a latent file as ws `[1, num_ws, w_dim]`, recognised by content: `.npy`, `.npz` (array
    "ws" or "w", or its only array) or safetensors (tensor "ws"). A single w `[w_dim]` is broadcast to
    every row, as the mapping network does."""
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_LATENT_FILE_BYTES:
            raise LatentFileError(f"{path}: larger than {_MAX_LATENT_FILE_BYTES >> 20} MiB; not a latent")
        with open(path, "rb") as f:
            magic = f.read(8)
        if magic.startswith(b"\x93NUMPY"):
            array = np.load(path, allow_pickle=False)
        elif magic.startswith(b"PK"):
            with np.load(path, allow_pickle=False) as archive:
                preferred = [n for n in ("ws", "w") if n in archive.files]
                if not preferred and len(archive.files) != 1:
                    raise LatentFileError(f"{path}: .npz holds {archive.files}; name the latent 'ws'")
                array = archive[(preferred or archive.files)[0]]
        else:
            tensors = load_file(path)
            if _LATENT_KEY not in tensors:
                raise LatentFileError(f"{path}: safetensors file has no tensor named 'ws'")
            array = tensors[_LATENT_KEY].numpy()
    except (OSError, SafetensorError, ValueError) as exc:
        if isinstance(exc, LatentFileError):
            raise
        raise LatentFileError(f"{path}: not a latent file (.npy, .npz or safetensors): {exc}") from exc
    ws = torch.as_tensor(np.asarray(array, dtype=np.float32))
    if ws.shape == (w_dim,):
        ws = ws.expand(num_ws, w_dim)
    if ws.shape == (num_ws, w_dim):
        ws = ws.unsqueeze(0)
    if ws.shape != (1, num_ws, w_dim):
        raise LatentFileError(f"{path}: latent has shape {list(ws.shape)}; this model needs "
                              f"[1, {num_ws}, {w_dim}], [{num_ws}, {w_dim}] or [{w_dim}]")
    if not torch.isfinite(ws).all():
        raise LatentFileError(f"{path}: latent contains NaN or infinite values")
    return ws.clone()
