"""The models an engine offers: the default one plus every model file in a folder, loaded on first use."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.edit.latent_files import file_sha256
from engine.models.errors import ModelFileError
from engine.models.loading import DEFAULT_MODEL_PATH, LoadedModel, ModelInfo, load_model_file, read_model_info

from .errors import not_found

MODEL_SUFFIXES = (".safetensors", ".pkl")


@dataclass
class ModelEntry:
    name: str                   # models/{id}
    path: Path
    info: ModelInfo
    is_default: bool
    loaded: LoadedModel | None = None
    sha256: str | None = None


def _model_id(path: Path, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-") or "model"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


class ModelRegistry:
    """Lists models from their headers (cheap) and loads weights only when a session needs them."""

    def __init__(self, device: torch.device, default_path: Path | None = None, models_dir: Path | None = None):
        self.device = device
        self._lock = threading.Lock()
        default = Path(default_path) if default_path is not None else DEFAULT_MODEL_PATH
        paths = [default] if default.is_file() or default_path is not None else []
        if models_dir is not None:
            if not Path(models_dir).is_dir():
                raise ModelFileError(f"models folder not found: {models_dir}")
            paths += sorted(p for p in Path(models_dir).iterdir()
                            if p.suffix in MODEL_SUFFIXES and p.is_file() and p.resolve() != default.resolve())
        if not paths:
            raise ModelFileError(f"no model to serve: the bundled default model is not trained yet (expected "
                                 f"{DEFAULT_MODEL_PATH}); pass --model FILE or --models DIR")
        self._entries: dict[str, ModelEntry] = {}
        for index, path in enumerate(paths):
            name = "models/" + _model_id(path, {n.split("/", 1)[1] for n in self._entries})
            self._entries[name] = ModelEntry(name, path, read_model_info(path), is_default=index == 0)
        self.default_name = next(iter(self._entries))

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def entry(self, name: str, field: str = "model") -> ModelEntry:
        """The entry called `name` ("" = the default); NOT_FOUND names the known models."""
        entry = self._entries.get(name or self.default_name)
        if entry is None:
            raise not_found(f"{field}: no model {name!r}; known models: {', '.join(self._entries)}")
        return entry

    def load(self, name: str) -> LoadedModel:
        """The model's networks on the engine's device (loaded once; call from the compute worker)."""
        entry = self.entry(name)
        with self._lock:
            if entry.loaded is None:
                entry.loaded = load_model_file(entry.path, device=self.device)
            return entry.loaded

    def sha256(self, name: str) -> str:
        entry = self.entry(name)
        with self._lock:
            if entry.sha256 is None:
                entry.sha256 = file_sha256(entry.path)
            return entry.sha256
